-- multimodal: the shapes of tool calls, tool results, images and documents in
-- a chat, checked before any provider is asked; ai_image; ai_extract and the
-- SQL-function tools (ai_gateway.tool_schema, call_tool, ai_chat_tools).

-- a 1x1 PNG, a tiny JPEG and PDF header, bytes that are no image
CREATE TEMP TABLE media (name text, data bytea);
INSERT INTO media VALUES
    ('png',  decode('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
                    '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex')),
    ('jpeg', decode('ffd8ffe000104a46494600010100000100010000ffd9', 'hex')),
    ('pdf',  convert_to('%PDF-1.4' || chr(10) || '%%EOF', 'UTF8')),
    ('text', convert_to('hello', 'UTF8'));

-- ai_image: the part, its type read from the bytes
SELECT name, ai_image(data) - 'data' AS part, length(ai_image(data) ->> 'data') AS b64_len
FROM media WHERE name <> 'text' ORDER BY name;
SELECT ai_image(NULL) IS NULL AS null_image;
SELECT try($$SELECT ai_image(data) FROM media WHERE name = 'text'$$);
SELECT try($$SELECT ai_image(data, 'image/jpeg') FROM media WHERE name = 'png'$$);
SET ai_gateway.max_image_kb = 1;
SELECT try($$SELECT ai_image(decode(repeat('ff', 2000), 'hex'))$$);
RESET ai_gateway.max_image_kb;

-- message shapes refused before any call (22023 with a hint)
SELECT try(m) FROM (VALUES
    ($$SELECT ai_chat('[{"role":"tool","content":"r"}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"tool","tool_call_id":"c9","content":"r"}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q","tool_calls":[]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"assistant","content":null,"tool_calls":[{"name":"f"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","name":"f","arguments":"[1]"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","name":"f","arguments":"{oops"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"assistant","content":null}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","data":"!!!","media_type":"image/png"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","url":"ftp://x/y.png"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","url":"https://x/a b.png"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","data":"aGVsbG8=","media_type":"image/tiff"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image","data":"aGVsbG8="}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"input_audio"}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]', 'openai/m')$$),
    ($$SELECT ai_chat('[{"role":"assistant","content":[{"type":"image","url":"https://x/y.png"}]}]', 'openai/m')$$)
) v(m);

-- options.tools / tool_choice refused before any call
SELECT try(m) FROM (VALUES
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": {}}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"description":"x"}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"a b"}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"aig_structured_output"}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"f"},{"name":"f"}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"f","parameters":{"type":"string"}}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"type":"web_search"}]}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"f"}], "tool_choice": "g"}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tool_choice": "required"}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"f"}], "tool_choice": 3}')$$),
    ($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m', '{"tools": [{"name":"f"}], "parallel_tool_calls": "no"}')$$)
) v(m);
SELECT try($$SELECT ai_chat('[{"role":"user","content":"q"}]', 'openai/m',
    jsonb_build_object('tools', (SELECT jsonb_agg(jsonb_build_object('name', 't' || g)) FROM generate_series(1, 129) g)))$$);

-- ai_extract's own checks
SELECT ai_extract(NULL, '{"type":"object"}', 'openai/m') IS NULL AS null_input;
SELECT try($$SELECT ai_extract('x', '[1]', 'openai/m')$$);
SELECT try($$SELECT ai_extract('x', '{"type":"object"}', 'openai/m', '{"response_format": {"type": "json_object"}}')$$);

