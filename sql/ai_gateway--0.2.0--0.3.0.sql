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

-- Prices and cost limits are finite and in range (NaN compared greater than
-- every number and passed ">= 0").  Rows that break the new checks stop the
-- update with the list of them: only an administrator knows what they meant.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('models %s/%s', provider, model), ', ') INTO bad
      FROM ai_gateway.models
     WHERE NOT (input_usd_per_mtok >= 0 AND input_usd_per_mtok <= 1000000000)
        OR NOT (output_usd_per_mtok >= 0 AND output_usd_per_mtok <= 1000000000);
    SELECT concat_ws(', ', bad, string_agg(format('quotas %s/%s', role, period), ', ')) INTO bad
      FROM ai_gateway.quotas
     WHERE NOT (max_cost_usd >= 0 AND max_cost_usd <= 1000000000000);
    IF bad <> '' THEN
        RAISE EXCEPTION 'ai_gateway 0.3.0 requires finite prices and cost limits; these rows have NaN, infinite or out-of-range values: %', bad
            USING ERRCODE = 'check_violation',
                  HINT = 'Prices must be between 0 and 1000000000 USD per million tokens (NULL: unknown), max_cost_usd between 0 and 1000000000000 (NULL: no limit). Fix these rows, then run ALTER EXTENSION ai_gateway UPDATE again.';
    END IF;
END $$;
ALTER TABLE ai_gateway.models
    DROP CONSTRAINT models_input_usd_per_mtok_check,
    ADD CONSTRAINT models_input_usd_per_mtok_check
        CHECK (input_usd_per_mtok >= 0 AND input_usd_per_mtok <= 1000000000),
    DROP CONSTRAINT models_output_usd_per_mtok_check,
    ADD CONSTRAINT models_output_usd_per_mtok_check
        CHECK (output_usd_per_mtok >= 0 AND output_usd_per_mtok <= 1000000000);
ALTER TABLE ai_gateway.quotas
    DROP CONSTRAINT quotas_max_cost_usd_check,
    ADD CONSTRAINT quotas_max_cost_usd_check
        CHECK (max_cost_usd >= 0 AND max_cost_usd <= 1000000000000);

-- grant_*/revoke_*: a NULL role is an error (22004), never PUBLIC
-- The role a grant names: a role name or regrole text, 'public' for every
-- role.  NULL is an error (22004), never PUBLIC: a role lookup that found
-- nothing must not open a route or provider to everyone.
CREATE FUNCTION ai_gateway.grantee_of(role text, what text) RETURNS regrole
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION '%: the role is NULL', what
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'To grant to every role, pass ''PUBLIC''; a role lookup that found nothing gives NULL.';
    END IF;
    IF lower(role) = 'public' THEN
        RETURN NULL;
    END IF;
    RETURN role::regrole;
END $$;
CREATE OR REPLACE FUNCTION ai_gateway.grant_route(route text, role text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g regrole;
BEGIN
    PERFORM ai_gateway.require_admin();
    IF grant_route.route IS NULL THEN
        RAISE EXCEPTION 'grant_route: the route is NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    g := ai_gateway.grantee_of(grant_route.role, 'grant_route');
    INSERT INTO ai_gateway.route_grants (route, grantee, granted_by)
    VALUES (grant_route.route, g, session_user)
    ON CONFLICT DO NOTHING;
END $$;
CREATE OR REPLACE FUNCTION ai_gateway.revoke_route(route text, role text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g regrole;
BEGIN
    PERFORM ai_gateway.require_admin();
    IF revoke_route.route IS NULL THEN
        RAISE EXCEPTION 'revoke_route: the route is NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    g := ai_gateway.grantee_of(revoke_route.role, 'revoke_route');
    DELETE FROM ai_gateway.route_grants r
     WHERE r.route = revoke_route.route AND r.grantee IS NOT DISTINCT FROM g;
END $$;
CREATE OR REPLACE FUNCTION ai_gateway.grant_provider(provider text, role text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g regrole;
BEGIN
    PERFORM ai_gateway.require_admin();
    IF grant_provider.provider IS NULL THEN
        RAISE EXCEPTION 'grant_provider: the provider is NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    g := ai_gateway.grantee_of(grant_provider.role, 'grant_provider');
    INSERT INTO ai_gateway.provider_grants (provider, grantee, granted_by)
    VALUES (grant_provider.provider, g, session_user)
    ON CONFLICT DO NOTHING;
END $$;
CREATE OR REPLACE FUNCTION ai_gateway.revoke_provider(provider text, role text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g regrole;
BEGIN
    PERFORM ai_gateway.require_admin();
    IF revoke_provider.provider IS NULL THEN
        RAISE EXCEPTION 'revoke_provider: the provider is NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    g := ai_gateway.grantee_of(revoke_provider.role, 'revoke_provider');
    DELETE FROM ai_gateway.provider_grants p
     WHERE p.provider = revoke_provider.provider AND p.grantee IS NOT DISTINCT FROM g;
END $$;


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


------------------------------------------------------------------------------
-- Usability: no rollback to a version that cannot serve
------------------------------------------------------------------------------

-- (section: usability)
CREATE OR REPLACE FUNCTION ai_gateway.rollback_route(route text, version int) RETURNS int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v ai_gateway.route_versions%ROWTYPE;
    n int;
BEGIN
    SELECT * INTO v FROM ai_gateway.route_versions rv
     WHERE rv.route = rollback_route.route AND rv.version = rollback_route.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'route "%" has no version %', route, version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT version, created_at FROM ai_gateway.route_versions WHERE route = ... lists them.';
    END IF;
    IF NOT EXISTS (SELECT FROM jsonb_array_elements(v.targets) e
                    WHERE NOT coalesce((e->>'shadow')::boolean, false)) THEN
        RAISE EXCEPTION 'version % of route "%" has no target to answer calls', version, route
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A rollback to it would leave the route unable to serve any call.',
                  HINT = 'SELECT version, jsonb_array_length(targets) FROM ai_gateway.route_versions WHERE route = ... shows the versions with targets.';
    END IF;
    INSERT INTO ai_gateway.routes AS r (name, strategy, options) VALUES (v.route, v.strategy, v.options)
        ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy, options = excluded.options;
    DELETE FROM ai_gateway.route_targets t WHERE t.route = v.route;
    INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight, shadow, role)
    SELECT v.route, e->>'provider', e->>'model', (e->>'priority')::int, (e->>'weight')::int,
           (e->>'shadow')::boolean, (e->>'role')::name
      FROM jsonb_array_elements(v.targets) e;
    SELECT max(rv.version) INTO n FROM ai_gateway.route_versions rv WHERE rv.route = v.route;
    RETURN n;
END $$;
