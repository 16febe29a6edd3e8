-- usability: configuration mistakes a newcomer makes get a clear error
-- instead of a silent surprise (issue 14, Getting started).

-- a route's first version is recorded before it has targets; a rollback to
-- a version that cannot serve is refused instead of deleting every target
INSERT INTO ai_gateway.routes (name) VALUES ('u_route');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('u_route', 'ollama', 'u1');
SELECT version, jsonb_array_length(targets) AS targets FROM ai_gateway.route_versions
WHERE route = 'u_route' ORDER BY version;
SELECT try($$SELECT ai_gateway.rollback_route('u_route', 1)$$) AS rollback_to_empty;
SELECT count(*) AS targets_kept FROM ai_gateway.route_targets WHERE route = 'u_route';
-- a version whose only target is a shadow cannot answer either
INSERT INTO ai_gateway.routes (name) VALUES ('u_shadow_only');
INSERT INTO ai_gateway.route_targets (route, provider, model, shadow) VALUES ('u_shadow_only', 'ollama', 's', true);
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('u_shadow_only', 'ollama', 'a');
SELECT version, targets FROM ai_gateway.route_versions WHERE route = 'u_shadow_only' ORDER BY version;
SELECT try($$SELECT ai_gateway.rollback_route('u_shadow_only', 2)$$) AS rollback_to_shadow_only;
SELECT ai_gateway.rollback_route('u_shadow_only', 3) AS rollback_to_serving;
DELETE FROM ai_gateway.routes WHERE name IN ('u_route', 'u_shadow_only');

-- a provider/model string with a part missing says so (not "route does not exist")
SELECT m, try(format('SELECT ai_complete(%L, %L)', 'x', m)) FROM unnest(array['openai/', '/gpt-4o', '/']) m;

-- ai_complete_async of a NULL prompt: as ai_complete, no call, no job, a NULL id
SELECT count(*) AS jobs_before FROM ai_gateway.jobs \gset
SELECT ai_complete_async(NULL, 'openai/m') IS NULL AS null_id,
       ai_complete(NULL, 'openai/m') IS NULL AS complete_null;
SELECT count(*) - :jobs_before AS jobs_queued FROM ai_gateway.jobs;

-- an unknown provider kind or route strategy lists the valid ones (22023), before the CHECK
SELECT try($$INSERT INTO ai_gateway.providers (name, kind) VALUES ('u_bad', 'open_ai')$$) AS bad_kind;
SELECT try($$UPDATE ai_gateway.providers SET kind = 'claude' WHERE name = 'ollama'$$) AS bad_kind_update;
SELECT try($$INSERT INTO ai_gateway.routes (name, strategy) VALUES ('u_bad', 'fallbak')$$) AS bad_strategy;
SELECT try($$UPDATE ai_gateway.routes SET strategy = 'cheap' WHERE name = 'nonexistent'$$) AS no_row_no_error;
-- so does a quota period
SELECT try($$INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('postgres', 'daily', 10)$$) AS bad_period;

-- role columns must name an existing role (42704), not apply silently to nobody
SELECT try($$INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('analysts_typo', 'day', 10)$$) AS quota_role;
SELECT try($$INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('analysts_typo', 10)$$) AS rate_role;
INSERT INTO ai_gateway.routes (name) VALUES ('u_roles');
SELECT try($$INSERT INTO ai_gateway.route_targets (route, provider, model, role) VALUES ('u_roles', 'ollama', 'm', 'analysts_typo')$$) AS target_role;
CREATE ROLE u_analysts;
SELECT try($$INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('u_analysts', 'day', 10)$$) AS quota_existing_role;
SELECT try($$UPDATE ai_gateway.quotas SET role = 'u_analysts_typo' WHERE role = 'u_analysts'$$) AS quota_role_update;
DELETE FROM ai_gateway.quotas WHERE role = 'u_analysts';
DELETE FROM ai_gateway.routes WHERE name = 'u_roles';
DROP ROLE u_analysts;

