-- tools_anthropic: tool calls, structured output and images through the
-- Anthropic Messages API and Cohere API v2 dialects (src/providers/anthropic.c,
-- cohere.c), against the mock provider:
--  * a tool-call round trip through ai_chat: a tool offered -> tool_calls and
--    finish_reason "tool_calls" -> the call and its result sent back -> the
--    answer built from the results ("tool results: NAME=CONTENT");
--  * the exact request bodies ("echo" returns what arrived): tools,
--    tool_choice, the replayed calls, tool results merged into ONE user turn
--    (anthropic), tool_plan (cohere), the forced aig_structured_output tool;
--  * the real recorded tool-call answers of test/samples ("recorded-tools");
--  * images (from a bytea column), URLs and PDFs, and what each API refuses;
--  * response_format json_schema through anthropic giving a JSON answer.
\pset format aligned
SET ai_gateway.max_retries = 0;

CREATE TEMP TABLE t_args AS SELECT
    '{"tools": [{"name": "get_weather", "description": "Weather of a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]}}]}'::jsonb AS tools,
    '[{"role": "user", "content": "Weather in \"Paris\"?"}]'::jsonb AS ask;

-- 1. the model asks for a call
CREATE TEMP TABLE t_round1 AS
SELECT p, ai_chat(ask, p || '/claude-x', tools) AS r FROM t_args, unnest(array['anthropic', 'cohere']) p;
SELECT p AS provider, r->'tool_calls' AS tool_calls, r->>'finish_reason' AS finish_reason,
       r->>'content' AS content
FROM t_round1 ORDER BY p;

-- 2. the call and its result go back: the answer is built from the result
CREATE TEMP TABLE t_round2 AS
SELECT p, ask || jsonb_build_array(
           jsonb_build_object('role', 'assistant', 'content', r->'content', 'tool_calls', r->'tool_calls'),
           jsonb_build_object('role', 'tool', 'tool_call_id', r#>>'{tool_calls,0,id}', 'content', 'sunny, 21 C'))
       AS msgs
FROM t_round1, t_args;
SELECT p AS provider, r->>'content' AS content, r->>'finish_reason' AS finish_reason,
       r->'tool_calls' AS tool_calls
FROM t_round2, t_args, LATERAL ai_chat(msgs, p || '/claude-x', tools) r ORDER BY p;

-- ... and the request that carried it, exactly
SELECT p AS provider, jsonb_pretty((ai_chat(msgs, p || '/echo', tools)->>'content')::jsonb -> 'body') AS body
FROM t_round2, t_args ORDER BY p;

-- two results of two calls, then a user message: anthropic sends them as ONE
-- user turn (tool_result blocks first, then the text); ids outside the API's
-- pattern are made to fit (both sides alike); cohere keeps each message
SELECT p AS provider, jsonb_pretty((ai_chat('[
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "Looking both up.", "tool_calls": [
        {"id": "call.1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": "call_2", "name": "get_weather", "arguments": {"city": "Rome"}}]},
    {"role": "tool", "tool_call_id": "call.1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    {"role": "user", "content": "And which is warmer?"}]', p || '/echo', tools)->>'content')::jsonb
    -> 'body' -> 'messages') AS messages
FROM t_args, unnest(array['anthropic', 'cohere']) p;

-- the same conversation through the mock's API checks (every tool_use needs
-- its tool_result in the next user turn) gives the results back
SELECT p AS provider, ai_chat('[
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call.1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": "call_2", "name": "get_weather", "arguments": {"city": "Rome"}}]},
    {"role": "tool", "tool_call_id": "call.1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "rain"}]', p || '/claude-x', tools)->>'content' AS content
FROM t_args, unnest(array['anthropic', 'cohere']) p;

-- tool_choice and parallel_tool_calls in each API's terms: anthropic
-- {"type": any|tool|none} (+ disable_parallel_tool_use); cohere "REQUIRED" /
-- "NONE" and, having no way to name a tool, only the named tool with "REQUIRED"
SELECT p AS provider, o AS options, b -> 'tool_choice' AS tool_choice,
       jsonb_path_query_array(b, '$.tools[*].name') || jsonb_path_query_array(b, '$.tools[*].function.name')
         AS tools_sent
FROM t_args, unnest(array['anthropic', 'cohere']) p,
     unnest(array['{}', '{"tool_choice": "auto"}', '{"tool_choice": "required"}',
                  '{"tool_choice": "get_time", "parallel_tool_calls": false}',
                  '{"tool_choice": {"name": "get_time"}}',
                  '{"tool_choice": "none"}',
                  '{"parallel_tool_calls": false}']) o,
     LATERAL (SELECT (ai_chat(ask, p || '/echo',
                              jsonb_set(tools, '{tools,1}', '{"name": "get_time", "parameters": {"type": "object"}}')
                              || o::jsonb)->>'content')::jsonb -> 'body') e(b)
ORDER BY p, o;

-- the forced tool answers what it was asked: tool_choice none gives text
SELECT p AS provider, r->>'finish_reason' AS finish_reason, r->'tool_calls' AS tool_calls,
       r->>'content' AS content
FROM t_args, unnest(array['anthropic', 'cohere']) p,
     LATERAL ai_chat(ask, p || '/claude-x', tools || '{"tool_choice": "none"}') r ORDER BY p;

-- the real APIs' recorded tool-call answers (test/samples)
SELECT p AS provider, r->'tool_calls' AS tool_calls, r->>'finish_reason' AS finish_reason,
       r->>'content' AS content, r->'usage' AS usage
FROM t_args, unnest(array['anthropic', 'cohere']) p,
     LATERAL ai_chat(ask, p || '/recorded-tools', tools) r ORDER BY p;

-- 3. structured output: anthropic has no response_format, so the schema
-- becomes the input_schema of a forced tool, aig_structured_output, whose
-- input is the answer (finish_reason stop, no tool_calls); cohere has it natively
CREATE TEMP TABLE t_schema AS SELECT
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "person",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}, "born": {"type": "integer"}},
                   "required": ["name", "born"]}}}}'::jsonb AS rf;
