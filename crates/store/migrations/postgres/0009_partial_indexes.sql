-- coursebridge schema v9: the registration and activity indexes hold only
-- the statements that have one. The `registration` and `activity` filters
-- ask for a value (`= $n`), which implies it is not NULL, so they read these
-- indexes as before; a statement without a registration (Udemy Business and
-- OpenSesame send none) or whose object is not an activity (a voiding
-- statement) no longer writes an entry into them. The group writer spent
-- some 5 % of its time on the registration entry alone (docs/PERFORMANCE.md).
DROP INDEX statements_registration;
CREATE INDEX statements_registration ON statements (registration) WHERE registration IS NOT NULL;
DROP INDEX statements_activity;
CREATE INDEX statements_activity ON statements (activity_id) WHERE activity_id IS NOT NULL;
