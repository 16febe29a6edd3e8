-- tools_openai: tool calls, tool results, images and documents through the
-- OpenAI-family dialects (openai, azure_openai, openai_compatible) and
-- Ollama, against the mock provider:
--  * a round trip per dialect: a tool offered -> the model's call
--    (tool_calls, finish_reason "tool_calls") -> the call and its result
--    sent back -> an answer made from the result ("tool results: ...");
--  * the exact request each dialect builds (model "echo" answers with it):
--    tools, tool_choice, parallel_tool_calls, assistant tool calls, tool
--    results, image and PDF parts;
--  * the documented tool-call answers of test/samples ("recorded-tools");
--  * an answer whose arguments are not a JSON object is a bad answer: the
--    call fails over like on any malformed answer;
--  * an image from a bytea column, and what a provider cannot take.
\pset format aligned
CREATE TEMP TABLE tt (tools jsonb);
INSERT INTO tt VALUES ('[{"name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]');

-- 1. the model asks for a call (the mock fills a string argument with the quoted text)
CREATE TEMP TABLE calls AS
SELECT p, ai_chat('[{"role": "user", "content": "Weather in \"Oslo\"?"}]', p || '/m',
                  jsonb_build_object('tools', tools)) AS r
FROM tt, unnest(array['openai', 'azure', 'compat', 'ollama']) p;
SELECT p AS provider, r->>'finish_reason' AS finish_reason, r->>'content' AS content,
       jsonb_array_length(r->'tool_calls') AS ncalls, r->'tool_calls'->0->>'name' AS name,
       r->'tool_calls'->0->'arguments' AS arguments,
       r->'tool_calls'->0->>'id' ~ '^call_[0-9a-f]+$' AS has_id
FROM calls ORDER BY p;

-- 2. the call and its result go back: the answer is made from the result
SELECT p AS provider,
       ai_chat(jsonb_build_array(
                   '{"role": "user", "content": "Weather in \"Oslo\"?"}'::jsonb,
                   jsonb_build_object('role', 'assistant', 'content', NULL, 'tool_calls', r->'tool_calls'),
                   jsonb_build_object('role', 'tool', 'tool_call_id', r->'tool_calls'->0->>'id',
                                      'content', '12C and sunny')),
               p || '/m', jsonb_build_object('tools', tools))->>'content' AS answer
FROM calls, tt ORDER BY p;

-- 3. the exact requests: tools, a named tool_choice, parallel_tool_calls false,
-- the assistant's call (OpenAI: arguments as JSON text; Ollama: an object, no
-- id) and the tool result (OpenAI: tool_call_id; Ollama: tool_name)
SELECT p AS provider,
       jsonb_pretty((ai_chat('[{"role": "user", "content": "Weather in Oslo?"},
                               {"role": "assistant", "content": null, "tool_calls":
                                 [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
                               {"role": "tool", "tool_call_id": "call_1", "content": "12C"}]',
                             p || '/echo',
                             jsonb_build_object('tools', tools, 'tool_choice', 'get_weather',
                                                'parallel_tool_calls', false))->>'content')::jsonb
                    -> 'body') AS body
FROM tt, unnest(array['openai', 'azure', 'compat', 'ollama']) p;

-- tool_choice: "none" and "required" (Ollama has no tool_choice: "none" sends no tools)
SELECT p AS provider, c AS tool_choice,
       ((ai_chat('[{"role": "user", "content": "x"}]', p || '/echo',
                 jsonb_build_object('tools', tools, 'tool_choice', c))->>'content')::jsonb -> 'body')
         - '{messages,model,stream}'::text[] - 'tools' AS body_without_tools,
       ((ai_chat('[{"role": "user", "content": "x"}]', p || '/echo',
                 jsonb_build_object('tools', tools, 'tool_choice', c))->>'content')::jsonb -> 'body') ? 'tools' AS has_tools
FROM tt, unnest(array['openai', 'ollama']) p, unnest(array['none', 'required']) c
ORDER BY 1, 2;

-- 4. images and a PDF: OpenAI's image_url (data URL or URL) and file parts;
-- Ollama's "images" on the message (base64 only)
SELECT p AS provider,
       jsonb_pretty((ai_chat('[{"role": "user", "content": [
                                 {"type": "text", "text": "What is this?"},
                                 {"type": "image", "data": "iVBORw0KGgo=", "media_type": "image/png"}]}]',
                             p || '/echo')->>'content')::jsonb #> '{body,messages}') AS messages
