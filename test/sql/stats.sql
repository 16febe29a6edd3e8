-- stats: counters per route/provider/model after a known workload, the
-- Prometheus rendering, reset, and the per-call log line.
SELECT ai_gateway.stats_reset();
SELECT count(*) AS rows_after_reset FROM ai_gateway.stats WHERE requests > 0;

INSERT INTO ai_gateway.routes (name) VALUES ('s_route');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('s_route', 'ollama', 'stat-model');
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('ollama', 'stat-model', 1, 2);
SELECT count(ai_complete('one two', 's_route')) AS ok_calls FROM generate_series(1, 5);
SELECT try($$SELECT ai_complete('x', 'ollama/stat-model+status=401')$$) IS NOT NULL AS failed_auth;
SELECT try($$SELECT ai_complete('x', 'ollama/stat-model+malformed')$$) IS NOT NULL AS failed_body;
SELECT try($$SELECT ai_complete('x', 'ollama/stat-model+status=503')$$) IS NOT NULL AS failed_server;
SELECT count(ai_complete('x', 'ollama/stat-direct+latency=120')) AS slow_calls FROM generate_series(1, 2);

SELECT route, provider, model, requests, errors, errors_by_class, input_tokens, output_tokens,
       cost_usd, cache_hits
FROM ai_gateway.stats WHERE model LIKE 'stat-%' ORDER BY route NULLS LAST, model;
SELECT model, latency_p50_ms >= 100 AS p50_slow, latency_p99_ms >= latency_p50_ms AS ordered,
       latency_avg_ms >= 120 AS avg_slow
FROM ai_gateway.stats WHERE model = 'stat-direct+latency=120';

-- Prometheus text format
SELECT line FROM regexp_split_to_table(ai_gateway.metrics(), E'\n') line
WHERE line LIKE '# %'
   OR (line LIKE '%route="s_route"%' AND line NOT LIKE '%latency_ms_bucket%' AND line NOT LIKE '%latency_ms_sum%')
   OR line LIKE '%latency_ms_bucket{route="s_route"%le="+Inf"}%'
ORDER BY line COLLATE "C";

SELECT ai_gateway.stats_reset();
SELECT count(*) AS rows_after_reset FROM ai_gateway.stats WHERE requests > 0;

-- health(): every provider has a row, called or not; a disabled one says so
\getenv mock_port MOCK_PORT
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('idle', 'ollama', 'http://127.0.0.1:' || :'mock_port');
SELECT provider, model, breaker, requests, latency_ms FROM ai_gateway.health() WHERE provider = 'idle';
UPDATE ai_gateway.providers SET enabled = false WHERE name = 'idle';
SELECT provider, model, breaker FROM ai_gateway.health() WHERE provider = 'idle';
DELETE FROM ai_gateway.providers WHERE name = 'idle';
SELECT count(*) AS rows_left FROM ai_gateway.health() WHERE provider = 'idle';
