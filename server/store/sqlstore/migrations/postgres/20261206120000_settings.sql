-- Server-wide settings (the policy-signing public key replicas must share, ...).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
