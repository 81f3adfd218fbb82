-- coursebridge schema v6: the learning event a statement gives (the facts the
-- statistics rules drew from it, as JSON) is kept on the statement's own row
-- instead of in a learning_events row of its own: one row and two index
-- entries less for every statement on the ingest path (docs/PERFORMANCE.md).
-- learning_events keeps the other events: launches, SCORM results, overrides.
-- NULL: the statement gives no event (voiding, not about a known course and
-- learner yet, …).
ALTER TABLE statements ADD COLUMN event TEXT;
UPDATE statements SET event = e.payload FROM learning_events e WHERE e.statement_id = statements.id;
DELETE FROM learning_events WHERE statement_id IS NOT NULL;
-- Write transactions start with BEGIN IMMEDIATE, which takes SQLite's write
-- lock; the row v1 kept for taking it is not needed.
DROP TABLE write_lock;
