-- errors: every way an upstream can fail ends in a clean error with a
-- documented SQLSTATE, naming the provider and model, never the key.

-- HTTP errors in each provider's own error format
SELECT p AS provider, try(format($q$SELECT ai_complete('hi', %L)$q$, p || '/m+status=401')) AS e401
FROM unnest(array['openai','anthropic','cohere','ollama','gemini','azure']) p;
SELECT try($$SELECT ai_complete('hi', 'openai/m+status=404')$$);
SELECT try($$SELECT ai_complete('hi', 'openai/m+status=400')$$);
SELECT try($$SELECT ai_complete('hi', 'anthropic/m+status=429+retry_after=1')$$);
SELECT try($$SELECT ai_complete('hi', 'gemini/m+status=429+retry_after=2')$$);
SELECT try($$SELECT ai_complete('hi', 'cohere/m+status=500')$$);
SELECT try($$SELECT ai_complete('hi', 'anthropic/m+status=529')$$);
SELECT try($$SELECT ai_complete('hi', 'openai/m+status=503')$$);

-- a bad key, as the provider reports it
UPDATE ai_gateway.providers SET api_key = 'bad-key-0123456789abcdef' WHERE name = 'compat';
SELECT try($$SELECT ai_complete('hi', 'compat/m')$$);
UPDATE ai_gateway.providers SET api_key = 'compat-test-0123456789' WHERE name = 'compat';

-- bodies that are not what the API documents
SELECT f AS fault, try(format($q$SELECT ai_complete('hi', %L)$q$, 'openai/m+' || f)) AS error
FROM unnest(array['malformed','truncated','empty','html','wrong_shape','null_content',
                  'invalid_utf8','wrong_ctype']) f;
SELECT p AS provider, try(format($q$SELECT ai_complete('hi', %L)$q$, p || '/m+null_content')) AS error
FROM unnest(array['anthropic','cohere','ollama','gemini','azure']) p;
SELECT p AS provider, try(format($q$SELECT ai_embed('hi', %L)$q$, p || '/m+wrong_shape')) AS error
FROM unnest(array['openai','cohere','ollama','gemini']) p;

-- the response size cap
SET ai_gateway.max_response_bytes = 4096;
SELECT try($$SELECT ai_complete('hi', 'openai/m+oversized=100000')$$);
SELECT length(ai_complete('hi', 'openai/m+oversized=2000')) > 0 AS small_enough;
RESET ai_gateway.max_response_bytes;

-- transport failures: 08xxx
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES
    ('nowhere', 'ollama', 'http://127.0.0.1:1'),
    ('unresolvable', 'ollama', 'http://no-such-host.invalid:11434');
SELECT try($$SELECT ai_complete('hi', 'nowhere/m')$$);
SELECT try($$SELECT ai_complete('hi', 'unresolvable/m')$$);
SELECT try($$SELECT ai_complete('hi', 'openai/m+reset')$$);
SELECT try($$SELECT ai_complete('hi', 'openai/m+reset_mid')$$);

-- timeouts: call option, route option, provider option, GUC
SELECT try($$SELECT ai_complete('hi', 'openai/m+latency=2000', NULL, '{"timeout_ms": 200}')$$);
SELECT try($$SELECT ai_complete('hi', 'ollama/m+trickle=50', NULL, '{"timeout_ms": 300}')$$);
SET ai_gateway.timeout_ms = 200;
SELECT try($$SELECT ai_complete('hi', 'openai/m+hang')$$);
RESET ai_gateway.timeout_ms;
UPDATE ai_gateway.providers SET options = '{"timeout_ms": 200}' WHERE name = 'cohere';
SELECT try($$SELECT ai_complete('hi', 'cohere/m+latency=2000')$$);
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'cohere';
INSERT INTO ai_gateway.routes (name, options) VALUES ('slow', '{"timeout_ms": 200}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('slow', 'openai', 'm+latency=2000');
SELECT try($$SELECT ai_complete('hi', 'slow')$$);
-- a slow answer inside the limit is fine
SELECT ai_complete('hi', 'openai/m+latency=100', NULL, '{"timeout_ms": 5000}') AS completion;

-- statement_timeout ends an in-flight call (57014)
SET statement_timeout = '300ms';
SELECT try($$SELECT ai_complete('hi', 'openai/m+hang')$$);
RESET statement_timeout;

-- the connection is still good after all of that
SELECT ai_complete('still working?', 'openai/m') AS completion;
