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

ALTER TABLE ai_gateway.providers ADD COLUMN api_key_env_by regrole;
COMMENT ON TABLE ai_gateway.providers IS
    'AI providers: kind, base URL, encrypted API key (bound to name, kind and base URL origin), options (timeout_ms, connect_timeout_ms, api_version, headers, secret_headers, api_key_env, default_max_tokens, max_embed_batch)';

-- options.api_key_env is a superuser's to set.  Kept for a provider whose
-- last change of api_key_env or of its endpoint config_history records as
-- a superuser's; any other stops working until a superuser sets it again.
ALTER TABLE ai_gateway.providers DISABLE TRIGGER providers_protect_key;
UPDATE ai_gateway.providers p
   SET api_key_env_by = (
       SELECT a.oid::regrole
         FROM (SELECT h.as_role FROM ai_gateway.config_history h
                WHERE h.table_name = 'providers' AND h.new_row ->> 'name' = p.name
                  AND (h.operation = 'INSERT'
                       OR h.old_row -> 'options' -> 'api_key_env' IS DISTINCT FROM h.new_row -> 'options' -> 'api_key_env'
                       OR h.old_row -> 'options' -> 'resource' IS DISTINCT FROM h.new_row -> 'options' -> 'resource'
                       OR h.old_row -> 'base_url' IS DISTINCT FROM h.new_row -> 'base_url'
                       OR h.old_row -> 'kind' IS DISTINCT FROM h.new_row -> 'kind'
                       OR h.old_row -> 'name' IS DISTINCT FROM h.new_row -> 'name')
                ORDER BY h.id DESC LIMIT 1) last
         JOIN pg_catalog.pg_roles a ON a.rolname = last.as_role AND a.rolsuper)
 WHERE p.options ? 'api_key_env';
ALTER TABLE ai_gateway.providers ENABLE TRIGGER providers_protect_key;

-- Bind every 0.2.0 key to its provider's endpoint, and seal secret headers:
-- the trigger does both when a superuser writes the row.
UPDATE ai_gateway.providers SET api_key = api_key
 WHERE api_key_encrypted LIKE 'aigk1:%' OR options ? 'headers';

-- Secret headers are never shown in the configuration history: mask those
-- that 0.2.0 recorded in plain text.
UPDATE ai_gateway.config_history h
   SET old_row = CASE WHEN jsonb_typeof(h.old_row -> 'options' -> 'headers') = 'object'
       THEN jsonb_set(h.old_row, '{options,headers}',
            (SELECT coalesce(jsonb_object_agg(k, CASE WHEN k ~* '(auth|key|token|secret|passw|cookie|credential|signature|session)'
                                                      THEN '"****"' ELSE v END), '{}')
               FROM jsonb_each(h.old_row -> 'options' -> 'headers') e(k, v)))
       ELSE h.old_row END,
       new_row = CASE WHEN jsonb_typeof(h.new_row -> 'options' -> 'headers') = 'object'
       THEN jsonb_set(h.new_row, '{options,headers}',
            (SELECT coalesce(jsonb_object_agg(k, CASE WHEN k ~* '(auth|key|token|secret|passw|cookie|credential|signature|session)'
                                                      THEN '"****"' ELSE v END), '{}')
               FROM jsonb_each(h.new_row -> 'options' -> 'headers') e(k, v)))
       ELSE h.new_row END
 WHERE h.table_name = 'providers';