FROM unnest(array['openai', 'ollama']) p;
SELECT jsonb_pretty((ai_chat('[{"role": "user", "content": [
                               {"type": "text", "text": "Summarize"},
                               {"type": "image", "url": "https://example.com/cat.png"},
                               {"type": "document", "data": "JVBERi0xLjQ=", "media_type": "application/pdf"}]}]',
                           'openai/echo')->>'content')::jsonb #> '{body,messages,0,content}') AS openai_parts;

-- what the mock received, decoded: sizes of the image and the PDF
SELECT p AS provider,
       ai_chat('[{"role": "user", "content": [{"type": "text", "text": "Look"},
                 {"type": "image", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                  "media_type": "image/png"}]}]', p || '/m')->>'content' AS answer
FROM unnest(array['openai', 'azure', 'compat', 'ollama']) p;
SELECT ai_chat('[{"role": "user", "content": [{"type": "text", "text": "Summarize"},
                 {"type": "document", "data": "JVBERi0xLjQ=", "media_type": "application/pdf"}]}]',
               'openai/m')->>'content' AS openai_pdf;

-- an image from a bytea column
CREATE TEMP TABLE photos (id int, img bytea);
INSERT INTO photos VALUES (1, decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
SELECT p AS provider,
       ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
                   jsonb_build_object('type', 'text', 'text', 'What is in photo ' || id || '?'),
                   ai_image(img, 'image/png')))), p || '/m')->>'content' AS answer
FROM photos, unnest(array['openai', 'azure', 'compat', 'ollama']) p ORDER BY p;
SELECT p AS provider, ai_complete('Describe it', img, p || '/m') AS answer
FROM photos, unnest(array['openai', 'ollama']) p ORDER BY p;
-- ... and what each dialect made of it
SELECT p AS provider,
       (ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
                    jsonb_build_object('type', 'text', 'text', 'Describe it'), ai_image(img)))),
                p || '/echo')->>'content')::jsonb #> '{body,messages,0}' AS message
FROM photos, unnest(array['openai', 'azure', 'compat', 'ollama']) p ORDER BY p;

-- what a provider cannot take: Ollama no image URL and no PDF, Azure no PDF
SELECT try1($$SELECT ai_chat('[{"role": "user", "content": [{"type": "text", "text": "x"},
                 {"type": "image", "url": "https://example.com/cat.png"}]}]', 'ollama/m')$$) AS ollama_url;
SELECT try1($$SELECT ai_chat('[{"role": "user", "content": [{"type": "text", "text": "x"},
                 {"type": "document", "data": "JVBERi0xLjQ=", "media_type": "application/pdf"}]}]', 'ollama/m')$$) AS ollama_pdf;
SELECT try1($$SELECT ai_chat('[{"role": "user", "content": [{"type": "text", "text": "x"},
                 {"type": "document", "data": "JVBERi0xLjQ=", "media_type": "application/pdf"}]}]', 'azure/m')$$) AS azure_pdf;

-- 5. the documented tool-call answers (OpenAI's OpenAPI example, Ollama's docs/api.md)
SELECT p AS provider, r - 'latency_ms' AS result
FROM unnest(array['openai', 'ollama']) p,
     LATERAL ai_chat('[{"role": "user", "content": "Weather in Boston?"}]', p || '/recorded-tools') r;

