-- routing: strategies, role-limited and context-window targets, retries and
-- backoff, Retry-After, circuit breakers, versions and rollback, explain,
-- hooks.  Retries and breakers are enabled per test through options.
SET ai_gateway.retry_base_ms = 10;

------------------------------------------------------------------------------
-- strategies, seen through explain_route and calls
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name, strategy) VALUES
    ('r_fallback', 'fallback'), ('r_cheap', 'cheapest'), ('r_ab', 'weighted'),
    ('r_rr', 'round_robin'), ('r_fast', 'fastest');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight) VALUES
    ('r_fallback', 'openai', 'a', 2, 1), ('r_fallback', 'anthropic', 'b', 1, 1),
    ('r_cheap', 'openai', 'pricey', 1, 1), ('r_cheap', 'gemini', 'cheap', 2, 1),
    ('r_cheap', 'cohere', 'unpriced', 0, 1),
    ('r_ab', 'openai', 'arm-a', 1, 3), ('r_ab', 'anthropic', 'arm-b', 2, 1),
    ('r_rr', 'openai', 'one', 1, 1), ('r_rr', 'gemini', 'two', 2, 1), ('r_rr', 'ollama', 'three', 3, 1),
    ('r_fast', 'openai', 'slow+latency=120', 1, 1), ('r_fast', 'gemini', 'quick', 2, 1);
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok, context_window) VALUES
    ('openai', 'pricey', 10, 30, 128000), ('gemini', 'cheap', 0.1, 0.4, 1000000);

SELECT rank, provider, model, eligible, breaker, reason FROM ai_gateway.explain_route('r_fallback');
SELECT ai_complete('hi', 'r_fallback') AS fallback_answer;

SELECT rank, provider, model, round(est_cost_usd::numeric, 8) AS est_cost_usd, reason
FROM ai_gateway.explain_route('r_cheap', '{"input_tokens": 1000, "max_tokens": 100}');
SELECT ai_complete('hi', 'r_cheap') AS cheapest_answer;

-- weighted with a sticky key: the same user always lands on the same arm
SELECT rank, provider, model, reason FROM ai_gateway.explain_route('r_ab', '{"user": "alice"}');
SELECT count(DISTINCT ai_chat('[{"role":"user","content":"x"}]', 'r_ab', '{"user": "alice"}')->>'target') AS arms_for_alice
FROM generate_series(1, 20);
-- and users spread over both arms
SELECT count(DISTINCT ai_chat('[{"role":"user","content":"x"}]', 'r_ab', jsonb_build_object('user', 'user' || g))->>'target') AS arms_for_many
FROM generate_series(1, 40) g;
-- a sticky key from metadata, named by the route
UPDATE ai_gateway.routes SET options = '{"sticky_key": "tenant"}' WHERE name = 'r_ab';
SELECT count(DISTINCT ai_chat('[{"role":"user","content":"x"}]', 'r_ab', '{"metadata": {"tenant": "acme"}}')->>'target') AS arms_for_acme
FROM generate_series(1, 20);

-- round robin: consecutive calls take turns
SELECT string_agg(split_part(ai_chat('[{"role":"user","content":"x"}]', 'r_rr')->>'target', '/', 2), ' ' ORDER BY g) AS turns
FROM generate_series(1, 3) g;
SELECT count(DISTINCT ai_chat('[{"role":"user","content":"x"}]', 'r_rr')->>'target') AS distinct_in_6
FROM generate_series(1, 6) g;

-- fastest: once both have figures, the quick one leads (explore_ratio 0 here)
UPDATE ai_gateway.routes SET options = '{"explore_ratio": 0}' WHERE name = 'r_fast';
SELECT count(ai_complete('x', 'openai/slow+latency=120')) + count(ai_complete('x', 'gemini/quick')) AS warmed;
SELECT rank, provider, model, latency_ms > 100 AS slow FROM ai_gateway.explain_route('r_fast');
SELECT ai_chat('[{"role":"user","content":"x"}]', 'r_fast')->>'target' AS fastest_answer;

------------------------------------------------------------------------------
-- targets set aside: shadow, role, context window
------------------------------------------------------------------------------
CREATE ROLE aig_premium;
CREATE ROLE aig_basic_user;
CREATE ROLE aig_premium_user IN ROLE aig_premium;
GRANT USAGE ON SCHEMA public TO aig_basic_user, aig_premium_user;
INSERT INTO ai_gateway.routes (name) VALUES ('r_tiers');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, role) VALUES
    ('r_tiers', 'anthropic', 'strong', 1, 'aig_premium'),
    ('r_tiers', 'openai', 'small', 2, NULL);
