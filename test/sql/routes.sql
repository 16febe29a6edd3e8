-- routes: resolution of the model argument, priority order and failover,
-- the default route, cache invalidation, prices.

INSERT INTO ai_gateway.routes (name, options) VALUES
    ('chat', '{}'),
    ('summarize', '{"system_prompt": "Summarize in one line."}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('chat', 'openai', 'gpt-4o-mini', 1),
    ('chat', 'anthropic', 'claude-haiku', 2),
    ('summarize', 'gemini', 'gemini-flash', 1);

-- a route name, then provider/model
SELECT ai_complete('hi', 'chat') AS via_route,
       ai_complete('hi', 'anthropic/claude-haiku') AS direct;

-- the route's system prompt, unless the call gives one
SELECT (ai_complete('hi', 'summarize') IS NOT NULL) AS ok;
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES ('summarize', 'gemini', 'echo', 0);
SELECT (ai_complete('hi', 'summarize')::jsonb) #> '{body,systemInstruction}' AS route_prompt,
       (ai_complete('hi', 'summarize', 'mine')::jsonb) #> '{body,systemInstruction}' AS call_prompt;
SELECT (ai_chat('[{"role":"user","content":"hi"}]', 'summarize')->>'content')::jsonb #> '{body,systemInstruction}' AS chat_route_prompt;
DELETE FROM ai_gateway.route_targets WHERE route = 'summarize' AND model = 'echo';

-- ai_chat names the route and the target that answered
SELECT r->>'route' AS route, r->>'provider' AS provider, r->>'attempts' AS attempts
FROM ai_chat('[{"role":"user","content":"hi"}]', 'chat') r;

-- failover: the first target fails, the next answers; attempts counts both
UPDATE ai_gateway.route_targets SET model = 'gpt-4o-mini+status=503' WHERE route = 'chat' AND provider = 'openai';
SELECT r->>'content' AS content, r->>'provider' AS provider, r->>'attempts' AS attempts
FROM ai_chat('[{"role":"user","content":"hi"}]', 'chat') r;

-- every target fails: the last error is raised, the detail lists each attempt
UPDATE ai_gateway.route_targets SET model = 'claude-haiku+status=500' WHERE route = 'chat' AND provider = 'anthropic';
SELECT try($$SELECT ai_complete('hi', 'chat')$$);

-- a disabled provider is skipped
UPDATE ai_gateway.route_targets SET model = 'gpt-4o-mini' WHERE route = 'chat' AND provider = 'openai';
UPDATE ai_gateway.providers SET enabled = false WHERE name = 'openai';
SELECT try($$SELECT ai_complete('hi', 'chat')$$);
UPDATE ai_gateway.route_targets SET model = 'claude-haiku' WHERE route = 'chat' AND provider = 'anthropic';
SELECT ai_complete('hi', 'chat') AS skipped_disabled;
UPDATE ai_gateway.providers SET enabled = true WHERE name = 'openai';

-- an UPDATE applies to the next call without reconnecting
SELECT ai_complete('hi', 'chat') AS before;
UPDATE ai_gateway.route_targets SET priority = 0 WHERE route = 'chat' AND provider = 'anthropic';
SELECT ai_complete('hi', 'chat') AS after_update;
-- and a rolled-back change is forgotten
BEGIN;
DELETE FROM ai_gateway.route_targets WHERE route = 'chat' AND provider = 'anthropic';
SELECT ai_complete('hi', 'chat') AS inside_tx;
ROLLBACK;
SELECT ai_complete('hi', 'chat') AS after_rollback;

-- the default route
SELECT try($$SELECT ai_complete('hi')$$);
SET ai_gateway.default_route = 'chat';
SELECT ai_complete('hi') AS default_route, ai_complete('hi', NULL) AS null_model;
SET ai_gateway.default_route = 'ollama/llama3';
SELECT ai_complete('hi') AS default_direct;
RESET ai_gateway.default_route;

-- names that resolve to nothing
SELECT try($$SELECT ai_complete('hi', 'nope')$$);
SELECT try($$SELECT ai_complete('hi', 'nope/model')$$);
SELECT try($$SELECT ai_complete('hi', '/model')$$);
SELECT try($$SELECT ai_complete('hi', 'openai/')$$);
INSERT INTO ai_gateway.routes (name) VALUES ('empty');
SELECT try($$SELECT ai_complete('hi', 'empty')$$);
INSERT INTO ai_gateway.route_targets (route, provider, model, shadow) VALUES ('empty', 'openai', 'm', true);
SELECT try($$SELECT ai_complete('hi', 'empty')$$);

-- catalog constraints
SELECT try($$INSERT INTO ai_gateway.routes (name, strategy) VALUES ('r2', 'random')$$);
SELECT try($$INSERT INTO ai_gateway.routes (name) VALUES ('has/slash')$$);
SELECT try1($$INSERT INTO ai_gateway.providers (name, kind) VALUES ('p2', 'bard')$$);
SELECT try1($$INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p3', 'openai', 'file:///etc/passwd')$$);
SELECT try1($$INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p4', 'openai', 'gopher://x')$$);
SELECT try($$INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('chat', 'nope', 'm')$$);

-- cost from ai_gateway.models prices; the provider-wide '*' row is the default
SELECT ai_chat('[{"role":"user","content":"one two three"}]', 'openai/gpt-4o-mini') -> 'cost_usd' AS no_price;
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok) VALUES
    ('openai', 'gpt-4o-mini', 0.15, 0.60),
    ('openai', '*', 1, 2);
SELECT r #> '{usage}' AS usage, r -> 'cost_usd' AS cost
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'openai/gpt-4o-mini') r;
SELECT r #> '{usage}' AS usage, r -> 'cost_usd' AS cost
FROM ai_chat('[{"role":"user","content":"one two three"}]', 'openai/other') r;
