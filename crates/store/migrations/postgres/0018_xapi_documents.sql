-- coursebridge schema v18: the xAPI Document resources (State, Activity
-- Profile, Agent Profile; docs/xapi-lrs.md). One row per document of an
-- integration; what a resource does not use is '' (an Agent Profile has no
-- activity, an Activity Profile no agent, only State has registrations), so
-- that the key is a primary key on both engines. `agent_key` is the agent's
-- canonical identifier (`xapi_model::LearnerKey`). The ETag is the SHA-1 of
-- the content, kept so that a precondition is checked without hashing.
CREATE TABLE xapi_documents (
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    resource        TEXT NOT NULL,
    activity_id     TEXT NOT NULL,
    agent_key       TEXT NOT NULL,
    registration    TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    content         BYTEA NOT NULL,
    etag            TEXT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    PRIMARY KEY (integration_id, resource, activity_id, agent_key, registration, document_id)
);
