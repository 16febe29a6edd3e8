-- bedrock: AWS Bedrock (kind bedrock) through the mock, which recomputes and
-- verifies every request's SigV4 signature (a wrong one gets AWS's 403):
--  * options.region (required unless the base URL names it), the api_key
--    document (AWS credentials) or a Bedrock API key (Bearer), sealed;
--  * a signed Converse chat, the request it sends, a conversation;
--  * structured output through the forced tool "aig_structured_output";
--  * tool calls, a tool-result round trip, an image and a PDF part;
--  * Titan and Cohere embeddings through InvokeModel;
--  * refusals (guardrail), errors classified; a wrong secret key gets the
--    mock's 403 and never appears in an error or the audit log;
--  * temporary credentials send (and sign) x-amz-security-token.
\pset format aligned
\getenv mock_port MOCK_PORT
\set mock 'http://127.0.0.1:' :mock_port

-- a region is required; it must look like one; only bedrock takes it
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('br_noregion', 'bedrock', 'http://127.0.0.1:1')$$) AS no_region;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('br_badregion', 'bedrock', '{"region": "US East"}')$$) AS bad_region;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('br_openai', 'openai', '{"region": "us-east-1"}')$$) AS not_bedrock;
-- the base URL names the region; or the region makes the base URL
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('br_url', 'bedrock', 'https://bedrock-runtime.eu-west-3.amazonaws.com')$$) AS region_from_url;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('br_default', 'bedrock', '{"region": "ap-south-1"}')$$) AS default_url;
DELETE FROM ai_gateway.providers WHERE name IN ('br_url', 'br_default');

-- AWS's documented example key pair (the mock knows it), sealed on write
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock', 'bedrock', :'mock',
     '{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}',
     '{"region": "us-east-1"}');
SELECT name, kind, api_key, api_key_encrypted LIKE 'aigk2:%' AS sealed
FROM ai_gateway.providers WHERE name = 'bedrock';

-- a signed chat: the model id's ':' travels as %3A and is signed as %253A
SELECT ai_complete('Hello there', 'bedrock/anthropic.claude-3-haiku-20240307-v1:0', 'be brief') AS completion;

-- the request as it arrived (signature and date masked): Converse's shapes
SELECT e->>'method' AS method, e->>'path' AS path,
       regexp_replace(regexp_replace(e#>>'{headers,authorization}',
           'Signature=[0-9a-f]{64}', 'Signature=<sig>'),
           '/[0-9]{8}/', '/<date>/') AS authorization,
       jsonb_pretty(e->'body') AS body
FROM (SELECT ai_complete('Hello there', 'bedrock/echo', 'be brief',
          '{"temperature":0.5,"max_tokens":20,"stop":["x"],"top_p":0.9,"seed":3}')::jsonb e) s;

-- a conversation: one message per role turn, system messages apart
SELECT jsonb_pretty((ai_chat('[{"role":"system","content":"s1"},
                               {"role":"user","content":"u1"},
                               {"role":"user","content":"u1b"},
                               {"role":"assistant","content":"a1"},
                               {"role":"user","content":"u2"}]',
                            'bedrock/echo')->>'content')::jsonb -> 'body') AS body;
SELECT r - 'latency_ms' AS result
FROM ai_chat('[{"role":"user","content":"hi"}]', 'bedrock/amazon.nova-lite-v1:0') r;

-- provider default_max_tokens goes to inferenceConfig.maxTokens
UPDATE ai_gateway.providers SET options = options || '{"default_max_tokens": 77}' WHERE name = 'bedrock';
SELECT (ai_complete('x', 'bedrock/echo')::jsonb) #> '{body,inferenceConfig}' AS inference_config;
UPDATE ai_gateway.providers SET options = options - 'default_max_tokens' WHERE name = 'bedrock';

-- structured output: a forced tool whose input is the answer
SELECT ((ai_complete('x', 'bedrock/echo', NULL,
    '{"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}}')::jsonb)
    -> 'body') -> 'toolConfig' AS tool_config;
SELECT ai_complete('three "apples"', 'bedrock/m', NULL,
    '{"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"n":{"type":"integer"},"what":{"type":"string"}},"required":["n","what"]}}}}') AS structured;
SELECT r->>'content' AS content, r->>'finish_reason' AS finish_reason, r->'tool_calls' AS tool_calls
FROM ai_chat('[{"role":"user","content":"x"}]', 'bedrock/m',
    '{"response_format":{"type":"json_object"}}') r;
-- a schema that is not an object is wrapped in {"value": ...} (tool aig_structured_value:
-- the mock answers that tool only when it was sent) and unwrapped
SELECT ai_complete('list "pears"', 'bedrock/m', NULL,
    '{"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"array","items":{"type":"string"}}}}}') AS structured_array;

