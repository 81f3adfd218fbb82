-- coursebridge schema v14 (SQLite): delivery to the LMS (docs/EVENTS.md).
-- - courses gain `updated_ms` (the last change to the record) and
--   `archived_ms` (when it was archived; NULL while active), for the catalog
--   API's `updated_since` filter and its records;
-- - `outbox_events`: one row per change to a course or a statistic, written
--   in the transaction of the change. `seq` is the feed's order. SQLite has
--   one writer at a time, so the order `seq`s are given in is the order their
--   transactions commit in: a reader never sees 43 before 42. AUTOINCREMENT:
--   a `seq` is never given twice, even once every event is pruned;
-- - `outbox_state`: the outbox's epoch (a random value in every event id, so
--   that two databases' ids never collide at a receiver) and the last `seq`
--   pruned by retention (a feed read from before it answers 410);
-- - webhook subscriptions, their delivery state (`delivered_through`: every
--   event up to it is delivered or filtered out) and lease, and every attempt.
ALTER TABLE courses ADD COLUMN updated_ms BIGINT;
ALTER TABLE courses ADD COLUMN archived_ms BIGINT;
UPDATE courses SET updated_ms = last_seen_ms;
UPDATE courses SET archived_ms = last_seen_ms WHERE archived = 1;
CREATE INDEX courses_updated ON courses(updated_ms, id);

CREATE TABLE outbox_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT NOT NULL,
    integration_id  TEXT NOT NULL,
    course_id       BIGINT,
    learner_id      BIGINT,
    data            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL
);

CREATE TABLE outbox_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    epoch           TEXT NOT NULL,
    last_seq        BIGINT NOT NULL DEFAULT 0,
    pruned_through  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO outbox_state (id, epoch) VALUES (1, lower(hex(randomblob(6))));

CREATE TABLE webhook_subscriptions (
    id                 TEXT PRIMARY KEY,
    url                TEXT NOT NULL,
    event_types        TEXT NOT NULL,
    integration_id     TEXT,
    description        TEXT,
    secret             TEXT NOT NULL,
    enabled            INTEGER NOT NULL DEFAULT 1,
    disabled_reason    TEXT,
    disabled_ms        BIGINT,
    created_ms         BIGINT NOT NULL,
    updated_ms         BIGINT NOT NULL,
    delivered_through  BIGINT NOT NULL,
    failures           INTEGER NOT NULL DEFAULT 0,
    failing_since_ms   BIGINT,
    next_attempt_ms    BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_until_ms     BIGINT,
    -- Bumped by a redelivery: the holder's progress, recorded under the old
    -- epoch, is refused (it stops and releases), while the lease itself stays
    -- held until then, so that no other instance delivers meanwhile.
    lease_epoch        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY,
    subscription_id  TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    attempt          INTEGER NOT NULL,
    at_ms            BIGINT NOT NULL,
    status           INTEGER,
    latency_ms       BIGINT NOT NULL,
    error            TEXT
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts(subscription_id, id);
