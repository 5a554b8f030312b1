-- The server's first schema (PostgreSQL). Events are partitioned by day on their time; the
-- server creates the partitions ahead (Maintain) and retention drops whole days.
CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    machine_id       TEXT NOT NULL UNIQUE,
    hostname         TEXT NOT NULL,
    os               TEXT NOT NULL DEFAULT '',
    os_version       TEXT NOT NULL DEFAULT '',
    arch             TEXT NOT NULL DEFAULT '',
    agent_version    TEXT NOT NULL DEFAULT '',
    token_hash       TEXT NOT NULL UNIQUE,
    enrolled_at      TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    egress_ip        TEXT NOT NULL DEFAULT '',
    health           TEXT,
    enroll_secret_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hosts_hostname ON hosts (hostname, id);
CREATE INDEX hosts_last_seen ON hosts (last_seen);

CREATE TABLE events (
    host_id  TEXT NOT NULL,
    id       TEXT NOT NULL,
    time     TIMESTAMPTZ NOT NULL,
    category TEXT NOT NULL,
    product  TEXT NOT NULL,
    service  TEXT NOT NULL,
    fields   TEXT NOT NULL,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (host_id, id, time)
) PARTITION BY RANGE (time);
-- Times outside the daily partitions (far past or future clocks) land here.
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_time ON events (time);

CREATE TABLE findings (
    seq         BIGSERIAL PRIMARY KEY,
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
    time        TIMESTAMPTZ NOT NULL,
    received    TIMESTAMPTZ NOT NULL,
    event_ids   TEXT NOT NULL,
    group_by    TEXT,
    count       INTEGER NOT NULL DEFAULT 0,
    value       DOUBLE PRECISION,
    correlation TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'new',
    UNIQUE (host_id, id)
);
CREATE INDEX findings_id ON findings (id);
CREATE INDEX findings_host ON findings (host_id, seq);
CREATE INDEX findings_rule ON findings (rule_id, seq);
CREATE INDEX findings_level ON findings (level, seq);
CREATE INDEX findings_time ON findings (time);

CREATE TABLE finding_hosts (
    host_id     TEXT NOT NULL,
    finding_seq BIGINT NOT NULL REFERENCES findings (seq) ON DELETE CASCADE,
    PRIMARY KEY (host_id, finding_seq)
);

CREATE TABLE inventory (
    host_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    time     TIMESTAMPTZ NOT NULL,
    items    TEXT NOT NULL,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (host_id, kind)
);

CREATE TABLE fleet_facts (
    host_id TEXT NOT NULL,
    id      TEXT NOT NULL,
    time    TIMESTAMPTZ NOT NULL,
    facts   TEXT NOT NULL,
    PRIMARY KEY (host_id, id)
);
CREATE INDEX fleet_facts_time ON fleet_facts (time);

CREATE TABLE rule_files (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    content    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE disabled_builtins (
    rule_id TEXT PRIMARY KEY
);

CREATE TABLE policy_versions (
    version    BIGINT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    comment    TEXT NOT NULL DEFAULT '',
    bundle     TEXT NOT NULL
);

CREATE TABLE enroll_secrets (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    revoked_at TIMESTAMPTZ
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE audit (
    seq     BIGSERIAL PRIMARY KEY,
    time    TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    remote  TEXT NOT NULL DEFAULT '',
    details TEXT
);
CREATE INDEX audit_time ON audit (time);
