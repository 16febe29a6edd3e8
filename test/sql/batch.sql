-- batch: ai_complete_batch runs every prompt as a call of its own —
-- routing, retries, quotas, policy, audit — concurrently, one row per
-- prompt in input order; one item's failure is that row's error.
SELECT * FROM ai_complete_batch(array['one', 'two', NULL, 'four'], 'openai/m', 'be brief');
SELECT count(*) FROM ai_complete_batch(array[]::text[], 'openai/m');
SELECT * FROM ai_complete_batch(NULL, 'openai/m');

-- order is kept whatever finishes first (latency differs per prompt here)
SELECT ordinality, completion = 'mock reply from ollama m: p' || ordinality AS in_order
FROM ai_complete_batch(array(SELECT 'p' || g FROM generate_series(1, 40) g), 'ollama/m',
                       NULL, '{"concurrency": 8}')
WHERE ordinality IN (1, 8, 9, 33, 40);

-- per-item retries and failover, through a route
INSERT INTO ai_gateway.routes (name, options) VALUES ('b_route', '{"max_retries": 1}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('b_route', 'openai', 'flaky+fail_first=3+seq=batch1', 1), ('b_route', 'anthropic', 'steady', 2);
SELECT ai_gateway.grant_route('b_route', 'public');
SET ai_gateway.retry_base_ms = 5;
SELECT ordinality, completion IS NOT NULL AS answered, error
FROM ai_complete_batch(array['a', 'b', 'c', 'd', 'e'], 'b_route', NULL, '{"concurrency": 1}');
-- every item failing: each row has its error, the statement does not fail
SELECT ordinality, completion, error
FROM ai_complete_batch(array['x', 'y'], 'cohere/m+status=404', NULL, '{"max_retries": 2}');

-- quotas count each item; items over the limit get the quota error
CREATE ROLE b_user;
GRANT USAGE ON SCHEMA public TO b_user;
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('b_user', 'hour', 3);
SET ROLE b_user;
SELECT ordinality, completion IS NOT NULL AS answered, regexp_replace(error, 'resets at .*', '') AS error
FROM ai_complete_batch(array['1', '2', '3', '4', '5'], 'b_route');
RESET ROLE;
DELETE FROM ai_gateway.quotas;

-- deny patterns and hooks apply per item
INSERT INTO ai_gateway.routes (name, options) VALUES ('b_policy', '{"deny_patterns": ["forbidden"], "redact_pii": "reversible"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('b_policy', 'gemini', 'm');
SELECT * FROM ai_complete_batch(array['fine', 'forbidden words', 'mail bob@example.org'], 'b_policy');

-- each item is audited
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) FILTER (WHERE status = 'ok') AS ok_rows, count(*) FILTER (WHERE status = 'error') AS error_rows
FROM ai_gateway.audit_log WHERE route = 'b_route';

-- bad arguments fail the statement as a single call would
SELECT try($$SELECT * FROM ai_complete_batch(array['x'], 'nope')$$);
SELECT try($$SELECT * FROM ai_complete_batch(array['x'], 'openai/m', NULL, '{"concurrency": 0}')$$);

REVOKE USAGE ON SCHEMA public FROM b_user;
DROP ROLE b_user;
