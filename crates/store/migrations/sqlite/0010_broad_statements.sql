-- coursebridge schema v10: statements that the columns alone cannot filter
-- exactly are marked `broad` and indexed by integration and seq. A statement
-- is broad unless its actor is an Agent or a Group without members, its
-- object an Activity, and its context names no instructor, team, context
-- activities, agents or groups (xapi_model::format::is_plain). Queries read
-- the column indexes for the others and look at the broad ones one by one:
-- `related_agents`, `related_activities`, Agent and Group objects, group
-- members, and statements that target another with a StatementRef
-- (docs/xapi-queries.md). Providers' statements are plain: the column costs
-- them no index entry.
ALTER TABLE statements ADD COLUMN broad INTEGER NOT NULL DEFAULT 0;
UPDATE statements SET broad = 1 WHERE
    json_extract(canonical, '$.object.objectType') IS NOT 'Activity'
    OR (json_extract(canonical, '$.actor.objectType') = 'Group'
        AND json_array_length(canonical, '$.actor.member') > 0)
    OR json_type(canonical, '$.context.instructor') IS NOT NULL
    OR json_type(canonical, '$.context.team') IS NOT NULL
    OR json_type(canonical, '$.context.contextActivities') IS NOT NULL
    OR json_type(canonical, '$.context.contextAgents') IS NOT NULL
    OR json_type(canonical, '$.context.contextGroups') IS NOT NULL;
CREATE INDEX statements_broad ON statements (integration_id, seq) WHERE broad = 1;