SELECT p AS provider, (r->>'content')::jsonb AS answer, r->>'finish_reason' AS finish_reason,
       r->'tool_calls' AS tool_calls
FROM t_schema, unnest(array['anthropic', 'cohere']) p,
     LATERAL ai_chat('[{"role": "user", "content": "Who was \"Ada Lovelace\"?"}]', p || '/m', rf) r
ORDER BY p;
-- (the request, through "echo": its answer, the request as JSON, must pass
-- the gateway's schema check too, so the schema goes without "required")
SELECT p AS provider,
       ((ai_chat('[{"role": "user", "content": "Who?"}]', p || '/echo',
                 rf #- '{response_format,json_schema,schema,required}')->>'content')::jsonb -> 'body')
         - '{model,messages,max_tokens}'::text[] AS body
FROM t_schema, unnest(array['anthropic', 'cohere']) p ORDER BY p;
-- json_object: any object
SELECT ((ai_chat('[{"role": "user", "content": "Who?"}]', 'anthropic/echo',
                 '{"response_format": {"type": "json_object"}}')->>'content')::jsonb -> 'body')
         - '{model,messages,max_tokens}'::text[] AS body;
SELECT (ai_chat('[{"role": "user", "content": "Who?"}]', 'anthropic/m',
                '{"response_format": {"type": "json_object"}}')->>'content')::jsonb AS answer;
-- with the caller's tools too: aig_structured_output beside them and
-- tool_choice "any" (a tool call, or the final answer through the forced tool);
-- a named choice stays, "none" forces aig_structured_output
SELECT o AS options, b -> 'tool_choice' AS tool_choice,
       jsonb_path_query_array(b, '$.tools[*].name') AS tools
FROM t_args, t_schema, unnest(array['{}', '{"tool_choice": "get_weather"}', '{"tool_choice": "none"}']) o,
     LATERAL (SELECT (ai_chat(ask, 'anthropic/echo',
                              tools || (rf #- '{response_format,json_schema,schema,required}') || o::jsonb)
                      ->>'content')::jsonb -> 'body') e(b)
ORDER BY o;
-- an answer outside the schema is refused (UP005), as for every provider
SELECT try($$SELECT ai_chat('[{"role": "user", "content": "Who?"}]', 'anthropic/m+badjson',
    (SELECT rf FROM t_schema))$$) AS badjson;
SELECT try($$SELECT ai_chat('[{"role": "user", "content": "Who?"}]', 'anthropic/m+notjson',
    (SELECT rf FROM t_schema))$$) AS notjson;
-- user tools named aig_* are the gateway's
SELECT try($$SELECT ai_chat('[{"role": "user", "content": "x"}]', 'anthropic/m',
    '{"tools": [{"name": "aig_structured_output", "parameters": {"type": "object"}}]}')$$) AS reserved;
-- cohere refuses response_format together with tools; so does the dialect
SELECT try($$SELECT ai_chat((SELECT ask FROM t_args), 'cohere/m',
    (SELECT tools || rf FROM t_args, t_schema))$$) AS cohere_tools_and_format;

-- 4. images: from a bytea column (ai_image), and URLs
CREATE TEMP TABLE t_pics (id int, img bytea);
INSERT INTO t_pics VALUES (1, decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==', 'base64'));
SELECT p AS provider, ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'text', 'text', 'What is in it?'),
           ai_image(img)))),
       p || '/vision')->>'content' AS content
FROM t_pics, unnest(array['anthropic', 'cohere']) p ORDER BY p;
SELECT p AS provider, jsonb_pretty((ai_chat('[{"role": "user", "content": [
    {"type": "text", "text": "Compare"},
    {"type": "image", "media_type": "image/png",
     "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="},
    {"type": "image", "url": "https://example.com/cat.jpg"}]}]', p || '/echo')->>'content')::jsonb
    -> 'body' -> 'messages') AS messages
FROM unnest(array['anthropic', 'cohere']) p ORDER BY p;
-- a PDF: anthropic takes it as a document block; cohere has no document
-- input, so the target is skipped with 0A000
SELECT jsonb_pretty((ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'text', 'text', 'Summarize'),
           jsonb_build_object('type', 'document', 'media_type', 'application/pdf',
                              'data', encode(convert_to(E'%PDF-1.4\n%%EOF', 'UTF8'), 'base64'))))),
       'anthropic/echo')->>'content')::jsonb -> 'body' -> 'messages' -> 0 -> 'content' -> 1) AS document_block;
