-- tools_gemini: the Gemini dialect's tools, structured output and images,
-- through ai_chat and the mock provider (its Gemini class checks requests
-- against the API document: unknown schema members, lower-case types, an
-- OBJECT without properties and bad base64 are refused like the real API).
--  * a tool round trip: offered tool -> tool_calls (ids call_<n>, finish
--    reason tool_calls), then the call and its result sent back;
--  * the exact request bodies ("echo"): functionDeclarations with the JSON
--    schema translated, toolConfig for each tool_choice, functionCall and
--    functionResponse parts, responseSchema, inlineData and fileData;
--  * the recorded real answer with parallel calls and a thought signature,
--    and the signature going back with its call.
\pset format aligned

CREATE TEMP TABLE weather_tool AS SELECT '[{"name": "get_weather",
   "description": "Current weather of a city",
   "parameters": {"$schema": "http://json-schema.org/draft-07/schema#",
                  "type": "object", "additionalProperties": false,
                  "properties": {"city": {"type": "string", "minLength": 1},
                                 "days": {"type": ["integer", "null"], "minimum": 1},
                                 "unit": {"enum": ["C", "F"]}},
                  "required": ["city"]}}]'::jsonb AS tools;

-- 1. the model asks for a call
SELECT r->>'finish_reason' AS finish_reason, r->>'content' AS content,
       jsonb_pretty(r->'tool_calls') AS tool_calls
FROM weather_tool,
     LATERAL ai_chat('[{"role":"user","content":"weather in \"Oslo\" please"}]',
                     'gemini/gemini-2.0-flash', jsonb_build_object('tools', tools)) r;

-- 2. the call and its result go back: the model sees the result
SELECT r->>'finish_reason' AS finish_reason, r->>'content' AS content
FROM weather_tool,
     LATERAL ai_chat('[{"role":"user","content":"weather in \"Oslo\" please"},
                       {"role":"assistant","content":null,"tool_calls":[
                          {"id":"call_1","name":"get_weather","arguments":{"city":"Oslo"}}]},
                       {"role":"tool","tool_call_id":"call_1","content":"{\"temp\": 21, \"sky\": \"clear\"}"}]',
                     'gemini/gemini-2.0-flash', jsonb_build_object('tools', tools)) r;

-- ... plain text results, two calls answered at once (one user turn)
SELECT ai_chat('[{"role":"user","content":"weather in Oslo and Bergen"},
                 {"role":"assistant","content":"Checking both.","tool_calls":[
                    {"id":"call_1","name":"get_weather","arguments":{"city":"Oslo"}},
                    {"id":"call_2","name":"get_weather","arguments":{"city":"Bergen"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"sunny"},
                 {"role":"tool","tool_call_id":"call_2","content":"rain"}]',
               'gemini/g', jsonb_build_object('tools', tools))->>'content' AS content
FROM weather_tool;

-- 3. the request: tools, toolConfig, the call and the results as Gemini parts
SELECT jsonb_pretty((r->>'content')::jsonb -> 'body') AS request
FROM weather_tool,
     LATERAL ai_chat('[{"role":"system","content":"be brief"},
                       {"role":"user","content":"weather in Oslo and Bergen"},
                       {"role":"assistant","content":"Checking both.","tool_calls":[
                          {"id":"call_1","name":"get_weather","arguments":{"city":"Oslo"}},
                          {"id":"call_2","name":"get_weather","arguments":{"city":"Bergen"}}]},
                       {"role":"tool","tool_call_id":"call_1","content":"{\"temp\": 21}"},
                       {"role":"tool","tool_call_id":"call_2","content":"rain"}]',
                     'gemini/echo', jsonb_build_object('tools', tools)) r;

-- a result is sent as the JSON value it is, else as text (NaN is no JSON)
SELECT c AS tool_content,
       (ai_chat(jsonb_build_array(
            '{"role":"user","content":"q"}'::jsonb,
            '{"role":"assistant","content":null,"tool_calls":[{"id":"c1","name":"get_weather","arguments":{}}]}'::jsonb,
            jsonb_build_object('role', 'tool', 'tool_call_id', 'c1', 'content', c)),
        'gemini/echo')->>'content')::jsonb #> '{body,contents,2,parts,0,functionResponse,response}' AS response
FROM unnest(array['[1, 2.50, "x"]', '42', '"quoted"', 'NaN', '{"a": [true, null]}', 'plain words']) c;

-- tool_choice -> functionCallingConfig; a function without parameters has none
SELECT c AS tool_choice,
       (ai_chat('[{"role":"user","content":"x"}]', 'gemini/echo',
                jsonb_build_object('tools', tools || '[{"name": "noop", "parameters": {"type": "object", "properties": {}}}]'::jsonb,
                                   'tool_choice', c))->>'content')::jsonb
         #> '{body,toolConfig}' AS tool_config
FROM weather_tool, unnest(array['"auto"', '"none"', '"required"', '"noop"', '{"name": "get_weather"}']::jsonb[]) c;

SELECT (ai_chat('[{"role":"user","content":"x"}]', 'gemini/echo',
                '{"tools": [{"name": "noop", "parameters": {"type": "object", "properties": {}}}]}')->>'content')::jsonb
         #> '{body,tools}' AS parameterless;

-- forced: the named tool is called
SELECT r->'tool_calls'->0->>'name' AS called, r->'tool_calls'->0->'arguments' AS arguments
FROM weather_tool,
     LATERAL ai_chat('[{"role":"user","content":"anything"}]', 'gemini/g',
                     jsonb_build_object('tools', tools || '[{"name": "ping", "parameters": {"type": "object", "properties": {"host": {"type": "string"}}}}]'::jsonb,
                                        'tool_choice', 'ping')) r;

-- 4. the recorded real answer: three parallel calls without ids, the first with a
-- thought signature (kept in its id)
SELECT r->>'finish_reason' AS finish_reason, r->>'content' AS content,
       jsonb_array_length(r->'tool_calls') AS calls,
       (SELECT string_agg(split_part(c->>'id', '.sig.', 1) || ' ' || (c->>'name') || ' ' || (c->'arguments')::text
                          || CASE WHEN c->>'id' LIKE '%.sig.%' THEN ' (signed)' ELSE '' END, '; ')
        FROM jsonb_array_elements(r->'tool_calls') c) AS tool_calls
FROM ai_chat('[{"role":"user","content":"tell jokes"}]', 'gemini/recorded-tools',
             '{"tools": [{"name": "generate_topic", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}]}') r;

-- ... the signature goes back with its call (and only there)
SELECT jsonb_pretty((ai_chat('[{"role":"user","content":"tell jokes"},
                               {"role":"assistant","content":null,"tool_calls":[
                                  {"id":"call_1.sig.c2lnbmF0dXJl","name":"generate_topic","arguments":{}},
                                  {"id":"call_2","name":"generate_topic","arguments":{}}]},
                               {"role":"tool","tool_call_id":"call_1.sig.c2lnbmF0dXJl","content":"cars"},
                               {"role":"tool","tool_call_id":"call_2","content":"penguins"}]',
                             'gemini/echo')->>'content')::jsonb #> '{body,contents,1}') AS model_turn;

-- 5. structured output: json_schema -> responseSchema (translated), json_object -> mime type only
-- (the schema sits under a member "person" the echo lacks, so that the echo answer passes
-- the gateway's check of the answer against the schema).  Gemini refuses an OBJECT without
-- properties: a free-form object member is left out (and out of "required"), free-form
-- array items become text, and a free-form answer schema is not sent at all.
SELECT jsonb_pretty((ai_chat('[{"role":"user","content":"x"}]', 'gemini/echo',
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true,
      "schema": {"type": "object", "properties": {"person": {
                 "type": "object", "additionalProperties": false,
                 "properties": {"name": {"type": "string", "description": "full name"},
                                "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                                "kind": {"const": "person"},
                                "score": {"type": "number", "format": "double", "minimum": 0},
                                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                                "home": {"$ref": "#/$defs/place"},
                                "meta": {"type": "object"},
                                "rows": {"type": "array", "items": {"type": "object", "additionalProperties": true}}},
                 "required": ["name", "age", "meta"]}},
                 "$defs": {"place": {"type": "object", "title": "Place",
                                     "properties": {"city": {"type": "string", "pattern": "^[A-Z]"}}}}}}}}')->>'content')::jsonb
    #> '{body,generationConfig}') AS generation_config;

SELECT f AS response_format, (ai_chat('[{"role":"user","content":"x"}]', 'gemini/echo',
                jsonb_build_object('response_format', f))->>'content')::jsonb
         #> '{body,generationConfig}' AS generation_config
FROM unnest(array['{"type": "json_object"}',
                  '{"type": "json_schema", "json_schema": {"name": "any", "schema": {"type": "object"}}}']::jsonb[]) f;

-- the answer to a schema, as the mock gives it
SELECT ai_chat('[{"role":"user","content":"about \"Ada\""}]', 'gemini/g',
    '{"response_format": {"type": "json_schema", "json_schema": {"name": "p",
      "schema": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
                 "required": ["name"]}}}}')->>'content' AS structured;