SELECT ai_gateway.grant_route('r_tiers', 'public');
SET ROLE aig_premium_user;
SELECT ai_complete('hi', 'r_tiers') AS premium_gets;
SET ROLE aig_basic_user;
SELECT ai_complete('hi', 'r_tiers') AS basic_gets;
SELECT rank, provider, eligible, reason FROM ai_gateway.explain_route('r_tiers');
RESET ROLE;
UPDATE ai_gateway.route_targets SET role = 'aig_premium' WHERE route = 'r_tiers';
SET ROLE aig_basic_user;
SELECT try($$SELECT ai_complete('hi', 'r_tiers')$$);
RESET ROLE;

INSERT INTO ai_gateway.routes (name) VALUES ('r_ctx');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('r_ctx', 'openai', 'small-ctx', 1), ('r_ctx', 'gemini', 'big-ctx', 2);
INSERT INTO ai_gateway.models (provider, model, context_window) VALUES
    ('openai', 'small-ctx', 50), ('gemini', 'big-ctx', 1000000);
SELECT ai_complete('short', 'r_ctx') AS short_prompt;
SELECT left(ai_complete(repeat('long text ', 100), 'r_ctx'), 40) AS long_prompt_goes_to;
SELECT rank, provider, eligible, reason FROM ai_gateway.explain_route('r_ctx', '{"input_tokens": 500}');

------------------------------------------------------------------------------
-- retries
------------------------------------------------------------------------------
-- a 503 twice, then success: retried on the same target
SELECT r->>'attempts' AS attempts, r->>'target' AS target
FROM ai_chat('[{"role":"user","content":"x"}]', 'openai/m+fail_first=2+seq=retry1',
             '{"max_retries": 2}') r;
-- one retry short: the error lists the attempts
SELECT try($$SELECT ai_complete('x', 'openai/m+fail_first=3+seq=retry2', NULL, '{"max_retries": 1}')$$);
-- 400, 401, 404, 422 are never retried
SELECT s AS status, try(format($q$SELECT ai_complete('x', 'openai/m+status=%s', NULL, '{"max_retries": 3}')$q$, s)) AS error
FROM unnest(array[400, 401, 404, 422]) s;
-- Retry-After (seconds, HTTP date, retry-after-ms, Gemini RetryInfo) is honoured
SELECT r->>'attempts' AS attempts, (r->>'latency_ms')::float8 >= 1000 AS waited_1s
FROM ai_chat('[{"role":"user","content":"x"}]', 'openai/m+fail_first=1+seq=ra1+status=429+retry_after=1',
             '{"max_retries": 1}') r;
SELECT r->>'attempts' AS attempts, (r->>'latency_ms')::float8 >= 1000 AS waited
FROM ai_chat('[{"role":"user","content":"x"}]', 'anthropic/m+fail_first=1+seq=ra2+status=429+retry_after_date=2',
             '{"max_retries": 1}') r;
SELECT r->>'attempts' AS attempts, (r->>'latency_ms')::float8 >= 300 AS waited_300ms
FROM ai_chat('[{"role":"user","content":"x"}]', 'cohere/m+fail_first=1+seq=ra3+status=429+retry_after_ms=300',
             '{"max_retries": 1}') r;
SELECT r->>'attempts' AS attempts, (r->>'latency_ms')::float8 >= 1000 AS waited_retryinfo
FROM ai_chat('[{"role":"user","content":"x"}]', 'gemini/m+fail_first=1+seq=ra4+status=429+retry_after=1',
             '{"max_retries": 1}') r;
