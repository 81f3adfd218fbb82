-- coursebridge schema v14 (PostgreSQL): delivery to the LMS (see
-- migrations/sqlite/0014_lms_delivery.sql and docs/EVENTS.md). One
-- difference: PostgreSQL's writers run concurrently, so an id given at insert
-- can commit after a larger one, and a feed read in between would skip it.
-- Events are therefore inserted without a `seq` (their `id` only keeps the
-- order of one transaction's events), and a single sequencer at a time
-- (`Tx::sequence_events`, serialized on `outbox_state`'s row lock) gives
-- `seq`s to what is committed, in `id` order, and commits them at once.
ALTER TABLE courses ADD COLUMN updated_ms BIGINT;
ALTER TABLE courses ADD COLUMN archived_ms BIGINT;
UPDATE courses SET updated_ms = last_seen_ms;
UPDATE courses SET archived_ms = last_seen_ms WHERE archived = 1;
CREATE INDEX courses_updated ON courses(updated_ms, id);

CREATE TABLE outbox_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq             BIGINT UNIQUE,
    event_type      TEXT NOT NULL,
    integration_id  TEXT NOT NULL,
    course_id       BIGINT,
    learner_id      BIGINT,
    data            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL
);
CREATE INDEX outbox_events_unsequenced ON outbox_events(id) WHERE seq IS NULL;

CREATE TABLE outbox_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    epoch           TEXT NOT NULL,
    last_seq        BIGINT NOT NULL DEFAULT 0,
    pruned_through  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO outbox_state (id, epoch) VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 12));

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
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    attempt          INTEGER NOT NULL,
    at_ms            BIGINT NOT NULL,
    status           INTEGER,
    latency_ms       BIGINT NOT NULL,
    error            TEXT
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts(subscription_id, id);