-- tools: the model asks for a call (toolUse -> tool_calls)
\set weather_tool '{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}'
SELECT r->>'content' AS content, r->>'finish_reason' AS finish_reason, r->'tool_calls' AS tool_calls
FROM ai_chat('[{"role":"user","content":"weather in \"Paris\"?"}]', 'bedrock/m',
             jsonb_build_object('tools', jsonb_build_array(:'weather_tool'::jsonb))) r;
-- ... and gets its result back: toolUse / toolResult blocks, the tools resent
SELECT ai_chat('[{"role":"user","content":"weather in \"Paris\"?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"sunny, 21 C"}]', 'bedrock/m',
               jsonb_build_object('tools', jsonb_build_array(:'weather_tool'::jsonb))) ->> 'content' AS round_trip;
SELECT jsonb_pretty((ai_chat('[{"role":"user","content":"weather in Paris and Rome?"},
                 {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}},
                                                                         {"id":"call_2","name":"get_weather","arguments":{"city":"Rome"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"sunny"},
                 {"role":"tool","tool_call_id":"call_2","content":"{\"sky\": \"rain\"}"}]', 'bedrock/echo',
               jsonb_build_object('tools', jsonb_build_array(:'weather_tool'::jsonb)))->>'content')::jsonb
       #> '{body,messages}') AS tool_messages;
-- tool_choice: required is Converse's "any", a name its "tool"; "none" sends no tools
SELECT c AS tool_choice,
       (ai_complete('x', 'bedrock/echo', NULL,
                    jsonb_build_object('tools', jsonb_build_array(:'weather_tool'::jsonb), 'tool_choice', c))::jsonb)
       #> '{body,toolConfig,toolChoice}' AS converse
FROM (VALUES ('"auto"'::jsonb), ('"required"'), ('"get_weather"'), ('"none"')) v(c);

-- an image and a PDF travel as bytes; an image URL skips the bedrock target
SELECT ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'text', 'text', 'what is this'),
           ai_image(decode('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
                           '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex')),
           jsonb_build_object('type', 'document', 'media_type', 'application/pdf',
                              'data', encode(convert_to('%PDF-1.4 tiny', 'UTF8'), 'base64'))))),
       'bedrock/m') ->> 'content' AS with_image;
SELECT jsonb_path_query_array((ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'text', 'text', 'see'),
           ai_image(decode('ffd8ffe000104a46494600010100000100010000ffd9', 'hex')),
           jsonb_build_object('type', 'document', 'media_type', 'application/pdf',
                              'data', encode(convert_to('%PDF-1.4', 'UTF8'), 'base64'))))),
       'bedrock/echo') ->> 'content')::jsonb, '$.body.messages[0].content[*]') AS blocks;
