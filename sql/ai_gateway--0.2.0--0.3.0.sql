-- ai_gateway 0.2.0 -> 0.3.0: governance that holds on every path (issue 13).
-- Each section below is one change; the fresh install script
-- (ai_gateway--0.3.0.sql) has the same objects, and the regression test
-- upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Audit: records the database refuses are set aside; refusals are audited
------------------------------------------------------------------------------

-- (section: audit)
ALTER TABLE ai_gateway.audit_log ADD COLUMN sqlstate text;
COMMENT ON COLUMN ai_gateway.audit_log.sqlstate IS 'SQLSTATE of a failed or refused call';

CREATE TABLE ai_gateway.audit_rejects (
    id            bigserial PRIMARY KEY,
    ts            timestamptz NOT NULL,
    set_aside_at  timestamptz NOT NULL DEFAULT now(),
    role          name,
    session_role  name,
    sqlstate      text NOT NULL,
    error         text NOT NULL,
    record        text NOT NULL
);
COMMENT ON TABLE ai_gateway.audit_rejects IS 'Audit records the database refused to insert into audit_log (the record as JSON text, the SQLSTATE and error); administrators only';
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_rejects', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_rejects_id_seq', '');
REVOKE ALL ON ai_gateway.audit_rejects, ai_gateway.audit_rejects_id_seq FROM PUBLIC;
GRANT SELECT, DELETE ON ai_gateway.audit_rejects TO ai_gateway_admin;
GRANT USAGE ON SEQUENCE ai_gateway.audit_rejects_id_seq TO ai_gateway_admin;

DROP FUNCTION ai_gateway.audit_stats();
CREATE FUNCTION ai_gateway.audit_stats()
    RETURNS TABLE (enqueued bigint, written bigint, dropped_full bigint, dropped_other_db bigint,
                   waits bigint, queued_bytes bigint, queue_bytes bigint,
                   shadow_queued bigint, shadow_sent bigint, shadow_dropped bigint,
                   set_aside bigint, set_aside_lost bigint, last_set_aside text,
                   refusals_suppressed bigint)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_audit_stats';
COMMENT ON FUNCTION ai_gateway.audit_stats() IS
    'Audit queue counters (records queued, written, dropped: queue full / other database, waits; set aside: refused by the database, lost; refusals suppressed) and shadow jobs';


------------------------------------------------------------------------------
-- Identity: quotas and audit follow the session's login role
------------------------------------------------------------------------------

-- (section: identity)
ALTER TABLE ai_gateway.audit_log ADD COLUMN session_role name DEFAULT session_user;
COMMENT ON COLUMN ai_gateway.audit_log.role IS 'The current role of the call (after SET ROLE, the definer inside SECURITY DEFINER)';
COMMENT ON COLUMN ai_gateway.audit_log.session_role IS 'The session''s login role (session_user) of the call';


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


------------------------------------------------------------------------------
-- Cache: per-role cap, maximum TTL
------------------------------------------------------------------------------

-- (section: cache)
