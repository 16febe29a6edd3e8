-- provider_limits: options are checked against what each provider's API
-- documents before anything is sent (22023 naming the API's limit, no
-- request), embedding input types are mapped from one neutral vocabulary,
-- and text content parts keep a separator.  The mock refuses (HTTP 400)
-- what the real APIs refuse, so a value that got through would fail there
-- with a "mock:" message instead.

-- stop sequences: OpenAI and Azure take 4, Cohere and Gemini 5, the others
-- the gateway's 16
SELECT p, n, try(format($$SELECT ai_complete('x', %L, NULL, %L)$$, p || '/m',
                        jsonb_build_object('stop', (SELECT jsonb_agg('s' || i) FROM generate_series(1, n) i))))
FROM (VALUES ('openai', 4), ('openai', 5), ('azure', 5), ('cohere', 5), ('cohere', 6),
             ('gemini', 5), ('gemini', 6), ('anthropic', 16), ('ollama', 16)) v(p, n);

-- temperature: Anthropic and Cohere take 0 to 1, the others 0 to 2
SELECT p, t, try(format($$SELECT ai_complete('x', %L, NULL, %L)$$, p || '/m',
                        jsonb_build_object('temperature', t)))
FROM (VALUES ('anthropic', 1.0), ('anthropic', 1.5), ('cohere', 1.5), ('openai', 1.5),
             ('gemini', 1.5)) v(p, t);

-- Cohere: p from 0.01 to 0.99, a seed of 0 or more
SELECT o, try(format($$SELECT ai_complete('x', 'cohere/m', NULL, %L)$$, o))
FROM (VALUES ('{"top_p": 1.0}'::jsonb), ('{"top_p": 0}'), ('{"top_p": 0.5}'),
             ('{"seed": -1}'), ('{"seed": 7}')) v(o);

-- a route falls over to a target whose API takes the options
INSERT INTO ai_gateway.routes (name) VALUES ('pl_route');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('pl_route', 'anthropic', 'pl-a', 1), ('pl_route', 'openai', 'pl-o', 2);
SELECT ai_gateway.grant_route('pl_route', 'public');
SELECT (ai_chat('[{"role":"user","content":"hot"}]', 'pl_route', '{"temperature": 1.5}'))->>'provider' AS answered_by;

-- an empty input fails an OpenAI/Azure embedding request as a whole: refused
-- before sending, saying to pass NULL instead; Cohere takes it
SELECT try($$SELECT count(*) FROM ai_embed(array['a', '', 'c'], 'openai/text-embedding-3-small')$$) AS openai_empty;
SELECT try($$SELECT count(*) FROM ai_embed(array['a', '', 'c'], 'azure/emb')$$) AS azure_empty;
SELECT count(*) AS cohere_empty FROM ai_embed(array['a', '', 'c'], 'cohere/embed-v4.0');

-- input types: neutral names mapped to each API's own, an API's own names
-- taken as they are, anything else refused before sending
SELECT p, t, try(format($$SELECT array_length(ai_embed('x', %L, %L), 1) > 0$$, p,
                        jsonb_build_object('input_type', t)))
FROM (VALUES ('cohere/embed-v4.0', 'query'), ('cohere/embed-v4.0', 'document'),
             ('cohere/embed-v4.0', 'search_query'), ('cohere/embed-v4.0', 'similarity'),
             ('cohere/embed-v4.0', 'RETRIEVAL_QUERY'),
             ('gemini/text-embedding-004', 'query'), ('gemini/text-embedding-004', 'similarity'),
             ('gemini/text-embedding-004', 'CLUSTERING'), ('gemini/text-embedding-004', 'search_query'),
             ('openai/text-embedding-3-small', 'query')) v(p, t);

-- text parts are joined with a newline, not run together (the mock echoes
-- the last user message)
SELECT ai_chat('[{"role":"user","content":[{"type":"text","text":"part one"},{"type":"text","text":"part two"}]}]',
               'ollama/m')->>'content' AS parts;

-- response_format json_schema needs the name OpenAI and Azure require
SELECT o, try(format($$SELECT ai_complete('x', 'openai/m', NULL, %L)$$, o))
FROM (VALUES ('{"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}}'::jsonb),
             ('{"response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}}'),
             ('{"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": []}}}'),
             ('{"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}}')) v(o);
