-- coursebridge schema v16 (PostgreSQL): who changed an integration's
-- settings, when, and which keys (see
-- migrations/sqlite/0016_integration_setting_changes.sql). Never the values.
CREATE TABLE integration_setting_changes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    changed_ms      BIGINT NOT NULL,
    author          TEXT NOT NULL,
    keys_set        TEXT NOT NULL,
    keys_unset      TEXT NOT NULL
);
CREATE INDEX integration_setting_changes_integration ON integration_setting_changes(integration_id, id);
