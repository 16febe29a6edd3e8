-- ai_gateway 0.5.0 — install script.
-- Callable functions go into the extension's schema (@extschema@, normally
-- public); configuration, state and admin helpers into schema ai_gateway.

\echo Use "CREATE EXTENSION ai_gateway" to load this file. \quit

CREATE SCHEMA ai_gateway;
GRANT USAGE ON SCHEMA ai_gateway TO PUBLIC;

------------------------------------------------------------------------------
-- Configuration tables
------------------------------------------------------------------------------

CREATE TABLE ai_gateway.providers (
    name              text PRIMARY KEY
                      CHECK (name ~ '^[A-Za-z0-9_.-]{1,200}$'),
    kind              text NOT NULL
                      CHECK (kind IN ('openai', 'anthropic', 'cohere', 'ollama', 'gemini',
                                      'azure_openai', 'openai_compatible',
                                      'bedrock', 'vertex_ai',
                                      'mistral', 'groq', 'deepseek', 'xai', 'together',
                                      'fireworks', 'openrouter')),
    base_url          text
                      CHECK (base_url IS NULL OR base_url ~* '^https?://[^/?#@[:space:]]+(/[^?#[:space:]]*)?$'),
    api_key           text,           -- only a mask ("****" + last 4) is ever stored here
    api_key_encrypted text,           -- AES-256-GCM, sealed by ai_gateway.providers_protect_key
    options           jsonb NOT NULL DEFAULT '{}'
                      CHECK (jsonb_typeof(options) = 'object'),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    api_key_env_by    regrole         -- the superuser who set options.api_key_env (set by the trigger)
);
COMMENT ON TABLE ai_gateway.providers IS
    'AI providers: kind, base URL, encrypted API key (bound to name, kind and base URL origin), options (timeout_ms, connect_timeout_ms, api_version, headers, secret_headers, api_key_env, default_max_tokens, max_embed_batch)';

CREATE TABLE ai_gateway.routes (
    name        text PRIMARY KEY
                CHECK (name ~ '^[A-Za-z0-9_.:-]{1,200}$'),
    strategy    text NOT NULL DEFAULT 'fallback'
                CHECK (strategy IN ('fallback', 'weighted', 'cheapest', 'fastest', 'round_robin')),
    options     jsonb NOT NULL DEFAULT '{}'
                CHECK (jsonb_typeof(options) = 'object'),
    description text,
    hook_owner  regrole     -- hooks run as this role; set by ai_gateway.route_hook_owner
);
COMMENT ON TABLE ai_gateway.routes IS
    'Named routes that calls address; see README for strategies and options';

CREATE TABLE ai_gateway.route_targets (
    route    text NOT NULL REFERENCES ai_gateway.routes (name)
             ON UPDATE CASCADE ON DELETE CASCADE,
    provider text NOT NULL REFERENCES ai_gateway.providers (name)
             ON UPDATE CASCADE ON DELETE CASCADE,
    model    text NOT NULL CHECK (model <> '' AND length(model) <= 200),
    priority int NOT NULL DEFAULT 0,
    weight   int NOT NULL DEFAULT 1 CHECK (weight >= 0),
    shadow   boolean NOT NULL DEFAULT false,
    role     name,           -- NULL: everyone; else only members of this role
    PRIMARY KEY (route, provider, model)
);
COMMENT ON TABLE ai_gateway.route_targets IS
    'The provider/model pairs of each route; lower priority is tried first; role limits a target to members';

-- Every committed change to a route or its targets, as a numbered snapshot.
-- Not carried by pg_dump: a restore starts the history again at version 1.
CREATE TABLE ai_gateway.route_versions (
    route      text NOT NULL,
    version    int NOT NULL,
    strategy   text NOT NULL,
    options    jsonb NOT NULL,
    targets    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT current_user,
    xact       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    hook_owner regrole,
    PRIMARY KEY (route, version)
);
COMMENT ON TABLE ai_gateway.route_versions IS
    'History of each route: one version per transaction that changed it; call ''route@N'' to pin one';

CREATE TABLE ai_gateway.models (
    provider            text NOT NULL REFERENCES ai_gateway.providers (name)
                        ON UPDATE CASCADE ON DELETE CASCADE,
    model               text NOT NULL CHECK (model <> '' AND length(model) <= 200),
    -- finite and in range: NaN compares greater than every number, so a NaN
    -- price passed ">= 0" and made every cost check pass
    input_usd_per_mtok  numeric CHECK (input_usd_per_mtok >= 0 AND input_usd_per_mtok <= 1000000000),
    output_usd_per_mtok numeric CHECK (output_usd_per_mtok >= 0 AND output_usd_per_mtok <= 1000000000),
    context_window      int CHECK (context_window > 0),
    PRIMARY KEY (provider, model)
);
COMMENT ON TABLE ai_gateway.models IS
    'Prices (USD per million tokens) and context windows; model ''*'' is the provider-wide default';

-- Access: who may call a route, or a provider directly (grantee NULL = PUBLIC).
CREATE TABLE ai_gateway.route_grants (
    route      text NOT NULL REFERENCES ai_gateway.routes (name)
               ON UPDATE CASCADE ON DELETE CASCADE,
    grantee    regrole,
    granted_by name NOT NULL DEFAULT current_user,
    granted_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX route_grants_unique ON ai_gateway.route_grants (route, coalesce(grantee, 0::oid::regrole));
COMMENT ON TABLE ai_gateway.route_grants IS 'Roles (NULL = PUBLIC) that may call a route; use grant_route/revoke_route';

CREATE TABLE ai_gateway.provider_grants (
    provider   text NOT NULL REFERENCES ai_gateway.providers (name)
               ON UPDATE CASCADE ON DELETE CASCADE,
    grantee    regrole,
    granted_by name NOT NULL DEFAULT current_user,
    granted_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provider_grants_unique ON ai_gateway.provider_grants (provider, coalesce(grantee, 0::oid::regrole));
COMMENT ON TABLE ai_gateway.provider_grants IS 'Roles (NULL = PUBLIC) that may call a provider directly as provider/model';

CREATE TABLE ai_gateway.rate_limits (
    role                name PRIMARY KEY,
    requests_per_minute int CHECK (requests_per_minute > 0),
    tokens_per_minute   int CHECK (tokens_per_minute > 0)
);
COMMENT ON TABLE ai_gateway.rate_limits IS 'Token-bucket rate limits per role (and its members, each bucket shared)';

CREATE TABLE ai_gateway.quotas (
    role         name NOT NULL,
    period       text NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month')),
    max_requests bigint CHECK (max_requests >= 0),
    max_tokens   bigint CHECK (max_tokens >= 0),
    max_cost_usd numeric CHECK (max_cost_usd >= 0 AND max_cost_usd <= 1000000000000),
    PRIMARY KEY (role, period)
);
COMMENT ON TABLE ai_gateway.quotas IS 'Per-role budgets per calendar period (UTC); a group role''s quota is one pool';

-- Quota usage saved by the worker so that a restart does not reset it.
CREATE TABLE ai_gateway.quota_usage (
    role_oid     oid NOT NULL,
    period       text NOT NULL,
    window_start timestamptz NOT NULL,
    requests     bigint NOT NULL,
    tokens       bigint NOT NULL,
    cost_usd     numeric NOT NULL,
    saved_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_oid, period)
);

-- Who changed what in the configuration (key material never recorded).
CREATE TABLE ai_gateway.config_history (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    changed_by  name NOT NULL DEFAULT session_user,
    as_role     name NOT NULL DEFAULT current_user,
    table_name  text NOT NULL,
    operation   text NOT NULL,
    old_row     jsonb,
    new_row     jsonb
);
COMMENT ON TABLE ai_gateway.config_history IS 'Changes to providers, routes, targets, prices, quotas, rate limits and grants (not carried by pg_dump: a restore records itself)';

CREATE TABLE ai_gateway.audit_log (
    id            bigserial PRIMARY KEY,
    ts            timestamptz NOT NULL DEFAULT now(),
    role          name NOT NULL DEFAULT current_user,
    route         text,
    provider      text,
    model         text,
    status        text NOT NULL,
    http_status   int,
    attempts      int,
    latency_ms    double precision,
    input_tokens  bigint,
    output_tokens bigint,
    cost_usd      numeric,
    cache_hit     boolean NOT NULL DEFAULT false,
    shadow        boolean NOT NULL DEFAULT false,
    error         text,
    metadata      jsonb,
    prompt        jsonb,
    output        text,
    session_role  name DEFAULT session_user,
    sqlstate      text
);
CREATE INDEX ON ai_gateway.audit_log (ts);
COMMENT ON TABLE ai_gateway.audit_log IS 'One row per call, written by the background worker (survives ROLLBACK)';
COMMENT ON COLUMN ai_gateway.audit_log.role IS 'The current role of the call (after SET ROLE, the definer inside SECURITY DEFINER)';
COMMENT ON COLUMN ai_gateway.audit_log.session_role IS 'The session''s login role (session_user) of the call';
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

CREATE TABLE ai_gateway.jobs (
    id              bigserial PRIMARY KEY,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    role            name NOT NULL DEFAULT current_user,
    request         jsonb NOT NULL,
    result          jsonb,
    error           text,
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    batch           boolean NOT NULL DEFAULT false,
    provider_batch  bigint
);
CREATE INDEX ON ai_gateway.jobs (next_attempt_at) WHERE status = 'queued';
CREATE INDEX ON ai_gateway.jobs (role, id) WHERE status IN ('queued', 'running');
COMMENT ON TABLE ai_gateway.jobs IS 'Async jobs: queued by ai_complete_async, run by the job worker';
CREATE INDEX ON ai_gateway.jobs (provider_batch) WHERE provider_batch IS NOT NULL;
COMMENT ON COLUMN ai_gateway.jobs.batch IS
    'Run through the provider''s Batch API (options.batch): answered within 24 hours at the batch price';
COMMENT ON COLUMN ai_gateway.jobs.provider_batch IS
    'The ai_gateway.provider_batches row the job is in while its provider batch runs, or NULL';


-- A queue table: every job is an INSERT and two UPDATEs of the indexed status
-- (never HOT), so it leaves two dead tuples each.  Autovacuum looks at it
-- after 1000 + 2% of its rows changed (not the default 50 + 20%, which
-- lets a table of finished jobs grow by a fifth between vacuums), unthrottled
-- (a small hot table vacuums in moments), so the space of finished jobs'
-- old versions is reused by the next ones instead of growing the table.
-- (fillfactor is left at 100: the versions are not HOT, a lower one only
-- spreads the rows over more pages; measured by test/bench/bench_job_queue.sh.)
ALTER TABLE ai_gateway.jobs SET (
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0);

-- Provider batches: async jobs with options.batch, submitted together to a
-- provider's Batch API (OpenAI Batch, Anthropic Message Batches) by the job
-- worker, polled until they end, their results mapped back to the jobs.
CREATE TABLE ai_gateway.provider_batches (
    id            bigserial PRIMARY KEY,
    provider      text NOT NULL,
    model         text NOT NULL,
    status        text NOT NULL DEFAULT 'submitted'
                  CHECK (status IN ('submitted', 'ended', 'failed')),
    remote_id     text,
    remote_status text,
    items         int NOT NULL,
    error         text,
    polls         int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    submitted_at  timestamptz,
    ended_at      timestamptz,
    next_poll_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON ai_gateway.provider_batches (next_poll_at) WHERE status = 'submitted';
COMMENT ON TABLE ai_gateway.provider_batches IS
    'Batches submitted to providers'' Batch APIs for async jobs with options.batch (status submitted, ended, failed)';

-- pg_dump carries configuration and history
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.providers', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.routes', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.route_targets', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.models', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.quotas', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.route_grants', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.provider_grants', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.rate_limits', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_rejects', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_rejects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.jobs_id_seq', '');

------------------------------------------------------------------------------
-- Triggers: key sealing, options validation and cache invalidation
------------------------------------------------------------------------------

CREATE FUNCTION ai_gateway.providers_protect_key() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_providers_protect_key';

CREATE TRIGGER providers_protect_key
    BEFORE INSERT OR UPDATE ON ai_gateway.providers
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.providers_protect_key();

CREATE FUNCTION ai_gateway.validate_provider() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_validate_provider';
CREATE TRIGGER providers_validate
    BEFORE INSERT OR UPDATE ON ai_gateway.providers
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.validate_provider();

CREATE FUNCTION ai_gateway.validate_route() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_validate_route';
CREATE TRIGGER routes_validate
    BEFORE INSERT OR UPDATE ON ai_gateway.routes
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.validate_route();

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

CREATE FUNCTION ai_gateway.catalog_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_catalog_changed';

CREATE TRIGGER providers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.providers FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER routes_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.routes FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER route_targets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.route_targets FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.models FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER quotas_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.quotas FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER rate_limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.rate_limits FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER route_grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.route_grants FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();
CREATE TRIGGER provider_grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.provider_grants FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();

-- Configuration history: one row per changed row, keys left out.
CREATE FUNCTION ai_gateway.record_change() RETURNS trigger
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
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY array['providers', 'routes', 'route_targets', 'models', 'quotas',
                             'rate_limits', 'route_grants', 'provider_grants'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON ai_gateway.%I '
                       'FOR EACH ROW EXECUTE FUNCTION ai_gateway.record_change()',
                       t || '_history', t);
    END LOOP;
END $$;

------------------------------------------------------------------------------
-- Route versions
------------------------------------------------------------------------------

-- Record the current state of a route as its newest version; several
-- changes in one transaction make one version.
CREATE FUNCTION ai_gateway.snapshot_route(p_route text) RETURNS void
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

CREATE FUNCTION ai_gateway.route_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'routes' THEN
        IF TG_OP <> 'INSERT' THEN PERFORM ai_gateway.snapshot_route(OLD.name); END IF;
        IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.name <> OLD.name) THEN
            PERFORM ai_gateway.snapshot_route(NEW.name);
        END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN PERFORM ai_gateway.snapshot_route(OLD.route); END IF;
        IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.route <> OLD.route) THEN
            PERFORM ai_gateway.snapshot_route(NEW.route);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER routes_versioned AFTER INSERT OR UPDATE OR DELETE
    ON ai_gateway.routes FOR EACH ROW EXECUTE FUNCTION ai_gateway.route_changed();
