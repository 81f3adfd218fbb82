-- coursebridge schema v1 (SQLite). Times are Unix milliseconds (BIGINT); flags are 0/1 integers,
-- so that one set of queries runs on both engines through sqlx's Any driver.

CREATE TABLE integrations (
    id                TEXT PRIMARY KEY,
    provider          TEXT NOT NULL,
    lms_group         TEXT NOT NULL,
    connector_author  TEXT NOT NULL,
    settings          TEXT NOT NULL DEFAULT '{}',
    active            INTEGER NOT NULL DEFAULT 1,
    created_ms        BIGINT NOT NULL,
    updated_ms        BIGINT NOT NULL,
    deactivated_ms    BIGINT
);

CREATE TABLE credentials (
    client_id       TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    secret_hash     TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    revoked_ms      BIGINT
);
CREATE INDEX credentials_integration ON credentials(integration_id);

CREATE TABLE courses (
    id                INTEGER PRIMARY KEY,
    integration_id    TEXT NOT NULL REFERENCES integrations(id),
    kind              TEXT NOT NULL DEFAULT 'course',
    external_id       TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT,
    image_url         TEXT,
    duration_minutes  BIGINT,
    author            TEXT,
    lang              TEXT,
    launch_url        TEXT,
    modified_at       TEXT,
    subjects          TEXT NOT NULL DEFAULT '[]',
    content_type      TEXT,
    archived          INTEGER NOT NULL DEFAULT 0,
    content_hash      TEXT NOT NULL,
    first_seen_ms     BIGINT NOT NULL,
    last_seen_ms      BIGINT NOT NULL,
    UNIQUE (integration_id, external_id)
);

CREATE TABLE course_activity_ids (
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    activity_id     TEXT NOT NULL,
    course_id       BIGINT NOT NULL REFERENCES courses(id),
    PRIMARY KEY (integration_id, activity_id)
);
CREATE INDEX course_activity_ids_course ON course_activity_ids(course_id);

CREATE TABLE learners (
    id           INTEGER PRIMARY KEY,
    lms_user_id  TEXT UNIQUE,
    email        TEXT,
    name         TEXT,
    created_ms   BIGINT NOT NULL
);

CREATE TABLE learner_identities (
    identity_key  TEXT PRIMARY KEY,
    learner_id    BIGINT NOT NULL REFERENCES learners(id)
);
CREATE INDEX learner_identities_learner ON learner_identities(learner_id);

CREATE TABLE statements (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    raw             TEXT NOT NULL,
    canonical       TEXT NOT NULL,
    stored_ms       BIGINT NOT NULL,
    timestamp_ms    BIGINT NOT NULL,
    verb            TEXT NOT NULL,
    activity_id     TEXT,
    registration    TEXT,
    actor_key       TEXT,
    voided          INTEGER NOT NULL DEFAULT 0,
    voids           TEXT,
    course_id       BIGINT REFERENCES courses(id),
    learner_id      BIGINT REFERENCES learners(id)
);
CREATE INDEX statements_target ON statements(course_id, learner_id);
CREATE INDEX statements_stored ON statements(stored_ms);
CREATE INDEX statements_activity ON statements(activity_id);
CREATE INDEX statements_actor ON statements(actor_key);
CREATE INDEX statements_verb ON statements(verb);
CREATE INDEX statements_registration ON statements(registration);

CREATE TABLE learning_events (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    course_id       BIGINT NOT NULL REFERENCES courses(id),
    learner_id      BIGINT NOT NULL REFERENCES learners(id),
    statement_id    TEXT REFERENCES statements(id),
    kind            TEXT NOT NULL,
    at_ms           BIGINT NOT NULL,
    stored_ms       BIGINT NOT NULL,
    payload         TEXT NOT NULL
);
CREATE INDEX learning_events_target ON learning_events(course_id, learner_id);

CREATE TABLE learner_stats (
    course_id          BIGINT NOT NULL REFERENCES courses(id),
    learner_id         BIGINT NOT NULL REFERENCES learners(id),
    integration_id     TEXT NOT NULL REFERENCES integrations(id),
    progress           REAL NOT NULL,
    completed          INTEGER NOT NULL,
    result             TEXT,
    score              REAL,
    time_spent_ms      BIGINT,
    first_activity_ms  BIGINT,
    last_activity_ms   BIGINT,
    completed_at_ms    BIGINT,
    attempts           INTEGER NOT NULL,
    overridden         INTEGER NOT NULL,
    stats              TEXT NOT NULL,
    state              TEXT NOT NULL,
    updated_ms         BIGINT NOT NULL,
    PRIMARY KEY (course_id, learner_id)
);
CREATE INDEX learner_stats_updated ON learner_stats(updated_ms);
CREATE INDEX learner_stats_learner ON learner_stats(learner_id);

CREATE TABLE learner_attempts (
    course_id       BIGINT NOT NULL REFERENCES courses(id),
    learner_id      BIGINT NOT NULL REFERENCES learners(id),
    number          INTEGER NOT NULL,
    entry           TEXT NOT NULL,
    started_ms      BIGINT NOT NULL,
    completed_ms    BIGINT,
    time_spent_ms   BIGINT,
    score           REAL,
    result          TEXT,
    PRIMARY KEY (course_id, learner_id, number)
);

CREATE TABLE pending (
    statement_id    TEXT PRIMARY KEY REFERENCES statements(id),
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    reason          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    parked_ms       BIGINT NOT NULL
);
CREATE INDEX pending_integration ON pending(integration_id);

CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    started_ms      BIGINT NOT NULL,
    finished_ms     BIGINT,
    outcome         TEXT NOT NULL,
    dry_run         INTEGER NOT NULL DEFAULT 0,
    created         BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    archived        BIGINT NOT NULL DEFAULT 0,
    reactivated     BIGINT NOT NULL DEFAULT 0,
    unchanged       BIGINT NOT NULL DEFAULT 0,
    rejected        BIGINT NOT NULL DEFAULT 0,
    pages           BIGINT NOT NULL DEFAULT 0,
    error           TEXT
);
CREATE INDEX sync_runs_integration ON sync_runs(integration_id, started_ms);

CREATE TABLE sync_locks (
    integration_id  TEXT PRIMARY KEY,
    holder          TEXT NOT NULL,
    expires_ms      BIGINT NOT NULL
);

CREATE TABLE scorm_courses (
    course_id    TEXT PRIMARY KEY,
    title        TEXT,
    lms_course   BIGINT REFERENCES courses(id),
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);

CREATE TABLE scorm_import_jobs (
    token        TEXT PRIMARY KEY,
    course_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    message      TEXT,
    warnings     TEXT NOT NULL DEFAULT '[]',
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);

CREATE TABLE scorm_registrations (
    registration_id       TEXT PRIMARY KEY,
    scorm_course_id       TEXT NOT NULL REFERENCES scorm_courses(course_id),
    learner_id            BIGINT NOT NULL REFERENCES learners(id),
    learner_ref           TEXT NOT NULL,
    postback_user         TEXT NOT NULL,
    postback_secret_hash  TEXT NOT NULL,
    created_ms            BIGINT NOT NULL,
    result                TEXT,
    result_ms             BIGINT,
    override              TEXT
);

CREATE TABLE write_lock (
    id  INTEGER PRIMARY KEY,
    n   BIGINT NOT NULL
);
INSERT INTO write_lock (id, n) VALUES (1, 0);
