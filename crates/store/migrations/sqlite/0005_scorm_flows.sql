-- coursebridge schema v5: the SCORM Cloud flows (seed 003).
-- A SCORM course belongs to an integration (provider scorm-cloud) and has an
-- LMS course record there; a registration remembers when SCORM Cloud accepted
-- it (NULL: assigned here, to be created remotely at first launch).
ALTER TABLE scorm_courses ADD COLUMN integration_id TEXT REFERENCES integrations(id);
ALTER TABLE scorm_registrations ADD COLUMN remote_created_ms BIGINT;
ALTER TABLE scorm_import_jobs ADD COLUMN title TEXT;
-- One registration per learner and course: an assignment is never duplicated.
CREATE UNIQUE INDEX scorm_registrations_course_learner ON scorm_registrations (scorm_course_id, learner_id);
CREATE INDEX scorm_registrations_result_ms ON scorm_registrations (result_ms);
