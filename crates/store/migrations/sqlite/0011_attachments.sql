-- coursebridge schema v11: statement attachments' raw data (xAPI 1.0.3,
-- multipart/mixed), one row per integration and SHA-2, written in the
-- transaction that stores the statements naming them and served back with
-- them (`attachments=true`). Keyed by integration too: a statement can only
-- bring back the data its own integration sent (docs/xapi-attachments.md).
CREATE TABLE attachments (
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    sha2            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    length          BIGINT NOT NULL,
    content         BLOB NOT NULL,
    stored_ms       BIGINT NOT NULL,
    PRIMARY KEY (integration_id, sha2)
);
