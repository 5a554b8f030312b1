-- The server's first schema (SQLite). Times are microseconds since the epoch (UTC).
CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    machine_id       TEXT NOT NULL UNIQUE,
    hostname         TEXT NOT NULL,
    os               TEXT NOT NULL DEFAULT '',
    os_version       TEXT NOT NULL DEFAULT '',
    arch             TEXT NOT NULL DEFAULT '',
    agent_version    TEXT NOT NULL DEFAULT '',
    token_hash       TEXT NOT NULL UNIQUE,
    enrolled_at      INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    egress_ip        TEXT NOT NULL DEFAULT '',
    health           TEXT,
    enroll_secret_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hosts_hostname ON hosts (hostname, id);
CREATE INDEX hosts_last_seen ON hosts (last_seen);

CREATE TABLE events (
    host_id  TEXT NOT NULL,
    id       TEXT NOT NULL,
    time     INTEGER NOT NULL,
    category TEXT NOT NULL,
    product  TEXT NOT NULL,
    service  TEXT NOT NULL,
    fields   TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (host_id, id)
) WITHOUT ROWID;
CREATE INDEX events_time ON events (time);

CREATE TABLE findings (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL,
    host_id     TEXT NOT NULL,
    source      TEXT NOT NULL,
    hosts       TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    rule_name   TEXT NOT NULL,
    title       TEXT NOT NULL,
    level       TEXT NOT NULL,
    author      TEXT NOT NULL,
    tags        TEXT NOT NULL,
    time        INTEGER NOT NULL,
    received    INTEGER NOT NULL,
    event_ids   TEXT NOT NULL,
    group_by    TEXT,
    count       INTEGER NOT NULL DEFAULT 0,
    value       REAL,
    correlation TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'new',
    UNIQUE (host_id, id)
);
CREATE INDEX findings_id ON findings (id);
CREATE INDEX findings_host ON findings (host_id, seq);
CREATE INDEX findings_rule ON findings (rule_id, seq);
CREATE INDEX findings_level ON findings (level, seq);
CREATE INDEX findings_time ON findings (time);

-- The hosts a fleet finding names, for the host filter.
CREATE TABLE finding_hosts (
    host_id     TEXT NOT NULL,
    finding_seq INTEGER NOT NULL REFERENCES findings (seq) ON DELETE CASCADE,
    PRIMARY KEY (host_id, finding_seq)
) WITHOUT ROWID;

CREATE TABLE inventory (
    host_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    time     INTEGER NOT NULL,
    items    TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (host_id, kind)
) WITHOUT ROWID;

CREATE TABLE fleet_facts (
    host_id TEXT NOT NULL,
    id      TEXT NOT NULL,
    time    INTEGER NOT NULL,
    facts   TEXT NOT NULL,
    PRIMARY KEY (host_id, id)
) WITHOUT ROWID;
CREATE INDEX fleet_facts_time ON fleet_facts (time);

CREATE TABLE rule_files (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE disabled_builtins (
    rule_id TEXT PRIMARY KEY
);

CREATE TABLE policy_versions (
    version    INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    comment    TEXT NOT NULL DEFAULT '',
    bundle     TEXT NOT NULL
);

CREATE TABLE enroll_secrets (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    revoked_at INTEGER
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    time    INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    remote  TEXT NOT NULL DEFAULT '',
    details TEXT
);
CREATE INDEX audit_time ON audit (time);

CREATE TABLE job_leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL
);
