-- coursebridge schema v13 (SQLite): a statement's actor is listed in two
-- tables instead of an index on the statements, so that a group's commit no
-- longer writes a page at a random place for every statement. That index was
-- a third of the write-ahead log under load: every statement is some
-- learner's, and each learner's entries sit in a place of their own
-- (docs/PERFORMANCE.md, "Design decisions").
-- - `recent_statement_actors`: every statement with an actor key, listed in
--   the transaction that stores it. It stays small (it is emptied at
--   `store::RECENT_ACTORS_BOUND` entries), so a group's statements share
--   its few pages.
-- - `statement_actor_runs`: what the recent list held when it was emptied,
--   one row per actor (the `seq`s as a JSON array, `first_seq` and
--   `last_seq` the smallest and largest), written by the transaction that
--   found the list full. An actor's runs never overlap: everything listed
--   is newer than everything moved, so their order by `last_seq` is the
--   order of their statements (the `agent` filter reads only as many as a
--   page needs).
-- Every statement with an actor key is in exactly one of the two. The
-- `agent` filter and a learner's refold read both. Entries hold no course: a
-- pending statement's course is set later, on the statement row only.
-- PostgreSQL keeps the index (its writers run concurrently; schema v8).
CREATE TABLE recent_statement_actors (
    actor_key  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (actor_key, seq)
) WITHOUT ROWID;
CREATE TABLE statement_actor_runs (
    actor_key  TEXT NOT NULL,
    last_seq   INTEGER NOT NULL,
    first_seq  INTEGER NOT NULL,
    seqs       TEXT NOT NULL,
    PRIMARY KEY (actor_key, last_seq)
) WITHOUT ROWID;
-- The log stored so far goes to the long list as runs of at most 16,384
-- `seq`s (a range of `seq` each), so that no run of an actor with a long
-- history is larger than a move makes them.
INSERT INTO statement_actor_runs (actor_key, last_seq, first_seq, seqs)
SELECT actor_key, MAX(seq), MIN(seq), json_group_array(seq) FROM statements
WHERE actor_key IS NOT NULL GROUP BY actor_key, seq / 16384;
DROP INDEX statements_actor;
