-- coursebridge schema v15: a registration keeps the learner's first and last
-- name it is created with in SCORM Cloud (API V1's createRegistration
-- requires both; docs/scorm.md "Learner names"). Empty for registrations
-- assigned before v15: their names are resolved again when they are created.
ALTER TABLE scorm_registrations ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE scorm_registrations ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
