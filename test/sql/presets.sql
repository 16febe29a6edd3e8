-- presets: the OpenAI-compatible provider kinds with their own default
-- base URL, capabilities and quirks (src/providers/presets.c):
--  * each kind with base_url NULL resolves to its documented default
--    (ai_gateway.provider_info()),
--  * a chat call through the mock works for each, and the body the mock got
--    shows each quirk (model "echo"); the mock refuses what the real API
--    refuses (/mistral/: "seed", /groq/: messages[].name, /deepseek/:
--    json_schema),
--  * a kind without embeddings fails ai_embed with a clear error.
\pset format aligned
\getenv mock_port MOCK_PORT
\set mock 'http://127.0.0.1:' :mock_port

-- no base_url: the kind's documented default, no look-up needed
INSERT INTO ai_gateway.providers (name, kind, api_key) VALUES
    ('pre_mistral',    'mistral',    'sk-preset-mistral-0123'),
    ('pre_groq',       'groq',       'sk-preset-groq-0123'),
    ('pre_deepseek',   'deepseek',   'sk-preset-deepseek-0123'),
    ('pre_xai',        'xai',        'sk-preset-xai-0123'),
    ('pre_together',   'together',   'sk-preset-together-0123'),
    ('pre_fireworks',  'fireworks',  'sk-preset-fireworks-0123'),
    ('pre_openrouter', 'openrouter', 'sk-preset-openrouter-0123');
SELECT provider, kind, base_url, embeddings, max_embed_batch, capabilities
FROM ai_gateway.provider_info() WHERE provider LIKE 'pre\_%' ORDER BY provider;
SELECT provider, quirks
FROM ai_gateway.provider_info() WHERE provider LIKE 'pre\_%' ORDER BY provider;
-- options.max_embed_batch narrows the preset's batch
UPDATE ai_gateway.providers SET options = '{"max_embed_batch": 16}' WHERE name = 'pre_mistral';
SELECT provider, max_embed_batch FROM ai_gateway.provider_info() WHERE provider = 'pre_mistral';
DELETE FROM ai_gateway.providers WHERE name LIKE 'pre\_%';

-- a kind that is not one: the hint lists the presets too
SELECT try($$INSERT INTO ai_gateway.providers (name, kind) VALUES ('x', 'mistrall')$$);

-- the same kinds against the mock: Mistral, Groq and DeepSeek under the
-- prefixes where the mock applies their rules, the others as plain OpenAI
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('m_mistral',    'mistral',    :'mock' || '/mistral/v1',      'sk-mock-mistral-0123'),
    ('m_groq',       'groq',       :'mock' || '/groq/openai/v1',  'sk-mock-groq-0123'),
    ('m_deepseek',   'deepseek',   :'mock' || '/deepseek',        'sk-mock-deepseek-0123'),
    ('m_xai',        'xai',        :'mock' || '/v1',              'sk-mock-xai-0123'),
    ('m_together',   'together',   :'mock' || '/v1',              'sk-mock-together-0123'),
    ('m_fireworks',  'fireworks',  :'mock' || '/v1',              'sk-mock-fireworks-0123'),
    ('m_openrouter', 'openrouter', :'mock' || '/v1',              'sk-mock-openrouter-0123');

-- a plain completion through each
SELECT p AS provider, ai_complete('Hello there', p || '/m1', 'be brief') AS completion
FROM unnest(array['m_mistral','m_groq','m_deepseek','m_xai','m_together','m_fireworks','m_openrouter']) p;

-- what arrived: path, bearer key, body (max_tokens, as openai_compatible)
SELECT p AS provider, e ->> 'path' AS path,
       e #>> '{headers,authorization}' LIKE 'Bearer sk-mock-%' AS bearer,
       e -> 'body' AS body
FROM unnest(array['m_mistral','m_groq','m_deepseek','m_xai','m_together','m_fireworks','m_openrouter']) p,
     LATERAL (SELECT ai_complete('x', p || '/echo', NULL, '{"max_tokens": 5}')::jsonb) AS t(e);

-- Mistral: seed is sent as random_seed (the mock, like Mistral, refuses "seed")
SELECT (ai_complete('x', 'm_mistral/echo', NULL, '{"seed": 3, "temperature": 0.2}')::jsonb) -> 'body' AS body;
SELECT ai_complete('x', 'm_mistral/m1', NULL, '{"seed": 3}') AS completion;
-- the OpenAI-compatible kind sends "seed": the mock's Mistral rules refuse it,
-- and Mistral's 422 reads as the member and the reason
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('m_mistral_compat', 'openai_compatible', :'mock' || '/mistral/v1', 'sk-mock-mistral-0123');
SELECT try1($$SELECT ai_complete('x', 'm_mistral_compat/m1', NULL, '{"seed": 3}')$$);
DELETE FROM ai_gateway.providers WHERE name = 'm_mistral_compat';
SELECT try1($$SELECT ai_complete('x', 'm_mistral/m1+status=422')$$);
-- Mistral embeddings
SELECT array_length(ai_embed('some text', 'm_mistral/mistral-embed'), 1) AS dims;
SELECT (ai_embed(array['a', 'b', NULL], 'm_mistral/mistral-embed')).ordinality;

-- DeepSeek: json_schema becomes json_object, the schema in a system message
-- (DeepSeek takes text / json_object only, and wants "json" in the prompt)
SELECT jsonb_pretty((ai_complete('Name a colour', 'm_deepseek/echo', NULL,
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "c",
      "schema": {"type": "object", "properties": {"colour": {"type": "string"}}}}}}')::jsonb) -> 'body') AS body;