SELECT try1($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","url":"https://example.com/a.png"}]}]', 'bedrock/m')$$) AS image_url;

-- ai_extract: the schema (in its strict form) as the forced tool's input schema
SELECT ai_extract('three "apples"',
    '{"type":"object","properties":{"n":{"type":"integer"},"what":{"type":"string"}},"required":["n","what"]}',
    'bedrock/m') AS extracted;

-- embeddings: Titan (one text per request) and Cohere on Bedrock
SELECT ai_embed('alpha', 'bedrock/amazon.titan-embed-text-v2:0') = ai_embed('alpha', 'openai/e') AS titan_same_vector;
SELECT array_length(ai_embed('alpha', 'bedrock/amazon.titan-embed-text-v2:0', '{"dimensions": 4}'), 1) AS titan_dims;
SELECT ordinality, array_length(embedding, 1) AS dims
FROM ai_embed(array['one', 'two', 'three'], 'bedrock/amazon.titan-embed-text-v2:0');
SELECT ordinality, embedding = ai_embed(t, 'openai/e') AS same
FROM ai_embed(array['one', 'two'], 'bedrock/cohere.embed-english-v3', '{"input_type": "query"}')
     JOIN unnest(array['one', 'two']) WITH ORDINALITY AS u(t, o) ON o = ordinality;
SELECT (ai_embed('alpha', 'bedrock/echo'))[1] IS NOT NULL AS echo_embeds;

-- refusals: a guardrail or content filter (MR001), the limit before any text (MR002)
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+refuse=guardrail')$$) AS guardrail;
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+refuse=filter')$$) AS content_filtered;
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+refuse=length')$$) AS max_tokens;

-- errors: {"message"} bodies classified by status
SELECT s AS status, try1(format($$SELECT ai_complete('x', 'bedrock/m+status=%s')$$, s)) AS error
FROM unnest(array[400, 403, 404, 408, 424, 429, 503]) s;
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+malformed')$$) AS malformed;
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+wrong_shape')$$) AS wrong_shape;

-- the secret access key is scrubbed from provider text: a provider that
-- echoes it (echo_key), a prompt that quotes it
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+status=403+echo_key')$$) AS echoed_secret;
SELECT try1($$SELECT ai_complete('x', 'bedrock/m+status=403+echo_key+pad=7')$$) AS echoed_secret_padded;
SELECT try1($$SELECT ai_complete('my key is wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 'bedrock/m+status=400+echo_prompt')$$) AS scrubbed;

-- a wrong secret key: the mock's 403 (signature mismatch), classified 28000;
-- the secret appears nowhere
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock_wrong', 'bedrock', :'mock',
     '{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY0"}',
     '{"region": "us-east-1"}');
SELECT try($$SELECT ai_complete('Hello', 'bedrock_wrong/m')$$) AS wrong_secret;
SELECT try1($$SELECT ai_complete('my key is wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY0', 'bedrock_wrong/m')$$) AS wrong_secret_quoted;
INSERT INTO ai_gateway.routes (name) VALUES ('br_route');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('br_route', 'bedrock_wrong', 'm');
SELECT try1($$SELECT ai_complete('Hello', 'br_route')$$) AS via_route;
SELECT count(*) AS explain_rows_with_secret FROM ai_gateway.explain_route('br_route') e
WHERE e::text LIKE '%WRONGKEY0%';
SELECT count(*) AS health_rows, count(*) FILTER (WHERE h::text LIKE '%WRONGKEY0%') AS with_secret
FROM ai_gateway.health() h WHERE provider = 'bedrock_wrong';
DELETE FROM ai_gateway.routes WHERE name = 'br_route';
SELECT ai_gateway.audit_flush();
SELECT count(*) AS audit_rows_with_secret FROM ai_gateway.audit_log a
WHERE a::text LIKE '%WRONGKEY0%' OR a::text LIKE '%EXAMPLEKEY%';
SELECT count(*) AS provider_rows_with_secret FROM ai_gateway.providers p
WHERE p::text LIKE '%WRONGKEY0%' OR p::text LIKE '%EXAMPLEKEY%';

-- temporary credentials: x-amz-security-token is sent and signed (the mock
-- refuses this key id without its token)
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock_sts', 'bedrock', :'mock',
     '{"access_key_id": "ASIAMOCKTEMPORARY", "secret_access_key": "mockTemporarySecretKey/EXAMPLE0123456789",
       "session_token": "mock-session-token-EXAMPLE-0123456789"}',
     '{"region": "us-east-1"}'),
    ('bedrock_nosts', 'bedrock', :'mock',
     '{"access_key_id": "ASIAMOCKTEMPORARY", "secret_access_key": "mockTemporarySecretKey/EXAMPLE0123456789"}',
     '{"region": "us-east-1"}');
SELECT ai_complete('Hello', 'bedrock_sts/m') AS with_token;
SELECT substring(ai_complete('x', 'bedrock_sts/echo')::jsonb #>> '{headers,authorization}'
                 from 'SignedHeaders=[^,]*') AS signed_headers;
SELECT try($$SELECT ai_complete('Hello', 'bedrock_nosts/m')$$) AS without_token;
-- the token is scrubbed like the secret key
SELECT try1($$SELECT ai_complete('token mock-session-token-EXAMPLE-0123456789', 'bedrock_sts/m+status=400+echo_prompt')$$) AS token_scrubbed;

-- a Bedrock API key: Authorization: Bearer, no signature
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock_apikey', 'bedrock', :'mock', 'ABSKmockBedrockApiKey0123456789', '{"region": "us-east-1"}'),
    ('bedrock_badkey', 'bedrock', :'mock', 'bad-BedrockApiKey0123456789', '{"region": "us-east-1"}');
SELECT ai_complete('Hello', 'bedrock_apikey/m') AS api_key;
SELECT ai_complete('x', 'bedrock_apikey/echo')::jsonb #>> '{headers,authorization}' LIKE 'Bearer %' AS bearer;
SELECT try($$SELECT ai_complete('Hello', 'bedrock_badkey/m')$$) AS bad_api_key;

-- a malformed credentials document is refused when written, naming no key material
SELECT try(format($$INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock_halfkey', 'bedrock', %L, '{"access_key_id": "AKIDEXAMPLE"}', '{"region": "us-east-1"}')$$, :'mock')) AS half_key;
SELECT try(format($$INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock_badjson', 'bedrock', %L, '{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"', '{"region": "us-east-1"}')$$, :'mock')) AS not_json;
SELECT try($$UPDATE ai_gateway.providers SET api_key = '{"access_key_id": 7, "secret_access_key": "s3cr3t-s3cr3t"}' WHERE name = 'bedrock'$$) AS bad_member;

DELETE FROM ai_gateway.providers WHERE name IN ('bedrock_wrong', 'bedrock_sts', 'bedrock_nosts',
                                                 'bedrock_apikey', 'bedrock_badkey', 'bedrock_halfkey');
