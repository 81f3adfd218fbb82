-- coursebridge schema v12: voiding statements indexed by the statement they
-- void (only they have `voids`), so that a statement arriving after the
-- statement that voids it is stored voided (xAPI 1.0.3 Data 2.3.2: a
-- statement is voided if and only if the LRS holds a voiding statement
-- referring to it, and a voiding statement SHOULD NOT be refused for a
-- target not yet there). Statements stored before this version that arrived
-- after their voiding statement are marked now; `coursebridge-ingest replay`
-- then brings the statistics in line (docs/operations.md).
CREATE INDEX statements_voids ON statements (integration_id, voids) WHERE voids IS NOT NULL;
UPDATE statements SET voided = 1
WHERE voided = 0 AND voids IS NULL
  AND EXISTS (SELECT 1 FROM statements v
              WHERE v.voids = statements.id AND v.integration_id = statements.integration_id);
