-- functions: argument handling of ai_complete, ai_chat and ai_embed.

-- NULL prompt / messages / input give NULL, without a call
SELECT ai_complete(NULL, 'openai/m') IS NULL AS null_prompt,
       ai_chat(NULL, 'openai/m') IS NULL AS null_messages,
       ai_embed(NULL::text, 'openai/m') IS NULL AS null_input;

-- ai_chat returns the normalized object (latency varies: checked apart)
SELECT r - 'latency_ms' AS result, (r->>'latency_ms')::float8 >= 0 AS latency_ok
FROM ai_chat('[{"role":"user","content":"What is 2+2?"}]', 'openai/gpt-4o-mini') r;
SELECT jsonb_object_keys(ai_chat('[{"role":"user","content":"x"}]', 'openai/m')) AS key ORDER BY 1;

-- "developer" is OpenAI's newer name for the system role
SELECT (ai_chat('[{"role":"developer","content":"d"},{"role":"user","content":"u"}]',
                'anthropic/echo')->>'content')::jsonb #> '{body,system}' AS system;

-- non-ASCII text survives both ways
SELECT ai_complete('Grüße, 世界 — ok?', 'ollama/m') AS completion;

-- ai_embed over an array: one row per input, in order; NULL inputs give NULL
SELECT ordinality, array_length(embedding, 1) AS dims
FROM ai_embed(array['a', NULL, 'c', 'd'], 'cohere/embed-v4.0');
SELECT count(*) FROM ai_embed(array[]::text[], 'cohere/embed-v4.0');

-- a batch larger than the provider's limit is split (cohere: 96 per request)
SELECT count(*), count(DISTINCT embedding), bool_and(array_length(embedding, 1) = 8) AS all_8
FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, 250) g), 'cohere/embed-v4.0');
-- rows stay in input order across chunks
SELECT bool_and(e.embedding = ai_embed('text ' || e.ordinality, 'cohere/embed-v4.0')) AS ordered
FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, 200) g), 'cohere/embed-v4.0') e
WHERE e.ordinality IN (1, 96, 97, 150, 193, 200);

-- options are validated before anything is sent
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"temprature": 1}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '[1]')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"temperature": "hot"}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"temperature": 3}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"max_tokens": 1.5}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"max_tokens": 0}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"stop": [1]}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"response_format": {"type": "xml"}}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"metadata": "x"}')$$);
SELECT try($$SELECT ai_complete('x', 'openai/m', NULL, '{"timeout_ms": -5}')$$);
-- a NULL options argument means no options
SELECT ai_complete('x', 'openai/m', NULL, NULL) AS completion;

-- messages are validated too
SELECT try($$SELECT ai_chat('{}', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('["hi"]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[{"content":"hi"}]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[{"role":"tool","content":"hi"}]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[{"role":"user"}]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[{"role":"user","content":[{"type":"image_url","image_url":"x"}]}]', 'openai/m')$$);
SELECT try($$SELECT ai_chat('[{"role":"user","content":42}]', 'openai/m')$$);
