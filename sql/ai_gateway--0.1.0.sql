-- ai_gateway 0.1.0 — install script.
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
                                      'azure_openai', 'openai_compatible')),
    base_url          text
                      CHECK (base_url IS NULL OR base_url ~* '^https?://[^/?#@[:space:]]+(/[^?#[:space:]]*)?$'),
    api_key           text,           -- only a mask ("****" + last 4) is ever stored here
    api_key_encrypted text,           -- AES-256-GCM, sealed by ai_gateway.providers_protect_key
    options           jsonb NOT NULL DEFAULT '{}'
                      CHECK (jsonb_typeof(options) = 'object'),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ai_gateway.providers IS
    'AI providers: kind, base URL, encrypted API key, options (timeout_ms, connect_timeout_ms, api_version, headers, api_key_env, default_max_tokens, max_embed_batch)';

CREATE TABLE ai_gateway.routes (
    name        text PRIMARY KEY
                CHECK (name ~ '^[A-Za-z0-9_.:-]{1,200}$'),
    strategy    text NOT NULL DEFAULT 'fallback'
                CHECK (strategy IN ('fallback', 'weighted', 'cheapest', 'fastest', 'round_robin')),
    options     jsonb NOT NULL DEFAULT '{}'
                CHECK (jsonb_typeof(options) = 'object'),
    description text
);
COMMENT ON TABLE ai_gateway.routes IS
    'Named routes that calls address; options: timeout_ms, system_prompt, and more in later versions';

CREATE TABLE ai_gateway.route_targets (
    route    text NOT NULL REFERENCES ai_gateway.routes (name)
             ON UPDATE CASCADE ON DELETE CASCADE,
    provider text NOT NULL REFERENCES ai_gateway.providers (name)
             ON UPDATE CASCADE ON DELETE CASCADE,
    model    text NOT NULL CHECK (model <> '' AND length(model) <= 200),
    priority int NOT NULL DEFAULT 0,
    weight   int NOT NULL DEFAULT 1 CHECK (weight >= 0),
    shadow   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (route, provider, model)
);
COMMENT ON TABLE ai_gateway.route_targets IS
    'The provider/model pairs of each route; lower priority is tried first';

CREATE TABLE ai_gateway.models (
    provider            text NOT NULL REFERENCES ai_gateway.providers (name)
                        ON UPDATE CASCADE ON DELETE CASCADE,
    model               text NOT NULL CHECK (model <> '' AND length(model) <= 200),
    input_usd_per_mtok  numeric CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok numeric CHECK (output_usd_per_mtok >= 0),
    context_window      int CHECK (context_window > 0),
    PRIMARY KEY (provider, model)
);
COMMENT ON TABLE ai_gateway.models IS
    'Prices (USD per million tokens) and context windows; model ''*'' is the provider-wide default';

CREATE TABLE ai_gateway.quotas (
    role         name NOT NULL,
    period       text NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month')),
    max_requests bigint CHECK (max_requests >= 0),
    max_tokens   bigint CHECK (max_tokens >= 0),
    max_cost_usd numeric CHECK (max_cost_usd >= 0),
    PRIMARY KEY (role, period)
);
COMMENT ON TABLE ai_gateway.quotas IS 'Per-role budgets (enforced from version 0.2)';

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
    output        text
);
CREATE INDEX ON ai_gateway.audit_log (ts);
COMMENT ON TABLE ai_gateway.audit_log IS 'One row per call (written from version 0.2)';

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
    finished_at     timestamptz
);
CREATE INDEX ON ai_gateway.jobs (next_attempt_at) WHERE status = 'queued';
COMMENT ON TABLE ai_gateway.jobs IS 'Async job queue (run from version 0.2)';

-- pg_dump carries configuration and history
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.providers', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.routes', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.route_targets', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.models', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.quotas', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.audit_log_id_seq', '');
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

------------------------------------------------------------------------------
-- Privileges: configuration is the owner's; everyone may read what calls
-- need to know, never key material.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA ai_gateway FROM PUBLIC;
GRANT SELECT (name, kind, base_url, enabled, created_at) ON ai_gateway.providers TO PUBLIC;
GRANT SELECT ON ai_gateway.routes, ai_gateway.route_targets, ai_gateway.models TO PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.providers_protect_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.catalog_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.validate_provider() FROM PUBLIC;
REVOKE ALL ON FUNCTION ai_gateway.validate_route() FROM PUBLIC;

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
