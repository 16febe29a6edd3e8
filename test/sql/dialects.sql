-- dialects: every provider kind, through the mock provider.
--  * a plain completion,
--  * the exact request each dialect builds ("echo" returns what arrived),
--  * the real recorded response bodies of test/samples ("recorded"),
--  * embeddings, generated and recorded,
--  * the recorded error bodies of each provider.
\pset format aligned

-- plain completion with a system prompt, every kind
SELECT p AS provider, ai_complete('Hello there', p || '/m1', 'be brief') AS completion
FROM unnest(array['openai','anthropic','cohere','ollama','gemini','azure','compat']) p;

-- the request each dialect builds: system prompt placement, option names
SELECT p AS provider,
       jsonb_pretty(ai_complete('Hello there', p || '/echo', 'be brief',
           '{"temperature":0.5,"max_tokens":20,"stop":["x"],"seed":3,"top_p":0.9,
             "response_format":{"type":"json_object"}}')::jsonb) AS request
FROM unnest(array['openai','anthropic','cohere','ollama','gemini','azure','compat']) p;

-- a conversation: assistant turns map to each API's roles (gemini: "model")
SELECT p AS provider,
       jsonb_pretty((ai_chat('[{"role":"system","content":"s1"},
                               {"role":"user","content":"u1"},
                               {"role":"assistant","content":"a1"},
                               {"role":"user","content":[{"type":"text","text":"u2a "},{"type":"text","text":"u2b"}]}]',
                            p || '/echo')->>'content')::jsonb -> 'body') AS body
FROM unnest(array['anthropic','gemini','cohere']) p;

-- json_schema response formats
SELECT p AS provider,
       ((ai_complete('x', p || '/echo', NULL,
           '{"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object"}}}}')::jsonb)
        -> 'body') - '{messages,contents,model}'::text[] AS body
FROM unnest(array['openai','cohere','ollama','gemini']) p;

-- anthropic's required max_tokens: default, provider option
SELECT (ai_complete('x', 'anthropic/echo')::jsonb) #> '{body,max_tokens}' AS default_max_tokens;
UPDATE ai_gateway.providers SET options = '{"default_max_tokens": 99, "anthropic_version": "2024-01-01"}'
WHERE name = 'anthropic';
SELECT (ai_complete('x', 'anthropic/echo')::jsonb) #> '{body,max_tokens}' AS max_tokens,
       (ai_complete('x', 'anthropic/echo')::jsonb) #> '{headers,anthropic-version}' AS version;
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'anthropic';

-- azure api-version from options
UPDATE ai_gateway.providers SET options = '{"api_version": "2025-01-01-preview"}' WHERE name = 'azure';
SELECT (ai_complete('x', 'azure/my-deployment')) AS completion,
       (ai_complete('x', 'azure/echo')::jsonb) ->> 'query' AS query;
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'azure';

-- gemini model names may carry "models/" and need escaping in the path
SELECT (ai_complete('x', 'gemini/models/echo')::jsonb) ->> 'path' AS path;

-- recorded bodies of the real APIs, normalized
SELECT p AS provider, r - 'latency_ms' AS result
FROM unnest(array['openai','anthropic','cohere','ollama','gemini','azure']) p,
     LATERAL ai_chat('[{"role":"user","content":"hi"}]', p || '/recorded') r;

-- Ollama's OpenAI-compatible endpoint, recorded (extra "reasoning" field ignored)
SELECT ai_chat('[{"role":"user","content":"hi"}]', 'compat/recorded-ollama-compat') - 'latency_ms' AS result;

-- embeddings: generated (8 dims by default, "dimensions" passed through)
SELECT p AS provider, array_length(ai_embed('hello', p || '/e1'), 1) AS dims,
       array_length(ai_embed('hello', p || '/e1', '{"dimensions": 4}'), 1) AS dims4
FROM unnest(array['openai','cohere','ollama','gemini','azure','compat']) p;

-- the same text gives the same vector, whatever the batch around it
SELECT ai_embed('hello', 'openai/e1') = (SELECT embedding FROM ai_embed(array['x','hello','y'], 'openai/e1') WHERE ordinality = 2) AS same;

-- embeddings: recorded bodies (float arrays, and OpenAI's base64 encoding)
SELECT p AS provider, array_length(e, 1) AS dims, e[1] AS first, e[array_length(e,1)] AS last
FROM unnest(array['openai','cohere','ollama','gemini','azure']) p,
     LATERAL ai_embed('hello', p || '/recorded') e;
SELECT array_length(e, 1) AS dims, e[1] AS first FROM ai_embed('hello', 'openai/recorded-base64') e;

-- anthropic has no embeddings API
SELECT try($$SELECT ai_embed('x', 'anthropic/m')$$);

-- recorded error bodies become SQLSTATEs with the provider's message
SELECT p AS provider, try(format($q$SELECT ai_complete('hi', %L)$q$, p || '/recorded-error')) AS error
FROM unnest(array['openai','anthropic','cohere','ollama','gemini','azure']) p;

-- azure: the base URL follows options.resource when base_url is NULL
INSERT INTO ai_gateway.providers (name, kind, api_key, options)
VALUES ('azure_res', 'azure_openai', 'az-test-0123456789abcdef', '{"resource": "my-resource"}');
SELECT try($$SELECT ai_complete('x', 'azure_res/gpt')$$);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"resource": "a/b"}' WHERE name = 'azure_res'$$);
DELETE FROM ai_gateway.providers WHERE name = 'azure_res';

-- options.headers are sent with every request of the provider
UPDATE ai_gateway.providers SET options = '{"headers": {"X-Test-Team": "search", "X-Test-Env": "ci"}}'
WHERE name = 'ollama';
SELECT (ai_complete('x', 'ollama/echo')::jsonb) -> 'headers' AS headers;
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'ollama';

-- provider and route options are checked when written
SELECT try($$UPDATE ai_gateway.providers SET options = '{"timeout": 5}' WHERE name = 'ollama'$$);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"timeout_ms": "5s"}' WHERE name = 'ollama'$$);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"headers": {"Bad: Name": "x"}}' WHERE name = 'ollama'$$);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"headers": ["x"]}' WHERE name = 'ollama'$$);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"resource": "r"}' WHERE name = 'ollama'$$);
SELECT try($$INSERT INTO ai_gateway.routes (name, options) VALUES ('bad', '{"system_prompt": 1}')$$);
SELECT try($$INSERT INTO ai_gateway.routes (name, options) VALUES ('bad', '{"max_retires": 1}')$$);