-- SQL functions as tools: the schema from the signature and the comment
CREATE TABLE products (name text PRIMARY KEY, price numeric, stock int);
INSERT INTO products VALUES ('widget', 9.5, 12), ('gadget', 24, 0), ('doohickey', 3.25, 7);
CREATE TYPE shade AS ENUM ('red', 'green');
CREATE FUNCTION price_of(product text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM products WHERE name = product $$;
COMMENT ON FUNCTION price_of(text) IS 'The list price of a product in USD.
@param product the product''s name, e.g. widget';
CREATE FUNCTION in_stock(min_stock int DEFAULT 1, colours shade[] DEFAULT NULL, since date DEFAULT NULL)
    RETURNS SETOF products LANGUAGE sql STABLE
    AS $$ SELECT * FROM products WHERE stock >= min_stock ORDER BY name $$;
CREATE FUNCTION secret_margin(product text) RETURNS numeric LANGUAGE sql
    AS $$ SELECT price * 0.4 FROM products WHERE name = product $$;
REVOKE EXECUTE ON FUNCTION secret_margin(text) FROM PUBLIC;
CREATE FUNCTION unnamed(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 $$;
CREATE FUNCTION by_row(p products) RETURNS text LANGUAGE sql AS $$ SELECT p.name $$;
SELECT jsonb_pretty(ai_gateway.tool_schema('price_of(text)'));
SELECT ai_gateway.tool_schema('in_stock(int, shade[], date)') -> 'parameters' AS parameters;
SELECT try($$SELECT ai_gateway.tool_schema('unnamed(int)')$$);
SELECT try($$SELECT ai_gateway.tool_schema('by_row(products)')$$);
SELECT try($$SELECT ai_gateway.tool_schema('sum(int4)'::regprocedure)$$);

-- call_tool: the model's arguments by name, rows bounded, as the caller
SELECT ai_gateway.call_tool('price_of(text)', '{"product": "widget"}', 50, 'public') AS price;
SELECT ai_gateway.call_tool('in_stock(int, shade[], date)', '{"min_stock": 5, "colours": ["red"]}', 50,
                            current_setting('search_path')) AS rows;
SELECT ai_gateway.call_tool('in_stock(int, shade[], date)', '{"min_stock": 0}', 2, current_setting('search_path')) AS truncated;
-- without the caller's search_path the function runs with the pinned one
SELECT try1($$SELECT ai_gateway.call_tool('in_stock(int, shade[], date)', '{}')$$);
SELECT try($$SELECT ai_gateway.call_tool('price_of(text)', '{}')$$);
SELECT try($$SELECT ai_gateway.call_tool('price_of(text)', '[]')$$);
SELECT try1($$SELECT ai_gateway.call_tool('in_stock(int, shade[], date)', '{"min_stock": "many"}')$$);
-- an argument cannot reach outside its value (it is a parameter, not SQL text)
SELECT ai_gateway.call_tool('price_of(text)', $${"product": "x' OR '1'='1"}$$, 50, 'public') AS injected;

CREATE ROLE mm_user;
GRANT SELECT ON products TO mm_user;
SET ROLE mm_user;
SELECT try($$SELECT ai_gateway.call_tool('secret_margin(text)', '{"product": "widget"}')$$);
-- ai_chat_tools refuses a function the caller may not EXECUTE, before any call
SELECT try($$SELECT ai_chat_tools('[{"role":"user","content":"q"}]',
                                  ARRAY['price_of(text)', 'secret_margin(text)']::regprocedure[], 'openai/m')$$);
RESET ROLE;
SELECT try($$SELECT ai_chat_tools('[{"role":"user","content":"q"}]', '{}', 'openai/m')$$);
SELECT try($$SELECT ai_chat_tools('[{"role":"user","content":"q"}]', ARRAY['price_of(text)']::regprocedure[],
                                  'openai/m', '{"tools": []}')$$);
SELECT try($$SELECT ai_chat_tools('[{"role":"user","content":"q"}]', ARRAY['price_of(text)']::regprocedure[],
                                  'openai/m', '{"max_tool_rounds": 0}')$$);

-- ai_extract sends the schema in strict form (closed objects, optional members nullable)
SELECT ai_gateway.strict_schema('{"type":"object","properties":{"name":{"type":"string"},
    "age":{"type":"integer"},"tags":{"type":"array","items":{"type":"object","properties":{"t":{"type":"string"}}}}},
    "required":["name"]}') AS strict;
-- the one-image form does not shadow ai_complete(prompt, model): an untyped
-- second argument is still a model
SELECT ai_complete('plain', NULL) IS NOT NULL AS default_route_or_error_not_ambiguous
WHERE false;
SELECT ai_complete('plain', 'ollama/m') AS plain;
SELECT ai_complete('look', NULL::bytea, 'ollama/m') AS no_image;
