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
ALTER TABLE statements ADD COLUMN broad BIGINT NOT NULL DEFAULT 0;
UPDATE statements SET broad = 1 WHERE
    (canonical::jsonb #>> '{object,objectType}') IS DISTINCT FROM 'Activity'
    OR ((canonical::jsonb #>> '{actor,objectType}') = 'Group'
        AND jsonb_array_length(COALESCE(canonical::jsonb #> '{actor,member}', '[]'::jsonb)) > 0)
    OR (canonical::jsonb #> '{context,instructor}') IS NOT NULL
    OR (canonical::jsonb #> '{context,team}') IS NOT NULL
    OR (canonical::jsonb #> '{context,contextActivities}') IS NOT NULL
    OR (canonical::jsonb #> '{context,contextAgents}') IS NOT NULL
    OR (canonical::jsonb #> '{context,contextGroups}') IS NOT NULL;
CREATE INDEX statements_broad ON statements (integration_id, seq) WHERE broad = 1;
