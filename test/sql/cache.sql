-- cache: the response cache — hits and misses, what a hit returns, TTL and
-- expiry, scope per role or global, invalidation when a route changes,
-- cache_clear(), audit and stats of hits, quotas, and bad options.
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SELECT ai_gateway.stats_reset();

-- not cached unless asked
SELECT (ai_chat('[{"role":"user","content":"plain"}]', 'ollama/c-model'))->'cached' AS cached;
SELECT count(*) AS rows FROM ai_gateway.cache;

-- options.cache = true: a miss, then a hit with the same answer and no attempt
SELECT r->'cached' AS cached, r->>'content' AS content, r->'attempts' AS attempts
FROM ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model', '{"cache": true}') r;
SELECT r->'cached' AS cached, r->>'content' AS content, r->'attempts' AS attempts,
       r->'usage' AS usage, r->'cost_usd' AS cost, r->>'provider' AS provider,
       r->>'target' AS target
FROM ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model', '{"cache": true}') r;
-- ai_complete shares the entry (same messages)
SELECT ai_complete('hello cache', 'ollama/c-model', NULL, '{"cache": 60}');
-- the row: key is a SHA-256, TTL one hour by default
SELECT length(key) AS key_bytes, route, provider, model, scope_role = 'postgres'::regrole AS mine,
       content, expires_at - created_at AS ttl
FROM ai_gateway.cache;

-- anything that changes the answer is a different entry
SELECT (ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model',
                '{"cache": true, "temperature": 0.5}'))->'cached' AS other_temperature;
SELECT (ai_chat('[{"role":"system","content":"be brief"},{"role":"user","content":"hello cache"}]',
                'ollama/c-model', '{"cache": true}'))->'cached' AS other_messages;
SELECT (ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model2',
                '{"cache": true}'))->'cached' AS other_model;
-- options that do not change the answer share it
SELECT (ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model',
                '{"cache": true, "timeout_ms": 5000, "metadata": {"k": 1}}'))->'cached' AS same_answer;
-- cache false skips it
SELECT (ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model',
                '{"cache": false}'))->'cached' AS skipped;

-- TTL: a one-second entry expires
SELECT (ai_chat('[{"role":"user","content":"short"}]', 'ollama/c-model', '{"cache": 1}'))->'cached' AS first;
SELECT (ai_chat('[{"role":"user","content":"short"}]', 'ollama/c-model', '{"cache": 1}'))->'cached' AS within_ttl;
SELECT pg_sleep(1.2);
SELECT (ai_chat('[{"role":"user","content":"short"}]', 'ollama/c-model', '{"cache": 1}'))->'cached' AS after_ttl;