CREATE TRIGGER route_targets_versioned AFTER INSERT OR UPDATE OR DELETE
    ON ai_gateway.route_targets FOR EACH ROW EXECUTE FUNCTION ai_gateway.route_changed();
CREATE TRIGGER route_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_gateway.route_versions FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.catalog_changed();

-- Make version N of a route current again (recorded as a new version).
CREATE FUNCTION ai_gateway.rollback_route(route text, version int) RETURNS int
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
COMMENT ON FUNCTION ai_gateway.rollback_route(text, int) IS
    'Restore version N of a route (its strategy, options and targets); returns the new version number';

------------------------------------------------------------------------------
-- Privileges: configuration is the owner's; everyone may read what calls
-- need to know, never key material.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA ai_gateway FROM PUBLIC;

-- Administrators: the extension owner, superusers, and members of
-- ai_gateway_admin (created here if missing; a cluster-wide role that
-- DROP EXTENSION leaves in place).
DO $$
BEGIN
    CREATE ROLE ai_gateway_admin NOLOGIN;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END $$;
GRANT USAGE ON SCHEMA ai_gateway TO ai_gateway_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_gateway.providers, ai_gateway.routes,
    ai_gateway.route_targets, ai_gateway.models, ai_gateway.quotas, ai_gateway.rate_limits,
    ai_gateway.route_grants, ai_gateway.provider_grants TO ai_gateway_admin;
GRANT SELECT ON ai_gateway.route_versions, ai_gateway.config_history, ai_gateway.quota_usage,
    ai_gateway.audit_log, ai_gateway.jobs TO ai_gateway_admin;
GRANT SELECT, DELETE ON ai_gateway.audit_rejects TO ai_gateway_admin;
GRANT INSERT, UPDATE ON ai_gateway.route_versions TO ai_gateway_admin;
GRANT INSERT ON ai_gateway.config_history TO ai_gateway_admin;
GRANT SELECT ON ai_gateway.provider_batches TO ai_gateway_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ai_gateway TO ai_gateway_admin;

CREATE FUNCTION ai_gateway.is_admin() RETURNS boolean
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'aig_is_admin_sql';
COMMENT ON FUNCTION ai_gateway.is_admin() IS
    'Does the current role administer the gateway (superuser, extension owner, ai_gateway_admin member)?';

-- The audit log: each role sees its own rows, administrators all of them.
ALTER TABLE ai_gateway.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_own_rows ON ai_gateway.audit_log FOR SELECT
    USING (role = current_user OR ai_gateway.is_admin());
