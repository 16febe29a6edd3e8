-- tools_e2e: what issue 15 asks of every dialect, through the mock: the
-- SQL-function tool loop answering from a table, a structured extraction
-- over a table, an image from a bytea column.  (Each dialect's own tool-call
-- round trip and request shapes: tools_openai, tools_anthropic,
-- tools_gemini, bedrock, tokens.)

CREATE TEMP TABLE dialect (provider text PRIMARY KEY);
INSERT INTO dialect VALUES ('openai'), ('azure'), ('compat'), ('anthropic'), ('cohere'),
                           ('ollama'), ('gemini');
-- Bedrock's provider (SigV4 against the mock) comes from bedrock.sql; two presets
-- (Mistral under the mock's prefix that applies its API's rules, and OpenRouter)
INSERT INTO dialect SELECT name FROM ai_gateway.providers WHERE name = 'bedrock' AND kind = 'bedrock';
\getenv mock_port MOCK_PORT
\set mock 'http://127.0.0.1:' :mock_port
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('e2e_mistral', 'mistral', :'mock' || '/mistral/v1', 'sk-mock-mistral-0123'),
    ('e2e_openrouter', 'openrouter', :'mock' || '/v1', 'sk-mock-openrouter-0123');
INSERT INTO dialect VALUES ('e2e_mistral'), ('e2e_openrouter');
SELECT count(*) AS dialects FROM dialect;

CREATE TABLE catalog_items (name text PRIMARY KEY, price numeric, stock int);
INSERT INTO catalog_items VALUES ('widget', 9.5, 12), ('gadget', 24, 0);
CREATE FUNCTION item_price(item text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM catalog_items WHERE name = item $$;
COMMENT ON FUNCTION item_price(text) IS 'List price in USD of a catalog item.
@param item the item''s name';
CREATE FUNCTION item_cost_price(item text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price * 0.6 FROM catalog_items WHERE name = item $$;
REVOKE EXECUTE ON FUNCTION item_cost_price(text) FROM PUBLIC;
CREATE ROLE e2e_caller;
GRANT SELECT ON catalog_items TO e2e_caller;
GRANT SELECT ON dialect TO e2e_caller;

SELECT ai_gateway.audit_flush() AS flushed;
SELECT coalesce(max(id), 0) AS audit_before FROM ai_gateway.audit_log \gset

-- 1. the tool loop: the model calls item_price("widget"), the function reads
-- the table as the caller, the result goes back, the model answers with it
SELECT provider, ai_complete_tools('What does a "widget" cost?',
                                   ARRAY['item_price(text)']::regprocedure[], provider || '/m') AS answer
FROM dialect ORDER BY provider;
SELECT provider, r -> 'tool_rounds' AS rounds, (r -> 'tool_steps' -> 0) - 'round' AS step,
       r ->> 'finish_reason' AS finish
FROM dialect, LATERAL ai_chat_tools('[{"role":"user","content":"Price of \"gadget\"?"}]',
                                    ARRAY['item_price(text)']::regprocedure[], provider || '/m') r
ORDER BY provider;
-- every round is an audited call (two per question: the tool call, then the answer)
SELECT ai_gateway.audit_flush();
SELECT d.provider, count(*) AS audited_rounds, min(a.metadata ->> 'tool_round') AS first_round,
       max(a.metadata ->> 'tool_round') AS last_round,
       count(*) FILTER (WHERE a.metadata -> 'tools_called' ? 'item_price') AS after_a_tool_call
FROM ai_gateway.audit_log a JOIN dialect d ON a.provider = d.provider
WHERE a.id > :audit_before AND a.metadata ? 'tool_round' AND a.status = 'ok'
GROUP BY d.provider ORDER BY d.provider;
-- a function the caller may not EXECUTE is refused before any call
SET ROLE e2e_caller;
SELECT provider, try1(format($$SELECT ai_complete_tools('q', ARRAY['item_price(text)', 'item_cost_price(text)']::regprocedure[], %L)$$,
                             provider || '/m')) AS refused
FROM dialect ORDER BY provider;
RESET ROLE;

-- 2. structured extraction over a table: a JSON value of the schema per row
CREATE TABLE tickets (id int PRIMARY KEY, body text);
INSERT INTO tickets VALUES (1, 'Customer "Ada" reports the export is broken'),
                           (2, 'Customer "Linus" asks for a refund');
SELECT provider, id, ai_extract(body,
    '{"type": "object", "properties": {"customer": {"type": "string"},
      "urgent": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}}},
      "required": ["customer"]}', provider || '/m') AS extracted
FROM dialect, tickets ORDER BY provider, id;
-- an answer that misses the schema is retried, then fails with UP005
SELECT provider, try1(format($$SELECT ai_extract('x', '{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}', %L)$$,
                             provider || '/m+badjson')) AS miss
FROM dialect ORDER BY provider;
-- ... and a route falls over to its next target on a miss
INSERT INTO ai_gateway.routes (name) VALUES ('extract_fallback');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('extract_fallback', 'openai', 'm+notjson', 1), ('extract_fallback', 'anthropic', 'm', 2);
SELECT ai_extract('Customer "Grace"', '{"type":"object","properties":{"customer":{"type":"string"}},"required":["customer"]}',
                  'extract_fallback') AS fell_over;

-- 3. an image from a bytea column, every dialect with image input
CREATE TABLE photos (id int PRIMARY KEY, img bytea);
INSERT INTO photos VALUES (1, decode('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
                                     '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex'));
SELECT provider, ai_complete('What is in the picture?', img, provider || '/m') AS described
FROM dialect, photos ORDER BY provider;

DELETE FROM ai_gateway.providers WHERE name IN ('e2e_mistral', 'e2e_openrouter');
