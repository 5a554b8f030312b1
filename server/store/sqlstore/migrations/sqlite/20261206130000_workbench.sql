-- The analyst's workbench (SQLite): triage columns on findings, comments, suppressions, the
-- forwarding outbox and web sessions. Times are microseconds since the epoch (UTC).
ALTER TABLE findings ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN suppressed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN triaged_at INTEGER;
ALTER TABLE findings ADD COLUMN triaged_by TEXT NOT NULL DEFAULT '';
-- The triage queue reads these instead of the rows: its filter chips count by level and status
-- (findings_chips, in index order, no sort); its host groups come from walking each level's
-- findings newest first (findings_walk) until the page has its hosts.
CREATE INDEX findings_chips ON findings (level, status, time, host_id);
CREATE INDEX findings_walk ON findings (level, seq, status, host_id, time);
-- A finding's history is its audit entries.
CREATE INDEX audit_target ON audit (target, seq);
CREATE INDEX findings_assignee ON findings (assignee) WHERE assignee <> '';

CREATE TABLE finding_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL,
    author     TEXT NOT NULL,
    time       INTEGER NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX finding_comments_finding ON finding_comments (finding_id, id);

CREATE TABLE suppressions (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    rule_id    TEXT NOT NULL DEFAULT '',
    host_id    TEXT NOT NULL DEFAULT '',
    field      TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL,
    finding_id TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX suppressions_expires ON suppressions (expires_at);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    destination  TEXT NOT NULL,
    finding_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    created      INTEGER NOT NULL,
    UNIQUE (destination, finding_id)
);
CREATE INDEX outbox_due ON outbox (destination, next_attempt, id);

CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    method     TEXT NOT NULL,
    remote     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

