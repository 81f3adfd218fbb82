-- coursebridge schema v19: the operators' console (docs/console.md).
-- Operators sign in with a password kept only as a memory-hard hash
-- (Argon2id, PHC string); a session is kept by the SHA-256 of its cookie's
-- token, never the token itself, with the CSRF token its forms carry; every
-- operator action is appended to the audit log.
CREATE TABLE operators (
    username       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    disabled_ms    BIGINT
);
CREATE TABLE operator_sessions (
    token_hash     TEXT PRIMARY KEY,
    username       TEXT NOT NULL REFERENCES operators(username),
    csrf_token     TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    expires_ms     BIGINT NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions(expires_ms);
CREATE TABLE operator_audit (
    id             INTEGER PRIMARY KEY,
    at_ms          BIGINT NOT NULL,
    username       TEXT NOT NULL,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    remote         TEXT NOT NULL
);
-- What a sync run refused, with the reason (at most 1,000 per run, as the
-- run's report keeps): the console shows them with the run.
CREATE TABLE sync_run_rejections (
    run_id         BIGINT NOT NULL REFERENCES sync_runs(id),
    position       BIGINT NOT NULL,
    external_id    TEXT,
    reason         TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