-- a Retry-After beyond the call's timeout is not waited for
SELECT try($$SELECT ai_complete('x', 'openai/m+status=429+retry_after=30', NULL, '{"max_retries": 2, "timeout_ms": 2000}')$$);
-- another target takes over at once instead of waiting for a retry
INSERT INTO ai_gateway.routes (name, options) VALUES ('r_retry', '{"max_retries": 2}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('r_retry', 'openai', 'down+status=503+retry_after=20', 1), ('r_retry', 'anthropic', 'up', 2);
SELECT r->>'attempts' AS attempts, r->>'target' AS target, (r->>'latency_ms')::float8 < 5000 AS no_wait
FROM ai_chat('[{"role":"user","content":"x"}]', 'r_retry') r;
-- attempts never exceed max_retries + targets
UPDATE ai_gateway.route_targets SET model = 'down2+status=503' WHERE route = 'r_retry' AND provider = 'anthropic';
UPDATE ai_gateway.route_targets SET model = 'down1+status=503' WHERE route = 'r_retry' AND provider = 'openai';
SELECT substring(try($$SELECT ai_complete('x', 'r_retry')$$) from '(\d+ attempts)') AS attempts_made;

------------------------------------------------------------------------------
-- circuit breakers
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('r_cb', '{"breaker_failures": 2, "breaker_cooldown_ms": 400, "max_retries": 0}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('r_cb', 'ollama', 'flaky+fail_first=2+seq=cb1', 1), ('r_cb', 'gemini', 'backup', 2);
SELECT ai_chat('[{"role":"user","content":"x"}]', 'r_cb')->>'target' AS first_call,
       ai_chat('[{"role":"user","content":"x"}]', 'r_cb')->>'target' AS second_call;
SELECT model, breaker, consecutive_failures, errors FROM ai_gateway.health() WHERE model LIKE 'flaky%';
-- open: skipped without a request
SELECT r->>'target' AS target, r->>'attempts' AS attempts FROM ai_chat('[{"role":"user","content":"x"}]', 'r_cb') r;
SELECT rank, model, breaker, reason LIKE '%circuit breaker open until%' AS says_open
FROM ai_gateway.explain_route('r_cb');
-- after the cooldown one probe goes through; it succeeds and closes the breaker
SELECT pg_sleep(0.5);
SELECT ai_chat('[{"role":"user","content":"x"}]', 'r_cb')->>'target' AS probe;
SELECT model, breaker, consecutive_failures FROM ai_gateway.health() WHERE model LIKE 'flaky%';
-- a 429 with Retry-After opens at once, for that long
SELECT try($$SELECT ai_complete('x', 'ollama/limited+status=429+retry_after=60', NULL, '{"max_retries": 0}')$$);
SELECT model, breaker, open_until > now() + interval '50 seconds' AS for_retry_after
FROM ai_gateway.health() WHERE model LIKE 'limited%';
SELECT try($$SELECT ai_complete('x', 'ollama/limited+status=429+retry_after=60', NULL, '{"max_retries": 0}')$$);

------------------------------------------------------------------------------
-- shadow targets: a copy of each call, off the caller's path, audited
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name) VALUES ('r_shadow');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, shadow) VALUES
    ('r_shadow', 'openai', 'primary', 1, false),
    ('r_shadow', 'anthropic', 'candidate+latency=1500', 2, true);
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok) VALUES
    ('anthropic', 'candidate+latency=1500', 3, 15);
SELECT rank, provider, model, eligible, reason FROM ai_gateway.explain_route('r_shadow');
-- the caller gets the primary's answer and does not wait for the slow shadow
SELECT r->>'content' AS content, r->>'target' AS target, (r->>'latency_ms')::float8 < 1000 AS no_wait
FROM ai_chat('[{"role":"user","content":"compare me"}]', 'r_shadow', '{"metadata": {"exp": "A/B-7"}}') r;
-- the shadow's own audit row appears once the shadow worker is done
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        PERFORM ai_gateway.audit_flush();
        EXIT WHEN EXISTS (SELECT FROM ai_gateway.audit_log WHERE shadow AND route = 'r_shadow');
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT shadow, provider, model, status, input_tokens IS NOT NULL AS tokens, cost_usd IS NOT NULL AS cost,
       latency_ms >= 1500 AS shadow_latency, metadata
FROM ai_gateway.audit_log WHERE route = 'r_shadow' ORDER BY shadow, id;
SELECT shadow_sent >= 1 AS sent, shadow_dropped AS dropped FROM ai_gateway.audit_stats();

------------------------------------------------------------------------------
-- versions and rollback
------------------------------------------------------------------------------
BEGIN;  -- several changes in one transaction make one version
INSERT INTO ai_gateway.routes (name, options) VALUES ('r_v', '{"system_prompt": "v1"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r_v', 'openai', 'model-v1');
COMMIT;
BEGIN;
UPDATE ai_gateway.routes SET options = '{"system_prompt": "v2"}' WHERE name = 'r_v';
UPDATE ai_gateway.route_targets SET model = 'model-v2' WHERE route = 'r_v';
COMMIT;
SELECT version, strategy, options, targets->0->>'model' AS model FROM ai_gateway.route_versions
WHERE route = 'r_v' ORDER BY version;
SELECT ai_complete('x', 'r_v') AS current, ai_complete('x', 'r_v@1') AS pinned_v1,
       ai_chat('[{"role":"user","content":"x"}]', 'r_v@1')->>'route' AS route_field;
