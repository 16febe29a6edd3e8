-- usability: configuration mistakes a newcomer makes get a clear error
-- instead of a silent surprise (issue 14, Getting started).

-- a route's first version is recorded before it has targets; a rollback to
-- a version that cannot serve is refused instead of deleting every target
INSERT INTO ai_gateway.routes (name) VALUES ('u_route');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('u_route', 'ollama', 'u1');
SELECT version, jsonb_array_length(targets) AS targets FROM ai_gateway.route_versions
WHERE route = 'u_route' ORDER BY version;
SELECT try($$SELECT ai_gateway.rollback_route('u_route', 1)$$) AS rollback_to_empty;
SELECT count(*) AS targets_kept FROM ai_gateway.route_targets WHERE route = 'u_route';
-- a version whose only target is a shadow cannot answer either
INSERT INTO ai_gateway.routes (name) VALUES ('u_shadow_only');
INSERT INTO ai_gateway.route_targets (route, provider, model, shadow) VALUES ('u_shadow_only', 'ollama', 's', true);
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('u_shadow_only', 'ollama', 'a');
SELECT version, targets FROM ai_gateway.route_versions WHERE route = 'u_shadow_only' ORDER BY version;
SELECT try($$SELECT ai_gateway.rollback_route('u_shadow_only', 2)$$) AS rollback_to_shadow_only;
SELECT ai_gateway.rollback_route('u_shadow_only', 3) AS rollback_to_serving;
DELETE FROM ai_gateway.routes WHERE name IN ('u_route', 'u_shadow_only');

-- a provider/model string with a part missing says so (not "route does not exist")
SELECT m, try(format('SELECT ai_complete(%L, %L)', 'x', m)) FROM unnest(array['openai/', '/gpt-4o', '/']) m;
