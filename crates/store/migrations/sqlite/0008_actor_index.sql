-- coursebridge schema v8: one index on the statements' actor, in storage
-- order, with their course, instead of one on the actor (the `agent` filter)
-- and one on the resolved course and learner (refolding a learner's
-- statistics). Both were written at a random place for every statement —
-- each statement is some learner's — so under load each cost about one
-- changed page per statement in the commit (a fifth of the write-ahead log
-- each, docs/PERFORMANCE.md). The refold now
-- finds a learner's statements through the identity keys that map to them
-- (a statement's learner is the learner its actor key maps to, and a mapping
-- never changes), tests the course in the index and reads only the rows of
-- that course; the `agent` filter still reads the index in storage order.
DROP INDEX statements_target;
DROP INDEX statements_actor;
CREATE INDEX statements_actor ON statements (actor_key, seq, course_id);
