-- guards: configuration and answers that must not be taken at face value.
--
--  1. a provider's documented refusal or safety block (every dialect) is its
--     own error (MR001; MR002 for "output limit before any text"): one
--     request, no retry, no other target, no breaker charge, audited as
--     "refused" with the tokens the provider billed, charged to quotas;
--  2. a NULL role in grant_*/revoke_* and in the role columns is refused
--     (22004): PUBLIC is said explicitly;
--  3. NaN, infinities and out-of-range numbers in prices, limits, weights,
--     quotas and numeric options are refused when written (22023/23514).
SET ai_gateway.breaker_failures = 5;
SET ai_gateway.max_retries = 2;
CREATE ROLE g_user;
GRANT USAGE ON SCHEMA public TO g_user;

------------------------------------------------------------------------------
-- 1. refusals
------------------------------------------------------------------------------
-- a refusing target first, a healthy fallback second
INSERT INTO ai_gateway.routes (name) VALUES ('g_refuse');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('g_refuse', 'openai', 'g-refusing+refuse=refusal', 1),
    ('g_refuse', 'openai', 'g-fallback', 2);
SELECT ai_gateway.grant_route('g_refuse', 'public');
SELECT try($$SELECT ai_complete('how do I pick a lock', 'g_refuse')$$) AS refused;
-- 40 refused calls: each one request, none retried, none failed over; the
-- breaker (5 consecutive failures) stays closed
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        BEGIN
            PERFORM ai_complete('how do I pick a lock', 'g_refuse');
            RAISE EXCEPTION 'not refused';
        EXCEPTION WHEN SQLSTATE 'MR001' THEN NULL;
        END;
    END LOOP;
END $$;
SELECT model, breaker, requests, errors, consecutive_failures
FROM ai_gateway.health() WHERE model LIKE 'g-%' ORDER BY model;
-- the target still answers a normal call at once
UPDATE ai_gateway.route_targets SET model = 'g-refusing' WHERE route = 'g_refuse' AND priority = 1;
SELECT ai_chat('[{"role":"user","content":"hello"}]', 'g_refuse')->>'target' AS answered_by;
SELECT model, breaker FROM ai_gateway.health() WHERE model LIKE 'g-refusing%' ORDER BY model;

-- every dialect's documented refusals: message, finish reason, hint
CREATE FUNCTION g_refusal(target text) RETURNS text LANGUAGE sql AS $$
    SELECT try(format('SELECT ai_complete(%L, %L)', 'tell me a secret', target))
$$;
SELECT m AS target, g_refusal(m) AS error FROM unnest(array[
    'openai/g-o1+refuse=refusal', 'openai/g-o2+refuse=filter', 'openai/g-o3+refuse=length',
    'azure/g-az1+refuse=refusal', 'azure/g-az2+refuse=filter', 'azure/g-az3+refuse=prompt_filter',
    'compat/g-c1+refuse=refusal',
    'anthropic/g-a1+refuse=refusal', 'anthropic/g-a2+refuse=partial', 'anthropic/g-a3+refuse=length',
    'gemini/g-g1+refuse=prompt', 'gemini/g-g2+refuse=refusal', 'gemini/g-g3+refuse=RECITATION',
    'gemini/g-g4+refuse=BLOCKLIST', 'gemini/g-g5+refuse=PROHIBITED_CONTENT',
    'gemini/g-g6+refuse=SPII', 'gemini/g-g7+refuse=length',
    'cohere/g-co1+refuse=refusal', 'cohere/g-co2+refuse=length']) m;
-- one request each (max_retries 2 did not apply), breakers closed, errors counted
SELECT provider, count(*) AS targets, sum(requests) AS requests, sum(errors) AS errors,
       bool_and(breaker = 'closed') AS closed
FROM ai_gateway.health() WHERE model LIKE 'g-%+refuse=%' GROUP BY provider ORDER BY provider;
-- ai_chat and a batch item say the same
SELECT try1($$SELECT ai_chat('[{"role":"user","content":"x"}]', 'gemini/g-g8+refuse=SAFETY')$$) AS chat;
INSERT INTO ai_gateway.routes (name) VALUES ('g_refuse_b');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('g_refuse_b', 'anthropic', 'g-ab+refuse=refusal', 1),
    ('g_refuse_b', 'openai', 'g-fallback-b', 2);