CREATE OR REPLACE FUNCTION ai_gateway.record_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o jsonb;
    n jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD) - 'api_key' - 'api_key_encrypted'; END IF;
    IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW) - 'api_key' - 'api_key_encrypted'; END IF;
    IF TG_TABLE_NAME = 'providers' AND TG_OP <> 'DELETE' THEN
        n := n || jsonb_build_object('api_key_changed',
            TG_OP = 'INSERT' OR OLD.api_key_encrypted IS DISTINCT FROM NEW.api_key_encrypted);
    END IF;
    IF TG_OP = 'UPDATE' AND o = n THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'providers' THEN
        -- sealed headers (providers_protect_key) are recorded as a mask only
        IF jsonb_typeof(o -> 'options' -> 'headers') = 'object' THEN
            o := jsonb_set(o, '{options,headers}',
                (SELECT coalesce(jsonb_object_agg(k, CASE WHEN v #>> '{}' LIKE 'aigk2:%' THEN '"****"' ELSE v END), '{}')
                   FROM jsonb_each(o -> 'options' -> 'headers') e(k, v)));
        END IF;
        IF jsonb_typeof(n -> 'options' -> 'headers') = 'object' THEN
            n := n || jsonb_build_object('secret_headers_changed',
                (SELECT jsonb_object_agg(k, v) FROM jsonb_each(n -> 'options' -> 'headers') e(k, v)
                  WHERE v #>> '{}' LIKE 'aigk2:%') IS DISTINCT FROM
                (SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(OLD) -> 'options' -> 'headers') e(k, v)
                  WHERE TG_OP = 'UPDATE' AND v #>> '{}' LIKE 'aigk2:%'));
            n := jsonb_set(n, '{options,headers}',
                (SELECT coalesce(jsonb_object_agg(k, CASE WHEN v #>> '{}' LIKE 'aigk2:%' THEN '"****"' ELSE v END), '{}')
                   FROM jsonb_each(n -> 'options' -> 'headers') e(k, v)));
        END IF;
    END IF;
    INSERT INTO ai_gateway.config_history (table_name, operation, old_row, new_row)
    VALUES (TG_TABLE_NAME, TG_OP, o, n);
    RETURN NULL;
END $$;


------------------------------------------------------------------------------
-- Hooks: run as the role that configured them
------------------------------------------------------------------------------

-- (section: hooks)

ALTER TABLE ai_gateway.routes ADD COLUMN hook_owner regrole;
ALTER TABLE ai_gateway.route_versions ADD COLUMN hook_owner regrole;

-- Hooks configured under 0.2.0: the role that last wrote the route (as
-- config_history recorded it), else the tables' owner.  Written before the
-- owner trigger exists, with the route history left as it is and without
-- validating the options again (a hook function dropped since must not
-- stop the update: its calls say so).
ALTER TABLE ai_gateway.routes DISABLE TRIGGER routes_versioned, DISABLE TRIGGER routes_validate;
UPDATE ai_gateway.routes r
   SET hook_owner = coalesce(
       (SELECT a.oid::regrole FROM ai_gateway.config_history h
          JOIN pg_catalog.pg_roles a ON a.rolname = h.as_role
         WHERE h.table_name = 'routes' AND h.new_row ->> 'name' = r.name
         ORDER BY h.id DESC LIMIT 1),
       (SELECT c.relowner::regrole FROM pg_catalog.pg_class c
         WHERE c.oid = 'ai_gateway.routes'::regclass))
 WHERE r.options ? 'request_hook' OR r.options ? 'response_hook';
ALTER TABLE ai_gateway.routes ENABLE TRIGGER routes_versioned, ENABLE TRIGGER routes_validate;
UPDATE ai_gateway.route_versions v SET hook_owner = r.hook_owner
  FROM ai_gateway.routes r
 WHERE r.name = v.route AND (v.options ? 'request_hook' OR v.options ? 'response_hook');

-- Who configured a route's hooks: they run with that role's rights
-- (governance/hooks.c).  Set here, from the writing role, whenever a hook
-- is set or changed; a given hook_owner stays only when the writer may act
-- as that role (a superuser's restore, a member's rollback), so nobody can
-- make a hook run as a role it could not become itself.
CREATE FUNCTION ai_gateway.route_hook_owner() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT (NEW.options ? 'request_hook' OR NEW.options ? 'response_hook') THEN
        NEW.hook_owner := NULL;
    ELSIF TG_OP = 'UPDATE'
          AND NEW.options -> 'request_hook' IS NOT DISTINCT FROM OLD.options -> 'request_hook'
          AND NEW.options -> 'response_hook' IS NOT DISTINCT FROM OLD.options -> 'response_hook'
          AND NEW.hook_owner IS NOT DISTINCT FROM OLD.hook_owner THEN
        NULL;       -- hooks untouched: they still run as the role that set them
    ELSIF NEW.hook_owner IS NULL
          OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = NEW.hook_owner::oid) THEN
        NEW.hook_owner := current_user::regrole;
    ELSIF NOT pg_catalog.pg_has_role(current_user, NEW.hook_owner::oid, 'MEMBER') THEN
        NEW.hook_owner := current_user::regrole;
    END IF;         -- else a role the writer may act as: kept
    RETURN NEW;
END $$;
CREATE TRIGGER routes_hook_owner
    BEFORE INSERT OR UPDATE ON ai_gateway.routes
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.route_hook_owner();
REVOKE ALL ON FUNCTION ai_gateway.route_hook_owner() FROM PUBLIC;

CREATE OR REPLACE FUNCTION ai_gateway.snapshot_route(p_route text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r        ai_gateway.routes%ROWTYPE;
    latest   ai_gateway.route_versions%ROWTYPE;
    tgts     jsonb;
BEGIN
    SELECT * INTO r FROM ai_gateway.routes WHERE name = p_route;
    IF NOT FOUND THEN
        RETURN;     -- deleted: its history stays
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'provider', t.provider, 'model', t.model, 'priority', t.priority,
               'weight', t.weight, 'shadow', t.shadow, 'role', t.role)
               ORDER BY t.priority, t.provider, t.model), '[]')
      INTO tgts
      FROM ai_gateway.route_targets t WHERE t.route = p_route;
    SELECT * INTO latest FROM ai_gateway.route_versions
     WHERE route = p_route ORDER BY version DESC LIMIT 1;
    IF FOUND AND latest.xact = pg_current_xact_id() THEN
        UPDATE ai_gateway.route_versions
           SET strategy = r.strategy, options = r.options, targets = tgts,
               hook_owner = r.hook_owner
         WHERE route = p_route AND version = latest.version;
    ELSIF FOUND AND latest.strategy = r.strategy AND latest.options = r.options
          AND latest.targets = tgts AND latest.hook_owner IS NOT DISTINCT FROM r.hook_owner THEN
        RETURN;     -- no actual change
    ELSE
        INSERT INTO ai_gateway.route_versions (route, version, strategy, options, targets, hook_owner)
        VALUES (p_route, coalesce(latest.version, 0) + 1, r.strategy, r.options, tgts,
                r.hook_owner);
    END IF;
END $$;

-- rollback_route, which now restores the version's hook owner too, is
-- replaced once, in the usability section below.


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
-- Usability: no rollback to a version that cannot serve (rollback_route, as
-- the fresh install has it: with the hook owner of the secrets section)
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
    -- the version's hook owner stays only if the caller may act as it
    -- (ai_gateway.route_hook_owner); else the caller becomes the owner
    INSERT INTO ai_gateway.routes AS r (name, strategy, options, hook_owner)
    VALUES (v.route, v.strategy, v.options, v.hook_owner)
        ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy, options = excluded.options,
                                         hook_owner = excluded.hook_owner;
    DELETE FROM ai_gateway.route_targets t WHERE t.route = v.route;
    INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight, shadow, role)
    SELECT v.route, e->>'provider', e->>'model', (e->>'priority')::int, (e->>'weight')::int,
           (e->>'shadow')::boolean, (e->>'role')::name
      FROM jsonb_array_elements(v.targets) e;
    SELECT max(rv.version) INTO n FROM ai_gateway.route_versions rv WHERE rv.route = v.route;
    RETURN n;
END $$;

-- (section: standby)
-- audit_stats() counts the audit records a hot standby wrote to the server
-- log instead of audit_log (ai_gateway.standby_calls = 'unaudited')
DROP FUNCTION ai_gateway.audit_stats();
CREATE FUNCTION ai_gateway.audit_stats()
    RETURNS TABLE (enqueued bigint, written bigint, dropped_full bigint, dropped_other_db bigint,
                   waits bigint, queued_bytes bigint, queue_bytes bigint,
                   shadow_queued bigint, shadow_sent bigint, shadow_dropped bigint,
                   set_aside bigint, set_aside_lost bigint, last_set_aside text,
                   refusals_suppressed bigint, logged_on_standby bigint)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_audit_stats';
COMMENT ON FUNCTION ai_gateway.audit_stats() IS
    'Audit queue counters (records queued, written, dropped: queue full / other database, waits; set aside: refused by the database, lost; refusals suppressed; logged on a hot standby: in the server log, not audit_log) and shadow jobs';

-- (section: waits)
-- ai_gateway.progress: what each backend is doing with providers now (issue 14, item 5)
CREATE FUNCTION ai_gateway.progress_now()
    RETURNS TABLE (pid int, datid oid, kind text, started timestamptz, items_total bigint,
                   items_done bigint, items_failed bigint, in_flight int, provider text,
                   percent_done double precision)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_progress_now';
CREATE VIEW ai_gateway.progress AS SELECT * FROM ai_gateway.progress_now();
COMMENT ON VIEW ai_gateway.progress IS
    'Backends calling providers now: a call, a batch or chunked embeddings, with items total/done/failed, requests in flight and the provider last sent to (rows of roles the caller has the privileges of; pg_read_all_stats sees all)';
GRANT SELECT ON ai_gateway.progress TO PUBLIC;

-- (section: readme)
------------------------------------------------------------------------------
-- Shipped prices and context windows (issue 14, item 7): what cost_usd,
-- the cheapest strategy and the context-window check use for a provider's
-- kind + model when ai_gateway.models has no row for that provider + model
-- (nor a provider-wide '*' row).  Shipped data, not configuration: not
-- dumped, reloaded by CREATE EXTENSION and by refresh_model_prices().
------------------------------------------------------------------------------

CREATE TABLE ai_gateway.model_catalog (
    kind                text NOT NULL,
    model               text NOT NULL,
    input_usd_per_mtok  numeric,
    output_usd_per_mtok numeric,
    context_window      int,
    as_of               date NOT NULL,
    source              text NOT NULL,
    PRIMARY KEY (kind, model)
);
COMMENT ON TABLE ai_gateway.model_catalog IS
    'Shipped list prices (USD per million tokens) and context windows by provider kind + model; ai_gateway.models rows take precedence; reload with ai_gateway.refresh_model_prices()';
CREATE TRIGGER model_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.model_catalog FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();

-- The shipped list.  Standard (not batch, not cached-input) list prices as
-- published on the providers' pricing pages (openai.com/api/pricing,
-- anthropic.com/pricing, ai.google.dev/gemini-api/docs/pricing,
-- cohere.com/pricing), read 2026-12-02 from stored copies of those pages
-- and of pages quoting them; Gemini 1.5/2.5 Pro at the short-prompt tier.
-- Values we could not confirm are left out (NULL): a price there stays
-- unknown, as before, until a models row gives one.
CREATE FUNCTION ai_gateway.refresh_model_prices() RETURNS int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM ai_gateway.model_catalog;
    INSERT INTO ai_gateway.model_catalog
        (kind, model, input_usd_per_mtok, output_usd_per_mtok, context_window, as_of, source)
    SELECT v.kind, v.model, v.i, v.o, v.cw, date '2026-12-02', v.src
      FROM (VALUES
        ('openai', 'gpt-4o',                 2.50,  10.00,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4o-mini',            0.15,   0.60,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1',                2.00,   8.00, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-mini',           0.40,   1.60, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-nano',           0.10,   0.40, 1047576, 'openai.com/api/pricing'),
        ('openai', 'o3',                     2.00,   8.00,  200000, 'openai.com/api/pricing'),
        ('openai', 'o3-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'o4-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-small', 0.02,   NULL,    8191, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-large', 0.13,   NULL,    8191, 'openai.com/api/pricing'),
        ('anthropic', 'claude-3-5-haiku-latest',    0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-haiku-20241022',  0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20241022', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20240620', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-20250219', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-0',          3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-20250514',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-0',           15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-20250514',    15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('gemini', 'gemini-1.5-flash',       0.075,  0.30, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-1.5-pro',         1.25,   5.00, 2097152, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.0-flash',       0.10,   0.40, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-flash',       0.30,   2.50, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-pro',         1.25,  10.00, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'text-embedding-004',     NULL,   NULL,    2048, 'ai.google.dev/gemini-api/docs/models'),
        ('cohere', 'command-r-08-2024',      0.15,   0.60,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-r-plus-08-2024', 2.50,  10.00,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-a-03-2025',      2.50,  10.00,  256000, 'cohere.com/pricing'),
        ('cohere', 'embed-english-v3.0',     0.10,   NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-multilingual-v3.0', 0.10,  NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-v4.0',             0.12,   NULL,  128000, 'cohere.com/pricing')
      ) AS v(kind, model, i, o, cw, src);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION ai_gateway.refresh_model_prices() IS
    'Reload ai_gateway.model_catalog with the list shipped in this version; returns the number of models';
SELECT ai_gateway.refresh_model_prices();

REVOKE ALL ON ai_gateway.model_catalog FROM PUBLIC;
GRANT SELECT ON ai_gateway.model_catalog TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_gateway.model_catalog TO ai_gateway_admin;
REVOKE ALL ON FUNCTION ai_gateway.refresh_model_prices() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ai_gateway.refresh_model_prices() TO ai_gateway_admin;

------------------------------------------------------------------------------
-- Role columns name existing roles: a misspelt role would make a quota, a
-- rate limit or a member-only target silently apply to nobody.
------------------------------------------------------------------------------

CREATE FUNCTION ai_gateway.check_role_column() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r text := to_jsonb(NEW) ->> TG_ARGV[0];
BEGIN
    IF r IS NOT NULL AND NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
        RAISE EXCEPTION 'role "%" does not exist', r
            USING ERRCODE = 'undefined_object',
                  DETAIL = format('ai_gateway.%s.%s must name an existing role.', TG_TABLE_NAME, TG_ARGV[0]),
                  HINT = 'Check the spelling (SELECT rolname FROM pg_roles), or create the role first; when restoring a dump, restore the roles first (pg_dumpall --globals-only).';
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION ai_gateway.check_role_column() FROM PUBLIC;
CREATE TRIGGER quotas_check_role BEFORE INSERT OR UPDATE OF role ON ai_gateway.quotas
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.check_role_column('role');
CREATE TRIGGER rate_limits_check_role BEFORE INSERT OR UPDATE OF role ON ai_gateway.rate_limits
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.check_role_column('role');
CREATE TRIGGER route_targets_check_role BEFORE INSERT OR UPDATE OF role ON ai_gateway.route_targets
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.check_role_column('role');

-- A quota's period names one of the four (22023 listing them, not the raw CHECK).
CREATE FUNCTION ai_gateway.check_quota_period() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.period IS NOT NULL AND NEW.period NOT IN ('minute', 'hour', 'day', 'month') THEN
        RAISE EXCEPTION 'unknown quota period "%"', NEW.period
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid periods: minute, hour, day, month (calendar periods in UTC).';
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION ai_gateway.check_quota_period() FROM PUBLIC;
CREATE TRIGGER quotas_check_period BEFORE INSERT OR UPDATE OF period ON ai_gateway.quotas
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.check_quota_period();