SELECT ai_complete('Name a colour', 'm_deepseek/m1', NULL,
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "c",
      "schema": {"type": "object", "properties": {"colour": {"type": "string"}}}}}}') IS NOT NULL AS answered;
-- the answer is checked against the schema as for any provider (the mock, as
-- a model would, follows the schema it was given in the system message)
SELECT ai_chat('[{"role":"user","content":"Name a colour: \"teal\""}]', 'm_deepseek/m1',
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "c",
      "schema": {"type": "object", "properties": {"colour": {"type": "string"}},
                 "required": ["colour"], "additionalProperties": false}}}}') ->> 'content' AS content;
-- ai_extract through DeepSeek: the same emulation, a value of the schema
SELECT ai_extract('The sky is "blue" today', '{"type": "object", "properties": {"colour": {"type": "string"}},
                  "required": ["colour"]}', 'm_deepseek/m1') AS extracted;
-- no image input: 0A000 before any request
SELECT try1($$SELECT ai_chat('[{"role":"user","content":[{"type":"text","text":"what is this?"},
    {"type":"image","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==","media_type":"image/png"}]}]',
    'm_deepseek/m1')$$);
SELECT try1($$SELECT ai_chat('[{"role":"user","content":[{"type":"text","text":"what is this?"},
    {"type":"image","url":"https://example.com/cat.png"}]}]', 'm_deepseek/m1')$$);
-- json_object passes as it is
SELECT (ai_complete('Name a colour in JSON', 'm_deepseek/echo', NULL,
    '{"response_format": {"type": "json_object"}}')::jsonb) #> '{body,response_format}' AS response_format;

-- OpenRouter: its attribution headers through options.headers
UPDATE ai_gateway.providers
SET options = '{"headers": {"HTTP-Referer": "https://example.com/app", "X-Title": "My App"}}'
WHERE name = 'm_openrouter';
SELECT ((ai_complete('x', 'm_openrouter/echo')::jsonb) -> 'headers') - 'authorization' AS headers;

-- tools (the OpenAI format): Mistral gets tool_choice "any" for "required"
SELECT (ai_chat('[{"role":"user","content":"weather in \"Paris\""}]', 'm_mistral/echo',
    '{"tools":[{"name":"get_weather","description":"w","parameters":{"type":"object",
      "properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":"required"}')->>'content')::jsonb
    #> '{body,tool_choice}' AS tool_choice;
SELECT ai_chat('[{"role":"user","content":"weather in \"Paris\""}]', 'm_mistral/m1',
    '{"tools":[{"name":"get_weather","description":"w","parameters":{"type":"object",
      "properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":"required"}') -> 'tool_calls' AS tool_calls;
-- a conversation whose call came from another provider: Mistral gets 9-character
-- ids (the same for the call and its result); none sends messages[].name (Groq refuses it)
SELECT p AS provider, ai_chat('[{"role":"user","content":"weather?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","name":"get_weather","arguments":{"city":"Paris"}}]},
      {"role":"tool","tool_call_id":"call_abc123","name":"get_weather","content":"sunny"}]', p || '/m1',
    '{"tools":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}') ->> 'content' AS content
FROM unnest(array['m_mistral', 'm_groq']) p;
SELECT p AS provider, jsonb_path_query_array(e, '$.body.messages[*].tool_call_id') AS result_ids,
       jsonb_path_query_array(e, '$.body.messages[*].tool_calls[*].id') AS call_ids,
       jsonb_path_query_array(e, '$.body.messages[*].name') AS names
FROM unnest(array['m_mistral', 'm_groq', 'm_xai']) p,
     LATERAL (SELECT (ai_chat('[{"role":"user","content":"weather?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","name":"get_weather","arguments":{"city":"Paris"}}]},
      {"role":"tool","tool_call_id":"call_abc123","name":"get_weather","content":"sunny"}]', p || '/echo',
    '{"tools":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}') ->> 'content')::jsonb) AS t(e);
-- an image through a preset with vision reaches the API
SELECT ai_chat('[{"role":"user","content":[{"type":"text","text":"what is this?"},
    {"type":"image","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==","media_type":"image/png"}]}]',
    'm_mistral/m1') ->> 'content' AS content;

-- no embeddings API: a clear error, before any request
SELECT try1(format($$SELECT ai_embed('x', %L)$$, 'm_' || p || '/e')) AS error
FROM unnest(array['groq', 'deepseek', 'xai']) p;
-- embeddings where the API has them
SELECT p AS provider, array_length(ai_embed('some text', p || '/e5'), 1) AS dims
FROM unnest(array['m_together', 'm_fireworks', 'm_openrouter']) p;

-- shipped prices of preset kinds: only where the stored pricing pages give them
SELECT kind, model, input_usd_per_mtok, output_usd_per_mtok, source
FROM ai_gateway.model_catalog
WHERE kind IN ('mistral', 'groq', 'deepseek', 'xai', 'together', 'fireworks', 'openrouter')
ORDER BY kind, model;
SELECT (ai_chat('[{"role":"user","content":"one two three"}]', 'm_deepseek/deepseek-v4-flash')->>'cost_usd')::numeric > 0 AS priced;

DELETE FROM ai_gateway.providers WHERE name LIKE 'm\_%';