-- a route caches every call with options.cache_ttl_s
INSERT INTO ai_gateway.routes (name, options) VALUES ('c_route', '{"cache_ttl_s": 300}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('c_route', 'ollama', 'c-route-model');
SELECT ai_complete('via route', 'c_route');
SELECT r->'cached' AS cached, r->>'route' AS route, r->>'content' AS content
FROM ai_chat('[{"role":"user","content":"via route"}]', 'c_route') r;
-- a call can still opt out
SELECT (ai_chat('[{"role":"user","content":"via route"}]', 'c_route', '{"cache": false}'))->'cached' AS opted_out;

-- editing the route's targets: the old answer is never served again
UPDATE ai_gateway.route_targets SET model = 'c-route-model-v2' WHERE route = 'c_route';
SELECT r->'cached' AS cached, r->>'content' AS content
FROM ai_chat('[{"role":"user","content":"via route"}]', 'c_route') r;
-- a provider's timeout does not change answers: still a hit
UPDATE ai_gateway.providers SET options = '{"timeout_ms": 30000}' WHERE name = 'ollama';
SELECT (ai_chat('[{"role":"user","content":"via route"}]', 'c_route'))->'cached' AS after_timeout_edit;
-- its endpoint does (the mock takes any path prefix)
UPDATE ai_gateway.providers SET base_url = base_url || '/moved' WHERE name = 'ollama';
SELECT (ai_chat('[{"role":"user","content":"via route"}]', 'c_route'))->'cached' AS after_endpoint_edit;
UPDATE ai_gateway.providers SET base_url = replace(base_url, '/moved', '') WHERE name = 'ollama';
SELECT (ai_chat('[{"role":"user","content":"via route"}]', 'c_route'))->'cached' AS endpoint_back;
UPDATE ai_gateway.routes SET options = '{"cache_ttl_s": 300, "system_prompt": "Answer in French."}'
WHERE name = 'c_route';
SELECT (ai_chat('[{"role":"user","content":"via route"}]', 'c_route'))->'cached' AS after_prompt_edit;
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'ollama';

-- the GUC caches every call; a route's cache_ttl_s = 0 turns it off there
SET ai_gateway.cache_ttl_s = 60;
SELECT ai_complete('by guc', 'ollama/c-model') IS NOT NULL AS called;
SELECT (ai_chat('[{"role":"user","content":"by guc"}]', 'ollama/c-model'))->'cached' AS guc_hit;
INSERT INTO ai_gateway.routes (name, options) VALUES ('c_nocache', '{"cache_ttl_s": 0}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('c_nocache', 'ollama', 'c-model');
SELECT ai_complete('by guc', 'c_nocache') IS NOT NULL AS called;
SELECT (ai_chat('[{"role":"user","content":"by guc"}]', 'c_nocache'))->'cached' AS route_off;
RESET ai_gateway.cache_ttl_s;

-- scope: each role's answers are its own unless the route shares them
CREATE ROLE aig_c1;
CREATE ROLE aig_c2;
GRANT SELECT ON ai_gateway.cache TO aig_c1;   -- for the test only: to look
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('c_role', '{"cache_ttl_s": 300}'),
    ('c_global', '{"cache_ttl_s": 300, "cache_scope": "global"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES
    ('c_role', 'ollama', 'c-scope'), ('c_global', 'ollama', 'c-scope');
SELECT ai_gateway.grant_route('c_role', 'aig_c1'), ai_gateway.grant_route('c_role', 'aig_c2'),
       ai_gateway.grant_route('c_global', 'aig_c1'), ai_gateway.grant_route('c_global', 'aig_c2');
SET ROLE aig_c1;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS c1_first,
       (ai_chat('[{"role":"user","content":"scoped"}]', 'c_global'))->'cached' AS c1_first_global;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS c1_again;
SET ROLE aig_c2;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS c2_role_scope,
       (ai_chat('[{"role":"user","content":"scoped"}]', 'c_global'))->'cached' AS c2_global_scope;
-- a role without a grant gets no answer, cached or not
RESET ROLE;
SELECT ai_gateway.revoke_route('c_role', 'aig_c2');
SET ROLE aig_c2;
SELECT try($$SELECT ai_complete('scoped', 'c_role')$$);
-- and cannot read or clear the cache
SELECT try($$SELECT count(*) FROM ai_gateway.cache$$);
SELECT try($$SELECT ai_gateway.cache_clear()$$);
RESET ROLE;
SELECT route, scope_role::regrole AS scope FROM ai_gateway.cache WHERE model = 'c-scope'
ORDER BY route, scope;

-- hits are audited and counted; they cost nothing
SELECT ai_gateway.audit_flush() AS flushed;
SELECT status, attempts, input_tokens, output_tokens, cost_usd, cache_hit
FROM ai_gateway.audit_log WHERE model = 'c-scope' ORDER BY id;
SELECT route, model, requests, cache_hits FROM ai_gateway.stats
WHERE model IN ('c-model', 'c-scope') ORDER BY route NULLS FIRST, model;
SELECT line FROM regexp_split_to_table(ai_gateway.metrics(), E'\n') line
WHERE line LIKE 'ai_gateway_cache_hits_total{route="c_global"%';

-- quotas: a hit counts as one request (ai_gateway.cache_hits_count_quota)
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('aig_c1', 'day', 3);
SET ROLE aig_c1;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS hit1;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS hit2;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS hit3;
SELECT try1($$SELECT ai_complete('scoped', 'c_role')$$) AS over_quota;
RESET ROLE;
-- a superuser is not a member of aig_c1 for quotas: not held by its pool
SELECT ai_complete('scoped', 'c_role') IS NOT NULL AS superuser_not_charged;
SET ai_gateway.cache_hits_count_quota = off;
SET ROLE aig_c1;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_role'))->'cached' AS free_hit;
RESET ROLE;
RESET ai_gateway.cache_hits_count_quota;
DELETE FROM ai_gateway.quotas WHERE role = 'aig_c1';

-- cache_clear: by route, by model, everything; the next call misses
SELECT ai_gateway.cache_clear(route => 'c_global') AS cleared_route;
SELECT (ai_chat('[{"role":"user","content":"scoped"}]', 'c_global'))->'cached' AS after_clear;
SELECT ai_gateway.cache_clear(model => 'c-model') > 0 AS cleared_model;
SELECT count(*) AS c_model_rows FROM ai_gateway.cache WHERE model = 'c-model';
SELECT ai_gateway.cache_clear() > 0 AS cleared_all;
SELECT count(*) AS rows FROM ai_gateway.cache;
SELECT (ai_chat('[{"role":"user","content":"hello cache"}]', 'ollama/c-model', '{"cache": true}'))->'cached' AS after_clear_all;

-- a read-only transaction still answers (and keeps it in the session only)
BEGIN READ ONLY;
SELECT (ai_chat('[{"role":"user","content":"read only"}]', 'ollama/c-model', '{"cache": true}'))->'cached' AS ro_first;
SELECT (ai_chat('[{"role":"user","content":"read only"}]', 'ollama/c-model', '{"cache": true}'))->'cached' AS ro_again;
COMMIT;

-- batches use the cache item by item
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SELECT * FROM ai_complete_batch(ARRAY['b1', 'b2'], 'ollama/c-batch', NULL, '{"cache": true}');
SELECT ai_complete('b1', 'ollama/c-batch', NULL, '{"cache": true}');
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) FILTER (WHERE cache_hit) AS hits, count(*) AS calls
FROM ai_gateway.audit_log WHERE model = 'c-batch';
SELECT * FROM ai_complete_batch(ARRAY['b1', 'b2', 'b3'], 'ollama/c-batch', NULL, '{"cache": true}');
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) FILTER (WHERE cache_hit) AS hits, count(*) AS calls
FROM ai_gateway.audit_log WHERE model = 'c-batch';

-- async jobs too (the job worker runs them as batches)
SELECT ai_complete_async('job prompt', 'ollama/c-job', NULL, '{"cache": true}') AS j1 \gset
SELECT ai_result(:j1, 10000)->'result'->'cached' AS job1_cached;
SELECT ai_complete_async('job prompt', 'ollama/c-job', NULL, '{"cache": true}') AS j2 \gset
SELECT r->>'status' AS status, r->'result'->'cached' AS job2_cached, r->'result'->>'content' AS content
FROM ai_result(:j2, 10000) r;

-- bad options
SELECT try($$SELECT ai_complete('x', 'ollama/c-model', NULL, '{"cache": "yes"}')$$);
SELECT try($$SELECT ai_complete('x', 'ollama/c-model', NULL, '{"cache": -5}')$$);
SELECT try($$INSERT INTO ai_gateway.routes (name, options) VALUES ('c_bad', '{"cache_scope": "team"}')$$);
SELECT try($$INSERT INTO ai_gateway.routes (name, options) VALUES ('c_bad', '{"cache_ttl_s": "long"}')$$);

-- clean up
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
DELETE FROM ai_gateway.route_targets WHERE route IN ('c_route', 'c_nocache', 'c_role', 'c_global');
DELETE FROM ai_gateway.route_grants WHERE route IN ('c_role', 'c_global');
DELETE FROM ai_gateway.routes WHERE name IN ('c_route', 'c_nocache', 'c_role', 'c_global');
REVOKE SELECT ON ai_gateway.cache FROM aig_c1;
DROP ROLE aig_c1;
DROP ROLE aig_c2;