SELECT ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'text', 'text', 'Summarize'),
           jsonb_build_object('type', 'document', 'media_type', 'application/pdf',
                              'data', encode(convert_to(E'%PDF-1.4\n%%EOF', 'UTF8'), 'base64'))))),
       'anthropic/m')->>'content' AS pdf_answer;
SELECT try($$SELECT ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
           jsonb_build_object('type', 'document', 'media_type', 'application/pdf',
                              'data', encode(convert_to(E'%PDF-1.4\n%%EOF', 'UTF8'), 'base64'))))),
       'cohere/m')$$) AS cohere_pdf;
-- Anthropic's 5 MB limit counts the base64 text: an image over 3840 kB
-- decoded is not sent to it (0A000), cohere (20 MB) takes it
SELECT p AS provider, try(format($q$SELECT ai_chat(jsonb_build_array(jsonb_build_object('role', 'user',
    'content', jsonb_build_array(jsonb_build_object('type', 'image', 'media_type', 'image/png',
    'data', translate(encode(decode('89504e470d0a1a0a', 'hex') || convert_to(repeat('x', 3900 * 1024), 'UTF8'),
                             'base64'), E'\n', ''))))),
    %L)$q$, p || '/vision')) AS big_image
FROM unnest(array['anthropic', 'cohere']) p ORDER BY p;
-- the one-image ai_complete, from the same column
SELECT p AS provider, ai_complete('Describe it', img, p || '/vision') AS completion
FROM t_pics, unnest(array['anthropic', 'cohere']) p ORDER BY p;

-- 5. the SQL-function tool loop through each dialect: the model asks for
-- price_of('widget'), the gateway runs it as the caller, the result goes back
-- (anthropic: tool_result in a user turn; cohere: a tool message), the model answers
CREATE TEMP TABLE t_products (name text PRIMARY KEY, price numeric);
INSERT INTO t_products VALUES ('widget', 9.5), ('gadget', 24);
CREATE FUNCTION pg_temp.t_price_of(product text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM t_products WHERE name = product $$;
COMMENT ON FUNCTION pg_temp.t_price_of(text) IS 'The list price of a product in USD.';
SELECT p AS provider, r->>'content' AS content, r->'tool_rounds' AS tool_rounds,
       r->>'finish_reason' AS finish_reason
FROM unnest(array['anthropic', 'cohere']) p,
     LATERAL ai_chat_tools('[{"role": "user", "content": "What does a \"widget\" cost?"}]',
                           ARRAY['pg_temp.t_price_of(text)']::regprocedure[], p || '/m') r
ORDER BY p;

-- ... with a JSON answer: anthropic offers aig_structured_output beside the
-- function (tool_choice "any"): the model calls the function, then answers
-- through the forced tool
SELECT (r->>'content')::jsonb AS answer, r->'tool_rounds' AS tool_rounds, r->>'finish_reason' AS finish_reason
FROM ai_chat_tools('[{"role": "user", "content": "What does a \"widget\" cost?"}]',
                   ARRAY['pg_temp.t_price_of(text)']::regprocedure[], 'anthropic/m',
                   '{"response_format": {"type": "json_schema", "json_schema": {"name": "price", "schema":
                     {"type": "object", "properties": {"usd": {"type": "number"}}, "required": ["usd"]}}}}') r;

-- 6. structured extraction over a table, through anthropic's forced tool and
-- cohere's response_format
CREATE TEMP TABLE t_docs (id int, body text);
INSERT INTO t_docs VALUES (1, 'Invoice from "ACME" for 3 widgets'), (2, 'Receipt: "Globex", paid');
SELECT p AS provider, id, ai_extract(body, '{"type": "object", "properties": {"vendor": {"type": "string"},
           "paid": {"type": "boolean"}}, "required": ["vendor"]}', p || '/m') AS extracted
FROM t_docs, unnest(array['anthropic', 'cohere']) p ORDER BY p, id;