-- 6. images and documents: bytes -> inlineData, URLs -> fileData
SELECT jsonb_pretty((ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
            jsonb_build_object('type', 'text', 'text', 'what is in these?'),
            jsonb_build_object('type', 'image', 'media_type', 'image/png',
                               'data', encode('\x89504e470d0a1a0a0000000d49484452'::bytea, 'base64')),
            '{"type": "image", "url": "https://example.com/cat.jpg"}'::jsonb,
            jsonb_build_object('type', 'document', 'data', encode('%PDF-1.4 test'::bytea, 'base64'),
                               'media_type', 'application/pdf')))),
        'gemini/echo')->>'content')::jsonb #> '{body,contents,0,parts}') AS parts;

SELECT ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
            jsonb_build_object('type', 'text', 'text', 'describe'),
            jsonb_build_object('type', 'image', 'media_type', 'image/png',
                               'data', encode('\x89504e470d0a1a0a0000000d49484452'::bytea, 'base64')),
            '{"type": "image", "url": "https://example.com/cat.jpg"}'::jsonb))),
        'gemini/g')->>'content' AS seen;

-- ai_image's part goes as inlineData too
SELECT (ai_chat(jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_array(
            ai_image('\x89504e470d0a1a0a0000000d49484452'::bytea)))),
        'gemini/echo')->>'content')::jsonb #> '{body,contents,0,parts}' AS ai_image_part;

-- 7. the SQL-function tool loop and ai_extract, through Gemini
CREATE FUNCTION weather_of(city text) RETURNS text LANGUAGE sql AS $$ SELECT 'sunny in ' || city $$;
COMMENT ON FUNCTION weather_of(text) IS 'Current weather of a city';
SELECT r->>'content' AS content, r->>'finish_reason' AS finish_reason, r->'tool_rounds' AS rounds,
       jsonb_pretty(r->'tool_steps') AS steps
FROM ai_chat_tools('[{"role":"user","content":"weather in \"Oslo\" please"}]',
                   ARRAY['weather_of(text)']::regprocedure[], 'gemini/g') r;

SELECT ai_extract('The user "Ada" is 36',
                  '{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                    "email": {"type": "string"}}, "required": ["name"]}',
                  'gemini/g') AS extracted;

DROP FUNCTION weather_of(text);
DROP TABLE weather_tool;
