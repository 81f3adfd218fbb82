-- coursebridge schema v3: a short hash per mapped course field, so that a sync
-- can name the fields that changed without holding the old course records.
ALTER TABLE courses ADD COLUMN field_hashes TEXT NOT NULL DEFAULT '{}';
