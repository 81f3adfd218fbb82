-- coursebridge schema v2: credentials of the LMS (statistics API, overrides,
-- learner mappings, metrics), not tied to one integration. Secrets are hashed.
CREATE TABLE api_clients (
    client_id    TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    revoked_ms   BIGINT
);