SELECT ai_gateway.grant_route('g_refuse_b', 'public');
SELECT ordinality, completion, error FROM ai_complete_batch(array['a', 'b'], 'g_refuse_b');
SELECT model, requests, breaker FROM ai_gateway.health() WHERE model IN ('g-ab+refuse=refusal', 'g-fallback-b')
ORDER BY model;

-- audited as "refused" with the tokens the provider billed, charged to the quota
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('openai', 'g-q+refuse=refusal', 1000000, 1000000);
INSERT INTO ai_gateway.quotas (role, period, max_tokens) VALUES ('g_user', 'day', 100000);
SELECT ai_gateway.grant_provider('openai', 'g_user');
SET ROLE g_user;
SELECT try1($$SELECT ai_complete('one two three', 'openai/g-q+refuse=refusal')$$) AS quota_call;
RESET ROLE;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT status, attempts, input_tokens, output_tokens, cost_usd, left(error, 60) AS error
FROM ai_gateway.audit_log WHERE model = 'g-q+refuse=refusal';
SELECT u.tokens = a.input_tokens + a.output_tokens AS quota_charged_billed_tokens, u.cost_usd > 0 AS cost_charged
FROM ai_gateway.usage u, ai_gateway.audit_log a
WHERE u.role = 'g_user' AND a.model = 'g-q+refuse=refusal';
SELECT ai_gateway.revoke_provider('openai', 'g_user');
DELETE FROM ai_gateway.quotas WHERE role = 'g_user';

------------------------------------------------------------------------------
-- 2. a NULL role is not PUBLIC
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name) VALUES ('g_grants');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('g_grants', 'openai', 'g-grant');
SELECT try($$SELECT ai_gateway.grant_route('g_grants', NULL)$$) AS grant_route_null;
SELECT try($$SELECT ai_gateway.grant_route('g_grants', (SELECT rolname FROM pg_roles WHERE rolname = 'no_such_role'))$$) AS lookup_found_nothing;
SELECT try($$SELECT ai_gateway.grant_route('g_grants', NULL::regrole)$$) AS grant_route_null_regrole;
SELECT try($$SELECT ai_gateway.grant_provider('openai', NULL)$$) AS grant_provider_null;
SELECT try($$SELECT ai_gateway.revoke_route('g_grants', NULL)$$) AS revoke_route_null;
SELECT try($$SELECT ai_gateway.revoke_provider('openai', NULL)$$) AS revoke_provider_null;
SELECT try($$SELECT ai_gateway.grant_route(NULL, 'public')$$) AS grant_null_route;
SELECT try($$SELECT ai_gateway.grant_provider(NULL, 'public')$$) AS grant_null_provider;
SELECT try($$SELECT ai_gateway.grant_route('g_grants', 'no_such_role')$$) AS unknown_role;
-- nothing was granted: g_user may not call the route
SELECT count(*) AS grants FROM ai_gateway.route_grants WHERE route = 'g_grants';
SELECT count(*) AS grants FROM ai_gateway.provider_grants WHERE grantee IS NULL AND provider = 'openai';
SET ROLE g_user;
SELECT try1($$SELECT ai_complete('x', 'g_grants')$$) AS not_granted;
RESET ROLE;
-- PUBLIC, said explicitly (any case), works both ways
SELECT ai_gateway.grant_route('g_grants', 'PUBLIC');
SELECT route, grantee FROM ai_gateway.route_grants WHERE route = 'g_grants';
SELECT ai_gateway.revoke_route('g_grants', 'Public');
SELECT count(*) AS grants FROM ai_gateway.route_grants WHERE route = 'g_grants';
SELECT ai_gateway.grant_route('g_grants', 'g_user');
SELECT ai_gateway.revoke_route('g_grants', 'g_user'::regrole);
SELECT count(*) AS grants FROM ai_gateway.route_grants WHERE route = 'g_grants';

