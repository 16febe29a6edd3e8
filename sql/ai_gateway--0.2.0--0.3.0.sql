-- ai_gateway 0.2.0 -> 0.3.0: governance that holds on every path (issue 13).
-- Each section below is one change; the fresh install script
-- (ai_gateway--0.3.0.sql) has the same objects, and the regression test
-- upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Audit: records the database refuses are set aside; refusals are audited
------------------------------------------------------------------------------

-- (section: audit)


------------------------------------------------------------------------------
-- Identity: quotas and audit follow the session's login role
------------------------------------------------------------------------------

-- (section: identity)


------------------------------------------------------------------------------
-- Secrets: sealed keys bound to their endpoint, secret headers sealed
------------------------------------------------------------------------------

-- (section: secrets)


------------------------------------------------------------------------------
-- Hooks: run as the role that configured them
------------------------------------------------------------------------------

-- (section: hooks)


------------------------------------------------------------------------------
-- Validation: NULL roles refused, finite prices, limits and weights
------------------------------------------------------------------------------

-- (section: validation)


------------------------------------------------------------------------------
-- Scheduling: fair job queue, per-role queue depth
------------------------------------------------------------------------------

-- (section: scheduling)
-- fair claims (each role's oldest jobs) and the per-role queue depth
CREATE INDEX ON ai_gateway.jobs (role, id) WHERE status IN ('queued', 'running');


------------------------------------------------------------------------------
-- Cache: per-role cap, maximum TTL
------------------------------------------------------------------------------

-- (section: cache)
ALTER TABLE ai_gateway.cache ADD COLUMN stored_by oid;  -- role whose call stored it
CREATE INDEX cache_stored_by ON ai_gateway.cache (stored_by, created_at);