SELECT try($$SELECT ai_complete('x', 'r_v@9')$$);
SELECT try($$SELECT ai_complete('x', 'r_v@x')$$);
SELECT ai_gateway.rollback_route('r_v', 1) AS new_version;
SELECT ai_complete('x', 'r_v') AS after_rollback;
SELECT version, options->>'system_prompt' AS prompt, targets->0->>'model' AS model
FROM ai_gateway.route_versions WHERE route = 'r_v' ORDER BY version;
SELECT try($$SELECT ai_gateway.rollback_route('r_v', 42)$$);

------------------------------------------------------------------------------
-- hooks
------------------------------------------------------------------------------
CREATE FUNCTION shout(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(req, '{messages}',
        (SELECT jsonb_agg(jsonb_set(m, '{content}', to_jsonb(upper(m->>'content'))))
           FROM jsonb_array_elements(req->'messages') m))
        || jsonb_build_object('options', coalesce(req->'options', '{}') || '{"temperature": 0}')
$$;
CREATE FUNCTION tag(res jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN res || jsonb_build_object('content', (res->>'content') || ' [checked]', 'tag', 'reviewed');
END $$;
CREATE FUNCTION refuse(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'prompt rejected by policy' USING ERRCODE = 'check_violation';
END $$;
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('r_hooks', '{"request_hook": "shout", "response_hook": "tag"}');
-- stored schema-qualified as resolved now: a caller's search_path cannot swap them
SELECT options->>'request_hook' AS request_hook, options->>'response_hook' AS response_hook
FROM ai_gateway.routes WHERE name = 'r_hooks';
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r_hooks', 'openai', 'echo');
SELECT ai_gateway.grant_route('r_hooks', 'public');
SELECT (ai_complete('hello', 'r_hooks', 'be nice')) AS completion;
SELECT r->>'tag' AS tag, (r->>'content') LIKE '%[checked]' AS checked
FROM ai_chat('[{"role":"user","content":"hi"}]', 'r_hooks') r;
CREATE SCHEMA evil;
CREATE FUNCTION evil.shout(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
SET search_path = evil, public;
UPDATE ai_gateway.models SET context_window = context_window WHERE false;  -- reload the catalog here
SELECT position('QUIET PLEASE' in ai_complete('quiet please', 'r_hooks')) > 0 AS still_shouting;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
UPDATE ai_gateway.routes SET options = '{"request_hook": "refuse"}' WHERE name = 'r_hooks';
SELECT try($$SELECT ai_complete('hello', 'r_hooks')$$);
SELECT try($$UPDATE ai_gateway.routes SET options = '{"request_hook": "no_such_fn"}' WHERE name = 'r_hooks'$$);
SELECT try($$UPDATE ai_gateway.routes SET options = '{"response_hook": "upper"}' WHERE name = 'r_hooks'$$);
-- hooks run with the rights of the role that set them: a caller needs no
-- EXECUTE on the function (test/sql/hooks_security.sql)
UPDATE ai_gateway.routes SET options = '{"request_hook": "shout"}' WHERE name = 'r_hooks';
REVOKE EXECUTE ON FUNCTION shout(jsonb) FROM PUBLIC;
SET ROLE aig_basic_user;
SELECT try($$SELECT ai_complete('hello', 'r_hooks')$$);
RESET ROLE;
-- a hook dropped and created again is found again; dropped for good, it
-- fails its route's calls, not the others
DROP FUNCTION shout(jsonb);
CREATE FUNCTION shout(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
SELECT ai_complete('hello', 'r_hooks') LIKE '%"hello"%' AS found_again;
DROP FUNCTION shout(jsonb);
SELECT try($$SELECT ai_complete('hello', 'r_hooks')$$);
SELECT ai_complete('hi', 'r_fallback') AS others_fine;

REVOKE USAGE ON SCHEMA public FROM aig_basic_user, aig_premium_user;
DROP ROLE aig_premium_user;
DROP ROLE aig_basic_user;
DROP ROLE aig_premium;