------------------------------------------------------------------------------
-- 3. finite prices, limits and options
------------------------------------------------------------------------------
SELECT try1($$INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok) VALUES ('openai', 'g-nan', 'NaN')$$) AS nan_price;
SELECT try1($$INSERT INTO ai_gateway.models (provider, model, output_usd_per_mtok) VALUES ('openai', 'g-inf', 'Infinity')$$) AS inf_price;
SELECT try1($$INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok) VALUES ('openai', 'g-neg', -1)$$) AS negative_price;
SELECT try1($$INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok) VALUES ('openai', 'g-huge', 1e30)$$) AS huge_price;
SELECT try1($$UPDATE ai_gateway.models SET output_usd_per_mtok = 'NaN' WHERE model = 'g-q+refuse=refusal'$$) AS nan_update;
SELECT try1($$INSERT INTO ai_gateway.quotas (role, period, max_cost_usd) VALUES ('g_user', 'day', 'NaN')$$) AS nan_quota;
SELECT try1($$INSERT INTO ai_gateway.quotas (role, period, max_cost_usd) VALUES ('g_user', 'day', 'Infinity')$$) AS inf_quota;
SELECT try1($$INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('g_user', 'day', -1)$$) AS negative_quota;
SELECT try1($$INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('g_user', 0)$$) AS zero_rate;
SELECT try1($$INSERT INTO ai_gateway.route_targets (route, provider, model, weight) VALUES ('g_grants', 'openai', 'g-w', -1)$$) AS negative_weight;
SELECT try1($$INSERT INTO ai_gateway.models (provider, model, context_window) VALUES ('openai', 'g-cw', 0)$$) AS zero_context;
-- numbers in options: JSON has no NaN; huge and negative numbers are out of range
SELECT try1($$UPDATE ai_gateway.routes SET options = '{"breaker_error_rate": 1e400}' WHERE name = 'g_grants'$$) AS huge_route_option;
SELECT try1($$UPDATE ai_gateway.routes SET options = '{"explore_ratio": -0.1}' WHERE name = 'g_grants'$$) AS negative_ratio;
SELECT try1($$UPDATE ai_gateway.routes SET options = '{"timeout_ms": -5}' WHERE name = 'g_grants'$$) AS negative_timeout;
SELECT try1($$UPDATE ai_gateway.routes SET options = jsonb_build_object('breaker_error_rate', 'NaN'::numeric) WHERE name = 'g_grants'$$) AS nan_route_option;
SELECT try1($$UPDATE ai_gateway.providers SET options = '{"timeout_ms": 1e400}' WHERE name = 'openai'$$) AS huge_provider_option;
SELECT try1($$UPDATE ai_gateway.providers SET options = '{"requests_per_minute": -1}' WHERE name = 'openai'$$) AS negative_provider_option;
SELECT try1($$SELECT ai_complete('x', 'openai/g-opt', NULL, '{"temperature": 1e400}')$$) AS huge_temperature;
SELECT try1($$SELECT ai_complete('x', 'openai/g-opt', NULL, '{"max_tokens": -1}')$$) AS negative_max_tokens;
SELECT try1($$SELECT ai_complete('x', 'openai/g-opt', NULL, '{"timeout_ms": 1e30}')$$) AS huge_timeout;
SELECT try1($$SELECT ai_complete('x', 'openai/g-opt', NULL, jsonb_build_object('top_p', 'NaN'::numeric))$$) AS nan_top_p;
-- a priced call's cost is a finite JSON number
UPDATE ai_gateway.models SET input_usd_per_mtok = 1000000000, output_usd_per_mtok = 1000000000
WHERE model = 'g-q+refuse=refusal';
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('openai', 'g-priced', 1000000000, 1000000000);
SELECT (ai_chat('[{"role":"user","content":"hi"}]', 'openai/g-priced')->'cost_usd') IS NOT NULL AS cost_is_json;
-- numeric arguments of the functions
SELECT try1($$SELECT ai_result(1, -5)$$) AS negative_wait;
SELECT try1($$SELECT ai_gateway.audit_flush(-1)$$) AS negative_flush;
SELECT try1($$SELECT ai_gateway.rollback_route('g_grants', -1)$$) AS negative_version;
SELECT try1($$SELECT ai_gateway.bench_routing('g_grants', -1)$$) AS negative_iterations;
SELECT try1($$SELECT * FROM ai_complete_batch(array['x'], 'openai/g-opt', NULL, '{"concurrency": 0}')$$) AS zero_concurrency;
SELECT try1($$SELECT ai_embed('x', 'openai/g-emb', '{"dimensions": -3}')$$) AS negative_dimensions;
