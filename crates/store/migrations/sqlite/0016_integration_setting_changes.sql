-- coursebridge schema v16 (SQLite): who changed an integration's settings,
-- when, and which keys (`coursebridge-sync configure`, docs/sync.md). Never
-- the values: `keys_set` and `keys_unset` are JSON arrays of setting names
-- (`rules.launch_progress` for a key of the `rules` object).
CREATE TABLE integration_setting_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    changed_ms      BIGINT NOT NULL,
    author          TEXT NOT NULL,
    keys_set        TEXT NOT NULL,
    keys_unset      TEXT NOT NULL
);
CREATE INDEX integration_setting_changes_integration ON integration_setting_changes(integration_id, id);