-- 6. arguments that are not a JSON object: a bad answer, failed over like any
SELECT p AS provider, try1(format($q$SELECT ai_chat('[{"role": "user", "content": "x"}]', %L, %L)$q$,
                                  p || '/m+badargs', jsonb_build_object('tools', tools))) AS error
FROM tt, unnest(array['openai', 'ollama']) p;
INSERT INTO ai_gateway.routes (name) VALUES ('to_badargs');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('to_badargs', 'openai', 'm+badargs', 1), ('to_badargs', 'compat', 'm', 2);
SELECT r->>'provider' AS provider, r->>'attempts' AS attempts, r->>'finish_reason' AS finish_reason,
       r->'tool_calls'->0->'arguments' AS arguments
FROM tt, LATERAL ai_chat('[{"role": "user", "content": "Weather in \"Rome\"?"}]', 'to_badargs',
                         jsonb_build_object('tools', tools)) r;
DELETE FROM ai_gateway.routes WHERE name = 'to_badargs';

-- 7. structured output with tools offered: response_format still maps
SELECT p AS provider,
       ((ai_chat('[{"role": "user", "content": "x"}]', p || '/echo',
                 jsonb_build_object('tools', tools, 'response_format',
                     '{"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "object"}}}'::jsonb))
         ->>'content')::jsonb -> 'body') - '{messages,model,tools,stream}'::text[] AS body
FROM tt, unnest(array['openai', 'azure', 'ollama']) p;

-- 8. the SQL-function tool loop through each dialect: a question answered from
-- a table (round 1: the model calls the function; round 2: it answers from
-- the rows), and a function the caller may not EXECUTE refused before any call
CREATE TABLE oai_prices (product text PRIMARY KEY, price numeric);
INSERT INTO oai_prices VALUES ('widget', 9.5), ('gadget', 24);
CREATE FUNCTION oai_price(product text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM oai_prices WHERE oai_prices.product = oai_price.product $$;
COMMENT ON FUNCTION oai_price(text) IS 'The list price of a product in USD.';
CREATE FUNCTION oai_cost(product text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price * 0.4 FROM oai_prices WHERE oai_prices.product = oai_cost.product $$;
REVOKE EXECUTE ON FUNCTION oai_cost(text) FROM PUBLIC;
SELECT p AS provider, r->>'content' AS answer, r->>'tool_rounds' AS rounds,
       r->>'finish_reason' AS finish_reason
FROM unnest(array['openai', 'azure', 'compat', 'ollama']) p,
     LATERAL ai_chat_tools('[{"role": "user", "content": "What does a \"widget\" cost?"}]',
                           ARRAY['oai_price(text)']::regprocedure[], p || '/m') r;
CREATE ROLE oai_user;
GRANT SELECT ON oai_prices TO oai_user;
SET ROLE oai_user;
SELECT try1($$SELECT ai_chat_tools('[{"role": "user", "content": "q"}]',
                                   ARRAY['oai_price(text)', 'oai_cost(text)']::regprocedure[], 'ollama/m')$$) AS refused;
RESET ROLE;
DROP FUNCTION oai_price(text), oai_cost(text);
DROP TABLE oai_prices;
DROP ROLE oai_user;

-- 9. structured extraction over a table by each API's native means
-- (response_format json_schema; Ollama: "format" with the schema)
CREATE TEMP TABLE oai_docs (id int, body text);
INSERT INTO oai_docs VALUES (1, 'Invoice from "ACME Corp", total 12.50'), (2, 'Receipt of "Bolt Ltd"');
SELECT p AS provider, id,
       ai_extract(body, '{"type": "object", "properties": {"vendor": {"type": "string"},
                          "total": {"type": "number"}}, "required": ["vendor", "total"]}', p || '/m') AS extracted
FROM oai_docs, unnest(array['openai', 'azure', 'compat', 'ollama']) p ORDER BY p, id;