-- shipped prices: cost_usd without any ai_gateway.models row, by the provider's kind
SELECT count(*) > 30 AS shipped, min(as_of) = max(as_of) AS dated, bool_and(source <> '') AS sourced
FROM ai_gateway.model_catalog;
SELECT kind, model, input_usd_per_mtok, output_usd_per_mtok, context_window
FROM ai_gateway.model_catalog WHERE model IN ('gpt-4o-mini', 'claude-3-5-haiku-latest', 'embed-v4.0')
ORDER BY kind, model;
SELECT count(*) AS user_rows FROM ai_gateway.models WHERE provider = 'openai';
SELECT r->'usage' AS usage, (r->>'cost_usd')::numeric AS cost_usd
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'openai/gpt-4o-mini') r;
-- a user row for the provider + model takes precedence
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('openai', 'gpt-4o-mini', 1000, 1000);
SELECT (r->>'cost_usd')::numeric AS user_price_cost
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'openai/gpt-4o-mini') r;
DELETE FROM ai_gateway.models WHERE provider = 'openai' AND model = 'gpt-4o-mini';
-- so does the user's provider-wide '*' row
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('openai', '*', 0, 0);
SELECT (r->>'cost_usd')::numeric AS provider_default_cost
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'openai/gpt-4o-mini') r;
DELETE FROM ai_gateway.models WHERE provider = 'openai' AND model = '*';
-- the shipped list is by kind: an openai_compatible provider gets no openai price
SELECT (r->>'cost_usd') IS NULL AS compatible_unpriced
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'compat/gpt-4o-mini') r;
-- its context window is checked too
SELECT try($$SELECT ai_complete(repeat('word ', 40000), 'cohere/embed-english-v3.0')$$) AS context_window;
-- a model in neither list stays unpriced
SELECT (r->>'cost_usd') IS NULL AS unknown_unpriced
FROM ai_chat('[{"role":"user","content":"x"}]', 'openai/no-such-model') r;
-- refresh reloads the shipped list (a local edit is undone); not dumped as configuration
UPDATE ai_gateway.model_catalog SET input_usd_per_mtok = 99 WHERE model = 'gpt-4o';
SELECT ai_gateway.refresh_model_prices() = (SELECT count(*) FROM ai_gateway.model_catalog) AS refreshed;
SELECT input_usd_per_mtok FROM ai_gateway.model_catalog WHERE kind = 'openai' AND model = 'gpt-4o';
SELECT count(*) AS dumped FROM pg_extension e, unnest(e.extconfig) c
WHERE e.extname = 'ai_gateway' AND c = 'ai_gateway.model_catalog'::regclass;
SELECT has_function_privilege('public', 'ai_gateway.refresh_model_prices()', 'EXECUTE') AS public_may_refresh;

-- a job whose later run finds every breaker open (opened by its own first
-- failure) keeps that failure: the underlying error, then why it was not sent
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('u_breaker', '{"breaker_failures": 1, "breaker_cooldown_ms": 60000, "max_retries": 0}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('u_breaker', 'openai', 'u-breaker+status=503');
SELECT ai_complete_async('x', 'u_breaker') AS breaker_job \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->>'error' AS error
FROM ai_result(:breaker_job, 15000) r;
-- a synchronous call to the open breaker says so, with the failure that opened it
SELECT substr(try1($$SELECT ai_complete('x', 'u_breaker')$$), 8) AS sync_open;
-- a batch item whose first target fails and whose next target's breaker is
-- open ends with the first target's failure, as ai_complete does
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('u_second', '{"breaker_failures": 1, "breaker_cooldown_ms": 60000, "max_retries": 0}'),
    ('u_both', '{"breaker_failures": 1, "breaker_cooldown_ms": 60000, "max_retries": 0}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('u_second', 'openai', 'u-second+status=503', 1),
    ('u_both', 'openai', 'u-first+status=500', 1), ('u_both', 'openai', 'u-second+status=503', 2);
SELECT substr(try1($$SELECT ai_complete('x', 'u_second')$$), 8) AS opens_second;
SELECT ordinality, completion, error FROM ai_complete_batch(array['x'], 'u_both');
SELECT substr(try1($$SELECT ai_complete('x', 'u_both')$$), 8) AS sync_same;
DELETE FROM ai_gateway.routes WHERE name IN ('u_breaker', 'u_second', 'u_both');
