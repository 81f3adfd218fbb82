-- coursebridge schema v4: a hash of the provider's raw course object (and the
-- mapping version), so that a sync recognizes an unchanged course without
-- mapping it again.
ALTER TABLE courses ADD COLUMN source_hash TEXT NOT NULL DEFAULT '';