GRANT SELECT ON ai_gateway.audit_log TO PUBLIC;
GRANT SELECT (name, kind, base_url, enabled, created_at) ON ai_gateway.providers TO PUBLIC;
GRANT SELECT ON ai_gateway.routes, ai_gateway.route_targets, ai_gateway.models,
    ai_gateway.route_versions TO PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.providers_protect_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.catalog_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.validate_provider() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.validate_route() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.route_hook_owner() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.snapshot_route(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.route_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.rollback_route(text, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.record_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ai_gateway.rollback_route(text, int) TO ai_gateway_admin;
GRANT EXECUTE ON FUNCTION ai_gateway.snapshot_route(text) TO ai_gateway_admin;

------------------------------------------------------------------------------
-- Callable functions
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.ai_complete(prompt text, model text DEFAULT NULL,
                                        system_prompt text DEFAULT NULL,
                                        options jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_complete';
COMMENT ON FUNCTION @extschema@.ai_complete(text, text, text, jsonb) IS
    'Complete a prompt through a route or provider/model; returns the text';

CREATE FUNCTION @extschema@.ai_chat(messages jsonb, model text DEFAULT NULL,
                                    options jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_chat';
COMMENT ON FUNCTION @extschema@.ai_chat(jsonb, text, jsonb) IS
    'Chat completion over OpenAI-style messages; returns the normalized result object';

CREATE FUNCTION @extschema@.ai_embed(input text, model text DEFAULT NULL,
                                     options jsonb DEFAULT '{}')
    RETURNS real[]
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_embed';
COMMENT ON FUNCTION @extschema@.ai_embed(text, text, jsonb) IS
    'Embedding of one text (real[], castable to pgvector''s vector)';

CREATE FUNCTION @extschema@.ai_embed(inputs text[], model text DEFAULT NULL,
                                     options jsonb DEFAULT '{}')
    RETURNS TABLE (ordinality int, embedding real[])
    LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
    AS 'MODULE_PATHNAME', 'aig_embed_many';
COMMENT ON FUNCTION @extschema@.ai_embed(text[], text, jsonb) IS
    'Embeddings of many texts, batched per provider limits, one row per input in order';

CREATE FUNCTION @extschema@.ai_complete_batch(prompts text[], model text DEFAULT NULL,
                                              system_prompt text DEFAULT NULL,
                                              options jsonb DEFAULT '{}')
    RETURNS TABLE (ordinality int, completion text, error text)
    LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
    AS 'MODULE_PATHNAME', 'aig_complete_batch';
COMMENT ON FUNCTION @extschema@.ai_complete_batch(text[], text, text, jsonb) IS
    'Complete many prompts concurrently (ai_gateway.batch_concurrency in flight); one row per prompt, in order, with its completion or its error';

CREATE FUNCTION @extschema@.ai_complete_async(prompt text, model text DEFAULT NULL,
                                              system_prompt text DEFAULT NULL,
                                              options jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_complete_async';
COMMENT ON FUNCTION @extschema@.ai_complete_async(text, text, text, jsonb) IS
    'Queue a completion as a job (sent after the transaction commits); returns the job id';

CREATE FUNCTION @extschema@.ai_result(job_id bigint, wait_ms int DEFAULT 0)
    RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_result';
COMMENT ON FUNCTION @extschema@.ai_result(bigint, int) IS
    'Status and result of a job: {"status", "result", "error", "attempts"}, waiting up to wait_ms for it to finish';

-- jobs: each role sees its own
ALTER TABLE ai_gateway.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_own_rows ON ai_gateway.jobs FOR SELECT
    USING (role = current_user OR ai_gateway.is_admin());
GRANT SELECT ON ai_gateway.jobs TO PUBLIC;

------------------------------------------------------------------------------
-- Inspection
------------------------------------------------------------------------------

CREATE FUNCTION ai_gateway.explain_route(route text, options jsonb DEFAULT '{}')
    RETURNS TABLE (rank int, provider text, model text, priority int, weight int,
                   eligible boolean, breaker text, latency_ms double precision,
                   input_usd_per_mtok double precision, output_usd_per_mtok double precision,
                   est_cost_usd double precision, reason text)
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_explain_route';
COMMENT ON FUNCTION ai_gateway.explain_route(text, jsonb) IS
    'The targets of a route in the order a call with these options would try them, and why';

CREATE FUNCTION ai_gateway.health()
    RETURNS TABLE (provider text, model text, breaker text, consecutive_failures int,
                   window_requests bigint, window_errors bigint, error_rate double precision,
                   latency_ms double precision, requests bigint, errors bigint,
                   times_opened bigint, open_until timestamptz, last_error text,
                   last_error_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_health';
COMMENT ON FUNCTION ai_gateway.health() IS
    'Shared health of every provider/model target: circuit breaker, error window, latency';

CREATE FUNCTION ai_gateway.provider_info()
    RETURNS TABLE (provider text, kind text, base_url text, embeddings boolean,
                   max_embed_batch int, capabilities text[], quirks text)
    LANGUAGE C STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_provider_info';
COMMENT ON FUNCTION ai_gateway.provider_info() IS
    'Each provider as the gateway resolved it: kind, the base URL it calls (stored or the kind''s default), embeddings and their batch size, capabilities (tools, images, image_urls, documents, json_schema), and what a preset kind changes in the OpenAI format';

CREATE FUNCTION ai_gateway.bench_routing(model text, iterations int DEFAULT 100000)
    RETURNS double precision
    LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_bench_routing';
COMMENT ON FUNCTION ai_gateway.bench_routing(text, int) IS
    'Benchmark helper: nanoseconds per routing decision for a model string (no request is sent)';

------------------------------------------------------------------------------
-- Governance helpers (SECURITY INVOKER: they run with the caller's rights,
-- so only administrators, who may write the grant tables, can use them)
------------------------------------------------------------------------------

CREATE FUNCTION ai_gateway.require_admin() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT ai_gateway.is_admin() THEN
        RAISE EXCEPTION 'permission denied: only ai_gateway administrators may change grants'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Administrators are superusers, the extension owner and members of ai_gateway_admin.';
    END IF;
END $$;

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
CREATE FUNCTION ai_gateway.grant_route(route text, role text) RETURNS void
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
CREATE FUNCTION ai_gateway.revoke_route(route text, role text) RETURNS void
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
-- the signatures of DESIGN.md: a regrole, delegated to the text forms above
CREATE FUNCTION ai_gateway.grant_route(route text, role regrole) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.grant_route(route, role::text) $$;
CREATE FUNCTION ai_gateway.revoke_route(route text, role regrole) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.revoke_route(route, role::text) $$;
CREATE FUNCTION ai_gateway.grant_provider(provider text, role text) RETURNS void
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
CREATE FUNCTION ai_gateway.revoke_provider(provider text, role text) RETURNS void
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

CREATE FUNCTION ai_gateway.usage_now()
    RETURNS TABLE (role text, period text, window_start timestamptz, resets_at timestamptz,
                   requests bigint, max_requests bigint, tokens bigint, max_tokens bigint,
                   cost_usd numeric, max_cost_usd numeric, tokens_reserved bigint)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_usage';
CREATE VIEW ai_gateway.usage AS SELECT * FROM ai_gateway.usage_now();
COMMENT ON VIEW ai_gateway.usage IS
    'Current usage of each quota (own roles'' quotas; all for administrators)';
GRANT SELECT ON ai_gateway.usage TO PUBLIC;

CREATE FUNCTION ai_gateway.audit_stats()
    RETURNS TABLE (enqueued bigint, written bigint, dropped_full bigint, dropped_other_db bigint,
                   waits bigint, queued_bytes bigint, queue_bytes bigint,
                   shadow_queued bigint, shadow_sent bigint, shadow_dropped bigint,
                   set_aside bigint, set_aside_lost bigint, last_set_aside text,
                   refusals_suppressed bigint, logged_on_standby bigint)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_audit_stats';
COMMENT ON FUNCTION ai_gateway.audit_stats() IS
    'Audit queue counters (records queued, written, dropped: queue full / other database, waits; set aside: refused by the database, lost; refusals suppressed; logged on a hot standby: in the server log, not audit_log) and shadow jobs';

-- Wait until the audit records queued so far are in ai_gateway.audit_log
-- (tests and scripts; returns false on timeout).
CREATE FUNCTION ai_gateway.audit_flush(timeout_ms int DEFAULT 10000) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_audit_flush';

CREATE FUNCTION ai_gateway.bench_governance(model text, iterations int DEFAULT 10000)
    RETURNS double precision
    LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_bench_governance';
COMMENT ON FUNCTION ai_gateway.bench_governance(text, int) IS
    'Benchmark helper: ns per call of access check, rate limits, quotas and audit enqueue (each iteration queues an audit record)';
REVOKE ALL ON FUNCTION ai_gateway.bench_governance(text, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.bench_routing(text, int) FROM PUBLIC;

------------------------------------------------------------------------------
-- Statistics
------------------------------------------------------------------------------

CREATE FUNCTION ai_gateway.stats_now()
    RETURNS TABLE (route text, provider text, model text, requests bigint, errors bigint,
                   errors_by_class jsonb, latency_avg_ms double precision,
                   latency_p50_ms double precision, latency_p95_ms double precision,
                   latency_p99_ms double precision, input_tokens bigint, output_tokens bigint,
                   cost_usd numeric, cache_hits bigint)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_stats_now';
CREATE VIEW ai_gateway.stats AS SELECT * FROM ai_gateway.stats_now();
COMMENT ON VIEW ai_gateway.stats IS
    'Calls per route/provider/model since the last stats_reset(): errors by class, latency percentiles (from a histogram), tokens, cost';
GRANT SELECT ON ai_gateway.stats TO PUBLIC;

CREATE FUNCTION ai_gateway.progress_now()
    RETURNS TABLE (pid int, datid oid, kind text, started timestamptz, items_total bigint,
                   items_done bigint, items_failed bigint, in_flight int, provider text,
                   percent_done double precision)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_progress_now';
CREATE VIEW ai_gateway.progress AS SELECT * FROM ai_gateway.progress_now();
COMMENT ON VIEW ai_gateway.progress IS
    'Backends calling providers now: a call, a batch or chunked embeddings, with items total/done/failed, requests in flight and the provider last sent to (rows of roles the caller has the privileges of; pg_read_all_stats sees all)';
GRANT SELECT ON ai_gateway.progress TO PUBLIC;

CREATE FUNCTION ai_gateway.stats_reset() RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_stats_reset';
REVOKE ALL ON FUNCTION ai_gateway.stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ai_gateway.stats_reset() TO ai_gateway_admin;

CREATE FUNCTION ai_gateway.metrics() RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_metrics';
COMMENT ON FUNCTION ai_gateway.metrics() IS
    'The statistics in Prometheus text exposition format (labels route, provider, model)';

------------------------------------------------------------------------------
-- Response cache (0.2.0)
------------------------------------------------------------------------------

-- One row per cached answer.  UNLOGGED: kept across clean restarts, no WAL,
-- emptied by crash recovery (a cache may forget).  Not configuration, so
-- pg_dump leaves its rows out.
CREATE UNLOGGED TABLE ai_gateway.cache (
    key            bytea PRIMARY KEY,  -- SHA-256 of route configuration, scope, messages, options
    route          text,               -- route (name@version when pinned); NULL for provider/model calls
    provider       text NOT NULL,      -- the target that answered
    model          text NOT NULL,
    scope_role     oid,                -- role whose calls may reuse it; NULL = every role (cache_scope global)
    content        text NOT NULL,
    finish_reason  text,
    reported_model text,               -- model the provider reported
    input_tokens   bigint,             -- what the original call used
    output_tokens  bigint,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    stored_by      oid                 -- role whose call stored it (ai_gateway.cache_max_entries_per_role)
);
CREATE INDEX cache_expires_at ON ai_gateway.cache (expires_at);
CREATE INDEX cache_stored_by ON ai_gateway.cache (stored_by, created_at);
COMMENT ON TABLE ai_gateway.cache IS
    'Response cache of ai_complete/ai_chat (options.cache, routes.options.cache_ttl_s, ai_gateway.cache_ttl_s); cleared by ai_gateway.cache_clear()';
REVOKE ALL ON ai_gateway.cache FROM PUBLIC;
GRANT SELECT, DELETE ON ai_gateway.cache TO ai_gateway_admin;

CREATE FUNCTION ai_gateway.cache_clear(route text DEFAULT NULL, provider text DEFAULT NULL,
                                       model text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'aig_cache_clear';
COMMENT ON FUNCTION ai_gateway.cache_clear(text, text, text) IS
    'Delete cached answers (all, or those of a route, provider and/or model) in every session; returns how many rows went';
REVOKE ALL ON FUNCTION ai_gateway.cache_clear(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ai_gateway.cache_clear(text, text, text) TO ai_gateway_admin;

------------------------------------------------------------------------------
-- Embeddings kept next to their text (0.2.0)
------------------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE trigger: embed_trigger(source_column, target_column
-- [, model [, options]]).  Fills target_column with ai_embed(source_column)
-- when the row is new or its source text changed; NULL text gives NULL.
-- An UPDATE that leaves the text alone keeps the row's embedding as given.
-- The target column may be real[] or pgvector's vector (real[] casts to it).
CREATE FUNCTION ai_gateway.embed_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src     text;
    old_src text;
    emb     real[];
BEGIN
    IF TG_WHEN <> 'BEFORE' OR TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger() must run BEFORE INSERT OR UPDATE FOR EACH ROW'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_NARGS < 2 OR TG_NARGS > 4 THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger() takes (source_column, target_column [, model [, options]])'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'CREATE TRIGGER ... EXECUTE FUNCTION ai_gateway.embed_trigger(''body'', ''embedding'', ''openai/text-embedding-3-small'')';
    END IF;
    IF NOT (to_jsonb(NEW) ? TG_ARGV[0]) OR NOT (to_jsonb(NEW) ? TG_ARGV[1]) THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger(): table % has no column % or %',
            TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]
            USING ERRCODE = 'undefined_column';
    END IF;
    src := to_jsonb(NEW) ->> TG_ARGV[0];
    IF TG_OP = 'UPDATE' THEN
        old_src := to_jsonb(OLD) ->> TG_ARGV[0];
        IF src IS NOT DISTINCT FROM old_src THEN
            RETURN NEW;   -- text unchanged: keep the embedding (or the one set by hand)
        END IF;
    END IF;
    IF src IS NULL THEN
        emb := NULL;
    ELSE
        emb := @extschema@.ai_embed(src,
                                    CASE WHEN TG_NARGS >= 3 THEN TG_ARGV[2] END,
                                    CASE WHEN TG_NARGS >= 4 THEN TG_ARGV[3]::jsonb ELSE '{}'::jsonb END);
    END IF;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[1], to_jsonb(emb)));
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ai_gateway.health() IS
    'Shared health of every provider/model target (breaker, error window, latency, last error), and a row for each provider not called yet or disabled';

COMMENT ON FUNCTION ai_gateway.embed_trigger() IS
    'BEFORE INSERT OR UPDATE trigger: keeps target_column = ai_embed(source_column [, model [, options]])';

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
        ('cohere', 'embed-v4.0',             0.12,   NULL,  128000, 'cohere.com/pricing'),
        -- presets: only where the stored pages give the price (cache-miss input)
        ('deepseek', 'deepseek-v4-flash',    0.14,   0.28,    NULL, 'api-docs.deepseek.com/quick_start/pricing')
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

------------------------------------------------------------------------------
-- Images and documents in; structured output (issue 15)
------------------------------------------------------------------------------

-- (section: multimodal)
CREATE FUNCTION @extschema@.ai_image(data bytea, media_type text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aig_image';
COMMENT ON FUNCTION @extschema@.ai_image(bytea, text) IS
    'An image (PNG, JPEG, GIF, WebP) or PDF as a chat content part: {"type": "image"|"document", "media_type", "data": base64}; the type is read from the bytes';

CREATE FUNCTION @extschema@.ai_complete(prompt text, image bytea, model text DEFAULT NULL,
                                        options jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE sql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN prompt IS NULL THEN NULL
        WHEN image IS NULL THEN @extschema@.ai_complete(prompt, model, NULL::text, options)
        ELSE @extschema@.ai_chat(
                 jsonb_build_array(jsonb_build_object('role', 'user', 'content',
                     jsonb_build_array(jsonb_build_object('type', 'text', 'text', prompt),
                                       @extschema@.ai_image(image)))),
                 model, options) ->> 'content'
    END
$$;
COMMENT ON FUNCTION @extschema@.ai_complete(text, bytea, text, jsonb) IS
    'Complete a prompt about one image or PDF (bytea) through a route or provider/model with image input; returns the text';

-- A JSON schema as OpenAI's strict mode takes it: every object closed
-- (additionalProperties false) with all its properties required, those that
-- were optional made nullable; ai_extract sends this form to every provider,
-- and checks the answer against it.
CREATE FUNCTION ai_gateway.strict_schema(schema jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result jsonb := schema;
    props jsonb;
    req jsonb;
    k text;
    sub jsonb;
BEGIN
    IF schema IS NULL OR jsonb_typeof(schema) <> 'object' THEN
        RETURN schema;
    END IF;
    IF schema ->> 'type' = 'object' OR schema ? 'properties' THEN
        props := coalesce(schema -> 'properties', '{}');
        req := coalesce(schema -> 'required', '[]');
        FOR k, sub IN SELECT key, value FROM jsonb_each(props) LOOP
            sub := ai_gateway.strict_schema(sub);
            IF NOT req ? k THEN
                IF jsonb_typeof(sub -> 'type') = 'string' AND sub ->> 'type' <> 'null' THEN
                    sub := jsonb_set(sub, '{type}', jsonb_build_array(sub -> 'type', 'null'));
                ELSIF jsonb_typeof(sub -> 'type') = 'array' AND NOT (sub -> 'type') ? 'null' THEN
                    sub := jsonb_set(sub, '{type}', (sub -> 'type') || '["null"]');
                END IF;
                req := req || to_jsonb(k);
            END IF;
            props := jsonb_set(props, ARRAY[k], sub);
        END LOOP;
        result := result || jsonb_build_object('type', 'object', 'properties', props,
                                               'required', req, 'additionalProperties', false);
    END IF;
    IF jsonb_typeof(schema -> 'items') = 'object' THEN
        result := jsonb_set(result, '{items}', ai_gateway.strict_schema(schema -> 'items'));
    END IF;
    IF jsonb_typeof(schema -> 'anyOf') = 'array' THEN
        result := jsonb_set(result, '{anyOf}',
            (SELECT jsonb_agg(ai_gateway.strict_schema(e)) FROM jsonb_array_elements(schema -> 'anyOf') e));
    END IF;
    RETURN result;
END $$;

CREATE FUNCTION @extschema@.ai_extract(input text, schema jsonb, model text DEFAULT NULL,
                                       options jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF input IS NULL OR schema IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(schema) <> 'object' THEN
        RAISE EXCEPTION 'ai_extract: schema must be a JSON schema object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}.';
    END IF;
    IF options ? 'response_format' THEN
        RAISE EXCEPTION 'ai_extract: options must not carry response_format'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'ai_extract asks for the schema itself; use ai_chat for another response_format.';
    END IF;
    RETURN (@extschema@.ai_chat(
        jsonb_build_array(
            jsonb_build_object('role', 'system', 'content',
                'Extract the information described by this JSON schema from the user''s text. '
                || 'Answer with one JSON value of the schema and nothing else; use null for what the text does not say. Schema: '
                || schema::text),
            jsonb_build_object('role', 'user', 'content', input)),
        model,
        coalesce(options, '{}') || jsonb_build_object('response_format', jsonb_build_object(
            'type', 'json_schema',
            'json_schema', jsonb_build_object('name', 'extraction', 'strict', true,
                                              'schema', ai_gateway.strict_schema(schema)))))
        ->> 'content')::jsonb;
END $$;
COMMENT ON FUNCTION @extschema@.ai_extract(text, jsonb, text, jsonb) IS
    'Structured extraction: a JSON value of the schema from the text, asked for by each provider''s native means (json_schema, responseSchema, a forced tool, format) and checked; a non-conforming answer is retried and failed over (UP005)';

------------------------------------------------------------------------------
-- SQL functions as tools: the schema from the signature, the call, the loop
------------------------------------------------------------------------------

-- (section: tools)
-- The JSON schema of a value of type typ, as a tool argument.
CREATE FUNCTION ai_gateway.type_schema(typ oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
BEGIN
    SELECT oid, typtype, typcategory, typelem, typlen, typbasetype INTO t FROM pg_type WHERE oid = typ;
    IF t.typtype = 'd' THEN
        RETURN ai_gateway.type_schema(t.typbasetype);
    END IF;
    IF t.typtype = 'e' THEN
        RETURN jsonb_build_object('type', 'string', 'enum',
            (SELECT jsonb_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = typ));
    END IF;
    IF t.typcategory = 'A' AND t.typelem <> 0 THEN
        RETURN jsonb_build_object('type', 'array', 'items', ai_gateway.type_schema(t.typelem));
    END IF;
    IF t.typtype = 'c' OR typ IN ('record'::regtype, 'anyelement'::regtype, 'anyarray'::regtype) THEN
        RAISE EXCEPTION 'a tool argument cannot be of type %', format_type(typ, NULL)
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Tool arguments are scalars, arrays, enums, json or jsonb.';
    END IF;
    RETURN CASE
        WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN '{"type": "integer"}'
        WHEN typ IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype) THEN '{"type": "number"}'
        WHEN typ = 'bool'::regtype THEN '{"type": "boolean"}'
        WHEN typ = 'date'::regtype THEN '{"type": "string", "format": "date"}'
        WHEN typ IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN '{"type": "string", "format": "date-time"}'
        WHEN typ = 'uuid'::regtype THEN '{"type": "string", "format": "uuid"}'
        WHEN typ IN ('json'::regtype, 'jsonb'::regtype) THEN '{}'
        WHEN t.typcategory = 'S' THEN '{"type": "string"}'
        ELSE jsonb_build_object('type', 'string', 'description', 'a ' || format_type(typ, NULL) || ' value')
    END;
END $$;

-- The tool a SQL function makes: its name, its comment as the description
-- ("@param name text" lines describe arguments), its input arguments as the
-- parameters schema (those without a default are required).
CREATE FUNCTION ai_gateway.tool_schema(fn regprocedure) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    props jsonb := '{}';
    req jsonb := '[]';
    modes text[];
    types oid[];
    names text[];
    k int := 0;
    descr text;
    pdesc jsonb := '{}';
    line text;
    m text[];
    sch jsonb;
BEGIN
    SELECT pr.oid, pr.proname, pr.prokind, pr.pronargs, pr.pronargdefaults, pr.proargnames,
           pr.proargmodes::text[] AS modes, pr.proallargtypes, ARRAY(SELECT unnest(pr.proargtypes::oid[])) AS argtypes,
           obj_description(pr.oid, 'pg_proc') AS comment
      INTO p FROM pg_proc pr WHERE pr.oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function % does not exist', fn USING ERRCODE = 'undefined_function';
    END IF;
    IF p.prokind <> 'f' THEN
        RAISE EXCEPTION '% is not a plain function', fn
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Procedures, aggregates and window functions cannot be tools.';
    END IF;
    IF p.proname !~ '^[A-Za-z0-9_-]{1,64}$' THEN
        RAISE EXCEPTION 'function name "%" cannot be a tool name', p.proname
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A tool name is 1 to 64 letters, digits, underscores or hyphens: wrap the function in one so named.';
    END IF;
    modes := coalesce(p.modes, array_fill('i'::text, ARRAY[p.pronargs]));
    types := coalesce(p.proallargtypes, p.argtypes);
    names := coalesce(p.proargnames, '{}');
    -- the comment: "@param name text" lines describe arguments, the rest the tool
    FOREACH line IN ARRAY string_to_array(coalesce(p.comment, ''), E'\n') LOOP
        m := regexp_match(line, '^\s*@param\s+(\S+)\s+(.*)$');
        IF m IS NULL THEN
            descr := concat_ws(E'\n', descr, line);
        ELSE
            pdesc := pdesc || jsonb_build_object(m[1], m[2]);
        END IF;
    END LOOP;
    FOR j IN 1 .. coalesce(array_length(modes, 1), 0) LOOP
        CONTINUE WHEN modes[j] NOT IN ('i', 'b', 'v');
        k := k + 1;
        IF names[j] IS NULL OR names[j] = '' THEN
            RAISE EXCEPTION 'argument % of % has no name', k, fn
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The model passes arguments by name: name them, e.g. CREATE FUNCTION f(city text).';
        END IF;
        sch := ai_gateway.type_schema(types[j]);
        IF pdesc ? names[j] THEN
            sch := sch || jsonb_build_object('description', pdesc ->> names[j]);
        END IF;
        props := props || jsonb_build_object(names[j], sch);
        IF k <= p.pronargs - p.pronargdefaults THEN
            req := req || to_jsonb(names[j]);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('name', p.proname,
                              'description', coalesce(nullif(btrim(descr, E' \n'), ''), p.proname),
                              'parameters', jsonb_build_object('type', 'object', 'properties', props,
                                                               'required', req));
END $$;

-- Call fn with the model's arguments (a JSON object, by argument name) as
-- the calling role; at most max_rows rows come back, as JSON.  The function
-- runs with search_path (the caller's, from ai_chat_tools) when one is given,
-- else with this function's pinned one.
CREATE FUNCTION ai_gateway.call_tool(fn regprocedure, arguments jsonb, max_rows int DEFAULT 50,
                                     search_path text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    modes text[];
    types oid[];
    names text[];
    k int := 0;
    args text[] := '{}';
    expr text;
    sql text;
    rows jsonb;
    ret_composite bool;
    result jsonb;
BEGIN
    IF NOT has_function_privilege(fn, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function %', fn
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A tool runs with the caller''s rights: offer only functions you may EXECUTE.';
    END IF;
    IF arguments IS NULL OR jsonb_typeof(arguments) <> 'object' THEN
        RAISE EXCEPTION 'tool arguments must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
        RAISE EXCEPTION 'max_rows must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pr.oid, pr.proname, pr.pronamespace::regnamespace AS nsp, pr.pronargs, pr.pronargdefaults,
           pr.proargnames, pr.proargmodes::text[] AS modes, pr.proallargtypes,
           ARRAY(SELECT unnest(pr.proargtypes::oid[])) AS argtypes, pr.prorettype, pr.proretset, pr.prokind,
           (SELECT typtype FROM pg_type WHERE oid = pr.prorettype) AS rettyptype
      INTO p FROM pg_proc pr WHERE pr.oid = fn;
    IF p.prokind <> 'f' THEN
        RAISE EXCEPTION '% is not a plain function', fn USING ERRCODE = 'feature_not_supported';
    END IF;
    modes := coalesce(p.modes, array_fill('i'::text, ARRAY[p.pronargs]));
    types := coalesce(p.proallargtypes, p.argtypes);
    names := coalesce(p.proargnames, '{}');
    FOR j IN 1 .. coalesce(array_length(modes, 1), 0) LOOP
        CONTINUE WHEN modes[j] NOT IN ('i', 'b', 'v');
        k := k + 1;
        IF NOT arguments ? names[j] OR arguments -> names[j] = 'null'::jsonb THEN
            IF k <= p.pronargs - p.pronargdefaults THEN
                RAISE EXCEPTION 'argument "%" is missing', names[j]
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            CONTINUE;
        END IF;
        IF types[j] IN ('json'::regtype, 'jsonb'::regtype) THEN
            expr := format('($1 -> %L)::%s', names[j], format_type(types[j], NULL));
        ELSIF (SELECT typcategory = 'A' FROM pg_type WHERE oid = types[j]) THEN
            expr := format('(SELECT array_agg(x) FROM jsonb_array_elements_text($1 -> %L) x)::%s',
                           names[j], format_type(types[j], NULL));
        ELSE
            expr := format('($1 ->> %L)::%s', names[j], format_type(types[j], NULL));
        END IF;
        args := args || format('%I => %s', names[j], expr);
    END LOOP;
    sql := format('%I.%I(%s)', p.nsp, p.proname, array_to_string(args, ', '));
    IF search_path IS NOT NULL THEN
        PERFORM set_config('search_path', search_path, true);
    END IF;
    ret_composite := p.rettyptype = 'c' OR p.prorettype = 'record'::regtype;
    IF p.prorettype = 'void'::regtype THEN
        EXECUTE 'SELECT ' || sql USING arguments;
        RETURN '{"ok": true}';
    ELSIF p.proretset OR ret_composite THEN
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(r)), ''[]'') FROM (SELECT * FROM %s LIMIT %s) r',
                       sql, max_rows + 1)
            INTO rows USING arguments;
        IF jsonb_array_length(rows) > max_rows THEN
            RETURN jsonb_build_object('rows', rows - max_rows, 'truncated', true,
                                      'note', format('only the first %s rows', max_rows));
        END IF;
        RETURN CASE WHEN p.proretset THEN jsonb_build_object('rows', rows) ELSE rows -> 0 END;
    END IF;
    EXECUTE format('SELECT to_jsonb(%s)', sql) INTO result USING arguments;
    RETURN coalesce(result, 'null');
END $$;

-- The whole tool loop: offer the functions as tools, run each call the model
-- makes (as the caller, each in its own subtransaction), send the results
-- back, until the model answers or max_tool_rounds is reached.
CREATE FUNCTION ai_gateway.run_tools(messages jsonb, tools regprocedure[], model text,
                                     options jsonb, search_path text)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    max_rounds int;
    max_rows int;
    max_result_bytes constant int := 65536;
    defs jsonb := '[]';
    byname jsonb := '{}';
    def jsonb;
    fn regprocedure;
    opts jsonb;
    msgs jsonb := messages;
    res jsonb;
    call jsonb;
    result jsonb;
    result_text text;
    steps jsonb := '[]';
    called jsonb := '[]';
BEGIN
    IF messages IS NULL THEN
        RETURN NULL;
    END IF;
    options := coalesce(options, '{}');
    IF tools IS NULL OR cardinality(tools) = 0 THEN
        RAISE EXCEPTION 'ai_chat_tools needs at least one tool function'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ARRAY[''lookup_price(text)''::regprocedure].';
    END IF;
    IF options ? 'tools' OR options ? 'tool_choice' THEN
        RAISE EXCEPTION 'ai_chat_tools: options must not carry tools or tool_choice'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The tools are the functions passed in; use ai_chat to offer tools yourself.';
    END IF;
    max_rounds := coalesce((options ->> 'max_tool_rounds')::int, 5);
    max_rows := coalesce((options ->> 'max_tool_rows')::int, 50);
    IF max_rounds NOT BETWEEN 1 AND 50 OR max_rows NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_tool_rounds must be between 1 and 50 and max_tool_rows between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH fn IN ARRAY tools LOOP
        IF NOT has_function_privilege(fn, 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied for function %', fn
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A tool runs with the caller''s rights: offer only functions you may EXECUTE.';
        END IF;
        def := ai_gateway.tool_schema(fn);
        IF byname ? (def ->> 'name') THEN
            RAISE EXCEPTION 'two tools are named "%"', def ->> 'name'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Tool names must be distinct: wrap one of the functions under another name.';
        END IF;
        byname := byname || jsonb_build_object(def ->> 'name', fn::oid);
        defs := defs || def;
    END LOOP;
    opts := (options - 'max_tool_rounds' - 'max_tool_rows') || jsonb_build_object('tools', defs);
    FOR round IN 1 .. max_rounds + 1 LOOP
        res := @extschema@.ai_chat(msgs, model, opts || jsonb_build_object('metadata',
                   coalesce(options -> 'metadata', '{}')
                   || jsonb_build_object('tool_round', round, 'tools_called', called)));
        IF coalesce(jsonb_array_length(res -> 'tool_calls'), 0) = 0 THEN
            RETURN res || jsonb_build_object('tool_rounds', round - 1, 'tool_steps', steps);
        END IF;
        IF round > max_rounds THEN
            RAISE EXCEPTION 'the model still asked for tools after % rounds', max_rounds
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = 'Raise options.max_tool_rounds, or make the question narrower.';
        END IF;
        msgs := msgs || jsonb_build_array(jsonb_build_object('role', 'assistant',
                    'content', res -> 'content', 'tool_calls', res -> 'tool_calls'));
        called := '[]';
        FOR call IN SELECT value FROM jsonb_array_elements(res -> 'tool_calls') LOOP
            IF NOT byname ? (call ->> 'name') THEN
                result := jsonb_build_object('error', format('there is no tool named %s', call ->> 'name'));
            ELSE
                BEGIN
                    result := ai_gateway.call_tool((byname ->> (call ->> 'name'))::oid::regprocedure,
                                                   call -> 'arguments', max_rows, run_tools.search_path);
                EXCEPTION WHEN OTHERS THEN
                    result := jsonb_build_object('error', SQLERRM);
                END;
            END IF;
            result_text := result::text;
            IF octet_length(result_text) > max_result_bytes THEN
                result_text := left(result_text, max_result_bytes / 4) || ' ... (truncated)';
            END IF;
            msgs := msgs || jsonb_build_array(jsonb_build_object('role', 'tool',
                        'tool_call_id', call ->> 'id', 'name', call ->> 'name', 'content', result_text));
            called := called || to_jsonb(call ->> 'name');
            steps := steps || jsonb_build_object('round', round, 'name', call ->> 'name',
                        'arguments', call -> 'arguments', 'result', result);
        END LOOP;
    END LOOP;
    RETURN NULL;                -- not reached
END $$;
-- The entry points read the caller's search_path before any pinned function
-- runs (tools_api.c) and call run_tools with it.
CREATE FUNCTION @extschema@.ai_chat_tools(messages jsonb, tools regprocedure[],
                                          model text DEFAULT NULL, options jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_chat_tools';
COMMENT ON FUNCTION @extschema@.ai_chat_tools(jsonb, regprocedure[], text, jsonb) IS
    'Chat with SQL functions as tools: their schemas from the signatures and comments, each call run as the caller with the caller''s search_path (max_tool_rows rows back), at most max_tool_rounds rounds, each round audited; returns the final ai_chat object plus tool_rounds and tool_steps';

CREATE FUNCTION @extschema@.ai_complete_tools(prompt text, tools regprocedure[],
                                              model text DEFAULT NULL, options jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_complete_tools';
COMMENT ON FUNCTION @extschema@.ai_complete_tools(text, regprocedure[], text, jsonb) IS
    'Answer a prompt with SQL functions as tools (see ai_chat_tools); returns the text';

------------------------------------------------------------------------------
-- Enrichment pipelines (issue 16, item 1): keep a column of a table equal to
-- an embedding, completion or extraction of a source expression, computed in
-- the background (background/pipelines.c) as the role that created it.
------------------------------------------------------------------------------

-- (section: pipelines)
CREATE TABLE ai_gateway.pipelines (
    id             serial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    source         regclass NOT NULL,
    source_expr    text NOT NULL,
    target_column  name NOT NULL,
    model          text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('embed', 'complete', 'extract')),
    options        jsonb NOT NULL DEFAULT '{}',
    key_columns    name[] NOT NULL,
    source_columns name[] NOT NULL,
    search_path    text NOT NULL,
    owner          regrole NOT NULL,
    paused         boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    done           bigint NOT NULL DEFAULT 0,
    skipped        bigint NOT NULL DEFAULT 0,
    last_run_at    timestamptz,
    busy_since     timestamptz,
    busy_rows      bigint NOT NULL DEFAULT 0,
    rows_per_s     double precision,
    backoffs       int NOT NULL DEFAULT 0,
    retry_at       timestamptz,
    last_error     text
) WITH (fillfactor = 50);
COMMENT ON TABLE ai_gateway.pipelines IS
    'Enrichment pipelines (create_pipeline): definitions and counters; see the pipeline_status view';

-- Writers append (pipeline, row key, hash of the source columns); the worker
-- deletes what it claims (FOR UPDATE SKIP LOCKED), so the table holds only
-- what is still to do, and autovacuum, told to look often, reuses the space.
CREATE TABLE ai_gateway.pipeline_queue (
    pipeline  int NOT NULL,
    source    oid NOT NULL,
    seq       bigserial,
    key       jsonb NOT NULL,
    hash      text NOT NULL,
    attempts  int NOT NULL DEFAULT 0,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, seq)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
        autovacuum_vacuum_cost_delay = 0);
COMMENT ON TABLE ai_gateway.pipeline_queue IS
    'Rows waiting for a pipeline: appended by the pipelines'' triggers, deleted by the worker as it claims them';
-- The triggers run as the writer: a writer may queue rows of the tables it
-- writes (the worker only takes rows of the pipeline's own table), nothing else.
ALTER TABLE ai_gateway.pipeline_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_queue_writers ON ai_gateway.pipeline_queue FOR INSERT
    WITH CHECK (has_any_column_privilege(source, 'INSERT') OR has_any_column_privilege(source, 'UPDATE'));
GRANT INSERT (pipeline, source, key, hash) ON ai_gateway.pipeline_queue TO PUBLIC;
GRANT USAGE ON SEQUENCE ai_gateway.pipeline_queue_seq_seq TO PUBLIC;

CREATE TABLE ai_gateway.pipeline_failed (
    pipeline   int NOT NULL,
    key        jsonb NOT NULL,
    error      text NOT NULL,
    sqlstate   text,
    attempts   int NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, key)
);
COMMENT ON TABLE ai_gateway.pipeline_failed IS
    'Rows a pipeline could not compute, with the error (see the pipeline_failures view)';

SELECT pg_catalog.pg_extension_config_dump('ai_gateway.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.pipelines_id_seq', '');

-- Runs a pipeline action as the extension's owner, the caller passed along (pipeline_api.c).
CREATE FUNCTION ai_gateway.pipeline_admin(action text, args jsonb) RETURNS jsonb
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_pipeline_admin';

-- The hash of a row's source columns, as the triggers and the worker write it.
CREATE FUNCTION ai_gateway.pipeline_hash_sql(source_columns name[], alias text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('md5(ROW(%s)::text)',
                  string_agg(quote_ident(alias) || '.' || quote_ident(c) || '::text', ', ' ORDER BY o))
    FROM unnest(source_columns) WITH ORDINALITY AS u(c, o)
$$;

-- The row key as jsonb, and the join of a table row to a key.
CREATE FUNCTION ai_gateway.pipeline_key_sql(key_columns name[], alias text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('jsonb_build_object(%s)',
                  string_agg(quote_literal(c) || ', ' || quote_ident(alias) || '.' || quote_ident(c), ', ' ORDER BY o))
    FROM unnest(key_columns) WITH ORDINALITY AS u(c, o)
$$;

CREATE FUNCTION ai_gateway.pipeline_key_join(source regclass, key_columns name[], alias text, key_expr text)
    RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(format('%I.%I = (%s ->> %L)::%s', alias, c, key_expr, c,
                             format_type(a.atttypid, a.atttypmod)), ' AND ' ORDER BY o)
    FROM unnest(key_columns) WITH ORDINALITY AS u(c, o)
    JOIN pg_attribute a ON a.attrelid = source AND a.attname = u.c
$$;

-- The queueing triggers of a pipeline (section: pipetrig): pipeline_enqueue
-- (api/pipeline_trigger.c) AFTER INSERT per statement over the new rows
-- (per row on a partitioned table, so that an INSERT into a partition
-- queues too), and AFTER UPDATE per row when a source column changed; both queue
-- (pipeline, table, key, hash) with the key and hash SQL the worker uses.
CREATE FUNCTION ai_gateway.pipeline_enqueue() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_pipeline_enqueue';
REVOKE ALL ON FUNCTION ai_gateway.pipeline_enqueue() FROM PUBLIC;
CREATE FUNCTION ai_gateway.pipeline_create_triggers(pid int, src regclass, keys name[], cols name[])
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s %s EXECUTE FUNCTION ai_gateway.pipeline_enqueue(%L, %L, %L)',
                   'ai_pipeline_' || pid || '_insert', src,
                   -- a partitioned table's statement triggers miss an INSERT naming a partition: per row there
                   CASE WHEN (SELECT relkind FROM pg_class WHERE oid = src) = 'p' THEN 'FOR EACH ROW'
                        ELSE 'REFERENCING NEW TABLE AS pipeline_new_rows FOR EACH STATEMENT' END, pid,
                   ai_gateway.pipeline_key_sql(keys, 'n'), ai_gateway.pipeline_hash_sql(cols, 'n'));
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %s ON %s FOR EACH ROW WHEN (%s) '
                   'EXECUTE FUNCTION ai_gateway.pipeline_enqueue(%L, %L, %L)',
                   'ai_pipeline_' || pid || '_update',
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c), src,
                   (SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ') FROM unnest(cols) c),
                   pid, ai_gateway.pipeline_key_sql(keys, 'n'), ai_gateway.pipeline_hash_sql(cols, 'n'));
END $$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_create_triggers(int, regclass, name[], name[]) FROM PUBLIC;

-- The actions, as the extension's owner; `caller` is the role that asked.
CREATE FUNCTION ai_gateway.pipeline_admin_do(action text, args jsonb, caller regrole) RETURNS jsonb
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $adm$
DECLARE
    p        ai_gateway.pipelines;
    src      regclass;
    tgt      name := args ->> 'target_column';
    k        text := coalesce(args ->> 'kind', 'embed');
    opts     jsonb := coalesce(args -> 'options', '{}');
    keys     name[];
    cols     name[];
    ttype    text;
    pid      int;
    n        bigint;
    tbl      text;
BEGIN
    IF action = 'create' THEN
        src := (args ->> 'source')::oid::regclass;
        IF args ->> 'name' IS NULL OR args ->> 'source_expr' IS NULL OR tgt IS NULL OR args ->> 'model' IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: name, source, source_expr, target_column and model are required'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF k NOT IN ('embed', 'complete', 'extract') THEN
            RAISE EXCEPTION 'create_pipeline: kind must be embed, complete or extract, not %', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'embed fills real[] or vector columns, complete text, extract jsonb (options.schema).';
        END IF;
        IF jsonb_typeof(opts) <> 'object' THEN
            RAISE EXCEPTION 'create_pipeline: options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF k = 'extract' AND jsonb_typeof(opts -> 'schema') IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'create_pipeline: kind extract needs options.schema, a JSON schema object'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example {"schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}.';
        END IF;
        IF (SELECT relkind FROM pg_class WHERE oid = src) NOT IN ('r', 'p') THEN
            RAISE EXCEPTION 'create_pipeline: % is not a table', src USING ERRCODE = 'wrong_object_type';
        END IF;
        -- what CREATE TRIGGER asks (the queueing trigger), and the write-back's UPDATE
        IF NOT has_table_privilege(caller, src, 'TRIGGER') OR NOT has_table_privilege(caller, src, 'SELECT') THEN
            RAISE EXCEPTION 'create_pipeline: permission denied for table %', src
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A pipeline needs its creator to own the table (or hold TRIGGER and SELECT on it, and UPDATE on the target column).';
        END IF;
        SELECT format_type(a.atttypid, a.atttypmod) INTO ttype
            FROM pg_attribute a WHERE a.attrelid = src AND a.attname = tgt AND a.attnum > 0 AND NOT a.attisdropped;
        IF ttype IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: table % has no column %', src, tgt USING ERRCODE = 'undefined_column';
        END IF;
        IF NOT has_column_privilege(caller, src, tgt, 'UPDATE') THEN
            RAISE EXCEPTION 'create_pipeline: permission denied to update column % of %', tgt, src
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF (k = 'embed' AND ttype NOT IN ('real[]', 'double precision[]') AND ttype NOT LIKE 'vector%' AND ttype NOT LIKE 'halfvec%')
           OR (k = 'complete' AND ttype NOT IN ('text', 'character varying') AND ttype NOT LIKE 'character varying(%')
           OR (k = 'extract' AND ttype NOT IN ('jsonb', 'json')) THEN
            RAISE EXCEPTION 'create_pipeline: a pipeline of kind % cannot fill column % of type %', k, tgt, ttype
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'embed fills real[] or vector columns, complete text, extract jsonb.';
        END IF;
        SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO keys
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = src AND i.indisprimary;
        IF keys IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: table % has no primary key', src
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'The queue names rows by their primary key: add one.';
        END IF;
        -- the source columns: given, or the table's columns the expression names
        IF opts ? 'columns' THEN
            SELECT array_agg(c::name) INTO cols FROM jsonb_array_elements_text(opts -> 'columns') c;
        ELSE
            SELECT array_agg(a.attname ORDER BY a.attnum) INTO cols FROM pg_attribute a
             WHERE a.attrelid = src AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> tgt
               AND (position(quote_ident(a.attname) IN args ->> 'source_expr') > 0 AND quote_ident(a.attname) <> a.attname
                    OR (args ->> 'source_expr') ~* ('(^|[^a-z0-9_$"])' || a.attname || '($|[^a-z0-9_$"])'));
        END IF;
        IF (args ->> 'source_expr') ~* ('(^|[^a-z0-9_$"])' || tgt || '($|[^a-z0-9_$"])')
           OR position(quote_ident(tgt) IN args ->> 'source_expr') > 0 THEN
            RAISE EXCEPTION 'create_pipeline: the source expression must not use the target column %', tgt
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The pipeline writes the target column from the source: it cannot read it too.';
        END IF;
        IF cols IS NULL OR tgt = ANY (cols) OR EXISTS (SELECT 1 FROM unnest(cols) c WHERE NOT EXISTS
               (SELECT 1 FROM pg_attribute a WHERE a.attrelid = src AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped)) THEN
            RAISE EXCEPTION 'create_pipeline: the source expression must name columns of % other than the target', src
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name them in options.columns when the expression hides them.';
        END IF;
        IF EXISTS (SELECT 1 FROM ai_gateway.pipelines WHERE name = args ->> 'name') THEN
            RAISE EXCEPTION 'create_pipeline: pipeline "%" exists', args ->> 'name' USING ERRCODE = 'duplicate_object';
        END IF;
        IF EXISTS (SELECT 1 FROM ai_gateway.pipelines WHERE source = src AND target_column = tgt) THEN
            RAISE EXCEPTION 'create_pipeline: column % of % is already kept by a pipeline', tgt, src
                USING ERRCODE = 'duplicate_object';
        END IF;
        INSERT INTO ai_gateway.pipelines (name, source, source_expr, target_column, model, kind, options,
                                          key_columns, source_columns, search_path, owner)
        VALUES (args ->> 'name', src, args ->> 'source_expr', tgt, args ->> 'model', k, opts - 'columns',
                keys, cols, coalesce(args ->> 'search_path', 'pg_catalog'), caller)
        RETURNING id INTO pid;
        -- the queueing triggers: built-in functions on column values only, never the expression
        PERFORM ai_gateway.pipeline_create_triggers(pid, src, keys, cols);
        -- the rows there now (the trigger holds writers off until this commits)
        n := 0;
        IF coalesce((opts ->> 'backfill')::boolean, true) THEN
            EXECUTE format('INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash) SELECT %s, %s, %s, %s FROM %s AS t',
                           pid, src::oid, ai_gateway.pipeline_key_sql(keys, 't'), ai_gateway.pipeline_hash_sql(cols, 't'), src);
            GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
        RETURN jsonb_build_object('id', pid, 'queued', n);
    END IF;

    SELECT * INTO p FROM ai_gateway.pipelines WHERE name = args ->> 'name';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline "%" does not exist', args ->> 'name' USING ERRCODE = 'undefined_object',
            HINT = 'SELECT name FROM ai_gateway.pipeline_status lists them.';
    END IF;
    IF NOT pg_has_role(caller, p.owner, 'USAGE') AND NOT pg_has_role(caller, 'ai_gateway_admin', 'USAGE')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = caller) THEN
        RAISE EXCEPTION 'permission denied for pipeline "%"', p.name USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only its owner (or an administrator) may change a pipeline.';
    END IF;
    IF action = 'pause' OR action = 'resume' THEN
        UPDATE ai_gateway.pipelines SET paused = (action = 'pause'), retry_at = NULL, backoffs = 0
         WHERE id = p.id;
        RETURN jsonb_build_object('paused', action = 'pause');
    ELSIF action = 'retry' THEN
        WITH f AS (DELETE FROM ai_gateway.pipeline_failed WHERE pipeline = p.id RETURNING key)
        INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash) SELECT p.id, p.source, key, '' FROM f;
        GET DIAGNOSTICS n = ROW_COUNT;
        UPDATE ai_gateway.pipelines SET retry_at = NULL, backoffs = 0 WHERE id = p.id;
        RETURN jsonb_build_object('queued', n);
    ELSIF action = 'drop' THEN
        tbl := CASE WHEN EXISTS (SELECT 1 FROM pg_class WHERE oid = p.source) THEN p.source::text END;
        IF tbl IS NOT NULL THEN
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_insert', tbl);
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_update', tbl);
        END IF;
        DELETE FROM ai_gateway.pipeline_queue WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipeline_failed WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipelines WHERE id = p.id;
        RETURN jsonb_build_object('dropped', true);
    END IF;
    RAISE EXCEPTION 'unknown pipeline action %', action USING ERRCODE = 'invalid_parameter_value';
END $adm$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_admin_do(text, jsonb, regrole) FROM PUBLIC;

CREATE FUNCTION ai_gateway.create_pipeline(name text, source regclass, source_expr text,
                                           target_column name, model text,
                                           kind text DEFAULT 'embed', options jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_create_pipeline';
COMMENT ON FUNCTION ai_gateway.create_pipeline(text, regclass, text, name, text, text, jsonb) IS
    'Keep target_column of a table equal to an embedding (kind embed), completion (complete) or extraction (extract, options.schema) of source_expr through model, in the background as the calling role; queues the existing rows; returns how many';

CREATE FUNCTION ai_gateway.pause_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('pause', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.resume_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('resume', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.drop_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('drop', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.retry_pipeline_failures(name text) RETURNS bigint
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (ai_gateway.pipeline_admin('retry', jsonb_build_object('name', name)) ->> 'queued')::bigint
$$;
COMMENT ON FUNCTION ai_gateway.pause_pipeline(text) IS 'Stop computing a pipeline''s rows (writers still queue them)';
COMMENT ON FUNCTION ai_gateway.resume_pipeline(text) IS 'Compute a paused (or backing-off) pipeline''s rows again';
COMMENT ON FUNCTION ai_gateway.drop_pipeline(text) IS 'Drop a pipeline: its triggers, queue and failures (the target column keeps its values)';
COMMENT ON FUNCTION ai_gateway.retry_pipeline_failures(text) IS 'Queue a pipeline''s failed rows again; returns how many';

-- Whether a failure with this SQLSTATE may pass (an outage, a rate limit): the row is kept queued.
CREATE FUNCTION ai_gateway.pipeline_retryable(state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (left(state, 2) = 'UP' AND state <> 'UP005') OR state IN ('53000', '58000', '40001', '40P01', '55P03')
$$;

-- One batch of a pipeline, as its owner (the worker switches to it): reads
-- the rows' source, calls the model through the call pipeline, writes back
-- where the source columns still hash as read.  One row out per input row:
-- done, skipped (changed or gone meanwhile: queued again by its trigger),
-- retry or failed (with the error).
CREATE FUNCTION ai_gateway.pipeline_compute(pipeline_name text, source regclass, source_expr text,
                                            target_column name, key_columns name[], source_columns name[],
                                            model text, kind text, options jsonb, search_path text,
                                            keys jsonb[], hashes text[])
    RETURNS TABLE (ord int, outcome text, error text, state text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ttype   text;
    rd_keys jsonb[];
    rd_ords int[];
    rd_hash text[];
    rd_vals text[];
    written int[];
    nulls_w int[];
    c_vals  text[];
    c_errs  text[];
    c_retry boolean[];
    c_state text[];
    call_opts jsonb;
    sys     text;
    hashsql text := ai_gateway.pipeline_hash_sql(source_columns, 't');
    joinsql text := ai_gateway.pipeline_key_join(source, key_columns, 't', 'w.key');
    st      text;
    msg     text;
    reported int[] := '{}';
    batched int[] := '{}';
    all_ords int[];
BEGIN
    PERFORM set_config('search_path', search_path || ', pg_temp', true);
    SELECT format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = target_column AND NOT a.attisdropped;
    call_opts := (options - 'schema' - 'system_prompt' - 'backfill' - 'batch_size')
                 || jsonb_build_object('metadata', coalesce(options -> 'metadata', '{}') || jsonb_build_object('pipeline', pipeline_name));
    -- the current source of each row (its latest entry), unless the source
    -- changed since it was queued (the change queued it again: done then)
    EXECUTE format('SELECT array_agg(w.key ORDER BY w.ord), array_agg(w.ord::int ORDER BY w.ord), '
                   'array_agg(%s ORDER BY w.ord), array_agg((%s)::text ORDER BY w.ord) '
                   'FROM (SELECT DISTINCT ON (key) key, h, ord FROM unnest($1, $2) WITH ORDINALITY AS u(key, h, ord) '
                   '      ORDER BY key, ord DESC) w '
                   'JOIN %s AS t ON %s WHERE w.h = '''' OR w.h = %s', hashsql, source_expr, source, joinsql, hashsql)
        INTO rd_keys, rd_ords, rd_hash, rd_vals USING keys, hashes;
    IF rd_keys IS NULL THEN
        RETURN QUERY SELECT g::int, 'skipped', NULL::text, NULL::text FROM generate_series(1, cardinality(keys)) g;
        RETURN;
    END IF;
    all_ords := rd_ords;
    written := '{}';
    BEGIN
        -- empty sources: the target is NULL, no call
        EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = NULL FROM unnest($1, $2, $3, $4) AS w(key, ord, h, v) '
                       'WHERE coalesce(w.v, '''') = '''' AND %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                       source, target_column, joinsql, hashsql)
            INTO nulls_w USING rd_keys, rd_ords, rd_hash, rd_vals;
        SELECT array_agg(k), array_agg(o), array_agg(h), array_agg(v) INTO rd_keys, rd_ords, rd_hash, rd_vals
          FROM unnest(rd_keys, rd_ords, rd_hash, rd_vals) AS u(k, o, h, v) WHERE coalesce(v, '') <> '';
        IF rd_keys IS NULL THEN
            written := '{}';
        ELSIF kind = 'embed' THEN
            EXECUTE format('WITH w AS (SELECT * FROM unnest($1, $2, $3) WITH ORDINALITY AS w(key, ord, h, i)), '
                           'e AS MATERIALIZED (SELECT * FROM @extschema@.ai_embed($4, $5, $6)), '
                           'd AS (UPDATE %s AS t SET %I = e.embedding::%s FROM w JOIN e ON e.ordinality = w.i '
                           'WHERE %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                           source, target_column, ttype, joinsql, hashsql)
                INTO written USING rd_keys, rd_ords, rd_hash, rd_vals, model, call_opts;
        ELSE
            IF kind = 'extract' THEN
                sys := 'Extract the information described by this JSON schema from the user''s text. '
                       || 'Answer with one JSON value of the schema and nothing else; use null for what the text does not say. Schema: '
                       || (options -> 'schema')::text;
                call_opts := call_opts || jsonb_build_object('response_format', jsonb_build_object(
                    'type', 'json_schema',
                    'json_schema', jsonb_build_object('name', 'extraction', 'strict', true,
                                                      'schema', ai_gateway.strict_schema(options -> 'schema'))));
            ELSE
                sys := options ->> 'system_prompt';
            END IF;
            IF (options ->> 'batch')::boolean THEN
                -- the Batch API mode: each row becomes a batch job of the owner's,
                -- written back when its provider batch answers (pipeline_write_one)
                FOR i IN 1 .. cardinality(rd_keys) LOOP
                    PERFORM @extschema@.ai_complete_async(rd_vals[i], model, sys,
                        call_opts || jsonb_build_object('metadata', (call_opts -> 'metadata')
                            || jsonb_build_object('pipeline_key', rd_keys[i], 'pipeline_hash', rd_hash[i])));
                END LOOP;
                batched := rd_ords;
            ELSE
            SELECT array_agg(b.completion ORDER BY b.ordinality), array_agg(b.error ORDER BY b.ordinality),
                   array_agg(b.retryable OR ai_gateway.pipeline_retryable(b.sqlstate) ORDER BY b.ordinality),
                   array_agg(b.sqlstate ORDER BY b.ordinality)
              INTO c_vals, c_errs, c_retry, c_state
              FROM ai_gateway.pipeline_complete_batch(rd_vals, model, sys, call_opts) b;
            FOR i IN 1 .. cardinality(rd_keys) LOOP
                IF c_errs[i] IS NOT NULL THEN
                    ord := rd_ords[i]; outcome := CASE WHEN c_retry[i] THEN 'retry' ELSE 'failed' END;
                    error := c_errs[i]; state := c_state[i];
                    reported := reported || ord;
                    RETURN NEXT;
                ELSIF kind = 'extract' THEN
                    BEGIN
                        PERFORM c_vals[i]::jsonb;
                    EXCEPTION WHEN others THEN
                        ord := rd_ords[i]; outcome := 'failed'; error := 'the answer is not JSON: ' || left(c_vals[i], 200);
                        state := 'UP005';
                        c_errs[i] := error;
                        reported := reported || ord;
                        RETURN NEXT;
                    END;
                END IF;
            END LOOP;
            EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = w.v::%s '
                           'FROM unnest($1, $2, $3, $4, $5) AS w(key, ord, h, v, err) '
                           'WHERE w.err IS NULL AND %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                           source, target_column, ttype, joinsql, hashsql)
                INTO written USING rd_keys, rd_ords, rd_hash, c_vals, c_errs;
            END IF;
        END IF;
    EXCEPTION WHEN others THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RETURN QUERY SELECT o, CASE WHEN ai_gateway.pipeline_retryable(st) THEN 'retry' ELSE 'failed' END, msg, st
                       FROM unnest(all_ords) o WHERE NOT o = ANY (reported);
        reported := reported || all_ords;
        nulls_w := '{}';
        batched := '{}';    -- the jobs went with the subtransaction
    END;
    -- queued as batch jobs (committed with this batch): settled when their answers come
    RETURN QUERY SELECT o, 'batched', NULL::text, NULL::text FROM unnest(batched) o;
    reported := reported || batched;
    -- the rest: written, or skipped (changed, deleted, or the same key twice in the batch)
    RETURN QUERY SELECT g::int, CASE WHEN g = ANY (coalesce(written, '{}') || coalesce(nulls_w, '{}')) THEN 'done' ELSE 'skipped' END,
                        NULL::text, NULL::text
                   FROM generate_series(1, cardinality(keys)) g
                  WHERE NOT g = ANY (reported);
END $$;

-- One row of a pipeline in the Batch API mode, answered: as the pipeline's
-- owner (the job worker switches to it), the answer is written to the target
-- column where the row's source columns still hash as when it was queued.
-- 'done', or 'skipped' (the row changed or went meanwhile: its trigger queued
-- it again).
CREATE FUNCTION ai_gateway.pipeline_write_one(source regclass, target_column name, key_columns name[],
                                              source_columns name[], search_path text, key jsonb, hash text,
                                              value text)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ttype text;
    n     int;
BEGIN
    -- the creator's search_path, as pipeline_compute has it (the table's triggers see it)
    PERFORM set_config('search_path', search_path || ', pg_temp', true);
    SELECT format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = target_column AND NOT a.attisdropped;
    EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = $3::%s FROM (SELECT $1::jsonb AS key) w '
                   'WHERE %s AND %s = $2 RETURNING 1) SELECT count(*) FROM d',
                   source, target_column, ttype,
                   ai_gateway.pipeline_key_join(source, key_columns, 't', 'w.key'),
                   ai_gateway.pipeline_hash_sql(source_columns, 't'))
        INTO n USING key, hash, value;
    RETURN CASE WHEN n > 0 THEN 'done' ELSE 'skipped' END;
END $$;

-- The worker's bookkeeping for one batch (as the extension's owner): rows to
-- retry go back to the queue, failures are kept, counters and backoff.
CREATE FUNCTION ai_gateway.pipeline_settle(pid int, seqs bigint[], keys jsonb[], hashes text[], attempts int[],
                                           outcomes text[], errors text[], states text[], started timestamptz)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n_done  int;
    n_skip  int;
    n_retry int;
    own     boolean;
BEGIN
    SELECT count(*) FILTER (WHERE o = 'done'), count(*) FILTER (WHERE o = 'skipped'),
           count(*) FILTER (WHERE o = 'retry')
      INTO n_done, n_skip, n_retry FROM unnest(outcomes) o;
    -- a row failing alone (others of its batch went through) used an attempt; an outage does not count
    own := n_done > 0;
    INSERT INTO ai_gateway.pipeline_failed AS f (pipeline, key, error, sqlstate, attempts)
    SELECT pid, u.k, coalesce(u.e, 'failed'), u.s, u.a + 1
      FROM unnest(keys, outcomes, errors, states, attempts) AS u(k, o, e, s, a)
     WHERE u.o = 'failed' OR (u.o = 'retry' AND own AND u.a + 1 >= 10)
    ON CONFLICT (pipeline, key) DO UPDATE SET error = excluded.error, sqlstate = excluded.sqlstate,
        attempts = f.attempts + 1, failed_at = now();
    INSERT INTO ai_gateway.pipeline_queue (pipeline, source, seq, key, hash, attempts)
    SELECT pid, (SELECT p.source FROM ai_gateway.pipelines p WHERE p.id = pid), u.q, u.k, u.h,
           u.a + CASE WHEN own THEN 1 ELSE 0 END
      FROM unnest(seqs, keys, hashes, outcomes, attempts) AS u(q, k, h, o, a)
     WHERE u.o = 'retry' AND NOT (own AND u.a + 1 >= 10);
    IF n_done > 0 THEN
        DELETE FROM ai_gateway.pipeline_failed f USING unnest(keys, outcomes) AS u(k, o)
         WHERE f.pipeline = pid AND f.key = u.k AND u.o = 'done';
    END IF;
    UPDATE ai_gateway.pipelines p SET
        done = p.done + n_done, skipped = p.skipped + n_skip, last_run_at = now(),
        busy_since = coalesce(p.busy_since, started),
        busy_rows = p.busy_rows + n_done + n_skip,
        rows_per_s = (p.busy_rows + n_done + n_skip)
                     / greatest(extract(epoch FROM clock_timestamp() - coalesce(p.busy_since, started)), 0.001),
        backoffs = CASE WHEN n_retry > 0 AND n_done = 0 THEN p.backoffs + 1 ELSE 0 END,
        retry_at = CASE WHEN n_retry > 0 AND n_done = 0
                        THEN clock_timestamp() + make_interval(secs => least(30, 0.25 * power(2, p.backoffs))) END,
        last_error = CASE WHEN n_retry > 0 OR n_done < cardinality(outcomes) - n_skip
                          THEN (SELECT e FROM unnest(errors) e WHERE e IS NOT NULL LIMIT 1) ELSE p.last_error END
     WHERE p.id = pid;
END $$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_settle(int, bigint[], jsonb[], text[], int[], text[], text[], text[], timestamptz) FROM PUBLIC;

-- Completions with their retryability (ai_complete_batch's, for pipeline_compute).
CREATE FUNCTION ai_gateway.pipeline_complete_batch(prompts text[], model text, system_prompt text, options jsonb)
    RETURNS TABLE (ordinality int, completion text, error text, retryable boolean, sqlstate text)
    LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
    AS 'MODULE_PATHNAME', 'aig_pipeline_complete_batch';

-- The failed rows of the pipelines a role owns (all, for administrators).
CREATE VIEW ai_gateway.pipeline_failures AS
SELECT p.name AS pipeline, f.key, f.error, f.sqlstate, f.attempts, f.failed_at
  FROM ai_gateway.pipeline_failed f JOIN ai_gateway.pipelines p ON p.id = f.pipeline
 WHERE pg_has_role(p.owner, 'USAGE') OR ai_gateway.is_admin();
COMMENT ON VIEW ai_gateway.pipeline_failures IS
    'Rows a pipeline could not compute, with the error and SQLSTATE (retry_pipeline_failures queues them again)';
GRANT SELECT ON ai_gateway.pipeline_failures TO PUBLIC;

CREATE VIEW ai_gateway.pipeline_status AS
SELECT p.name, p.source, p.target_column, p.kind, p.model, p.owner,
       CASE WHEN p.paused THEN 'paused'
            WHEN p.retry_at > now() THEN 'backing off'
            WHEN q.queued > 0 OR b.in_batch > 0 THEN 'running' ELSE 'idle' END AS state,
       q.queued, b.in_batch, p.done, p.skipped,
       (SELECT count(*) FROM ai_gateway.pipeline_failed f WHERE f.pipeline = p.id) AS failed,
       round(p.rows_per_s::numeric, 1) AS rows_per_s,
       CASE WHEN q.queued > 0 AND p.rows_per_s > 0
            THEN make_interval(secs => round(q.queued / p.rows_per_s)) END AS eta,
       p.retry_at, p.last_error, p.last_run_at, p.created_at
  FROM ai_gateway.pipelines p
  CROSS JOIN LATERAL (SELECT count(*) AS queued FROM ai_gateway.pipeline_queue q WHERE q.pipeline = p.id) q
  -- rows waiting in batch jobs (the Batch API mode: options.batch)
  CROSS JOIN LATERAL (SELECT count(*) AS in_batch FROM ai_gateway.jobs j
                       WHERE j.role = p.owner::text::name AND j.status IN ('queued', 'running') AND j.batch
                         AND j.request #>> '{options,metadata,pipeline}' = p.name) b
 WHERE pg_has_role(p.owner, 'USAGE') OR ai_gateway.is_admin();
COMMENT ON VIEW ai_gateway.pipeline_status IS
    'Each pipeline the role owns (all, for administrators): state, queued, in provider batches, done, skipped, failed, rows/s and ETA';
GRANT SELECT ON ai_gateway.pipeline_status TO PUBLIC;
