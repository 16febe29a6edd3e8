-- secrets: API keys are sealed at rest, masked when read, readable by no
-- SQL role, scrubbed from errors; options.api_key_env names a server
-- environment variable instead.

-- what an administrator sees
SELECT name, api_key, length(api_key_encrypted) > 40 AS sealed_long
FROM ai_gateway.providers WHERE name = 'openai';
-- the sealed value never contains the key
SELECT count(*) AS leaks FROM ai_gateway.providers
WHERE api_key_encrypted LIKE '%0123456789%' OR api_key LIKE '%0123456789%';

-- the same key sealed twice differs (random nonce)
UPDATE ai_gateway.providers SET api_key = 'sk-test-openai-0123456789' WHERE name = 'openai';
SELECT (SELECT api_key_encrypted FROM ai_gateway.providers WHERE name = 'openai') <>
       (SELECT api_key_encrypted FROM ai_gateway.providers WHERE name = 'azure') AS differs;

-- the decrypted key reaches the provider
SELECT (ai_complete('x', 'openai/echo')::jsonb) #>> '{headers,authorization}' AS sent;

-- updating other columns keeps the key
UPDATE ai_gateway.providers SET enabled = true WHERE name = 'openai';
SELECT (ai_complete('x', 'openai/echo')::jsonb) #>> '{headers,authorization}' AS still_sent;

-- a restore writes back mask + sealed value: it keeps working
CREATE TEMP TABLE saved AS SELECT * FROM ai_gateway.providers WHERE name = 'openai';
DELETE FROM ai_gateway.providers WHERE name = 'openai';
INSERT INTO ai_gateway.providers SELECT * FROM saved;
SELECT (ai_complete('x', 'openai/echo')::jsonb) #>> '{headers,authorization}' AS after_restore;

-- a sealed value from elsewhere (another cluster's key) fails clearly
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted)
SELECT 'tampered', kind, base_url, api_key,
       'aigk2:' || encode(decode('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'base64'), 'base64')
FROM ai_gateway.providers WHERE name = 'azure';
SELECT try($$SELECT ai_complete('x', 'tampered/m')$$);
DELETE FROM ai_gateway.providers WHERE name = 'tampered';

-- an empty key is refused; NULL removes the key
SELECT try($$UPDATE ai_gateway.providers SET api_key = '' WHERE name = 'compat'$$);

-- api_key_env: a server environment variable (PATH is always set; HOME too)
INSERT INTO ai_gateway.providers (name, kind, base_url, options)
SELECT 'envkey', 'openai', base_url, '{"api_key_env": "AIG_SURELY_UNSET_VAR"}'
FROM ai_gateway.providers WHERE name = 'openai';
SELECT try($$SELECT ai_complete('x', 'envkey/m')$$);
UPDATE ai_gateway.providers SET options = '{"api_key_env": "PATH"}' WHERE name = 'envkey';
SELECT ai_complete('x', 'envkey/m') AS with_env_key;

-- keys never appear in error messages, even when the provider echoes them
SELECT try($$SELECT ai_complete('x', 'openai/m+status=401+echo_key')$$) AS error;
-- ... nor a piece of them: the provider's text is scrubbed before it is cut
-- (the message is cut at 2000 characters; the key is echoed across the cut)
SELECT strpos(e, 'sk-test') AS key_piece_at, strpos(e, '****') > 0 AS masked, length(e) < 2200 AS cut
FROM try($$SELECT ai_complete('x', 'openai/m+status=401+echo_key+pad=1962')$$) e;
SELECT strpos(e, 'sk-ant-test') AS key_piece_at
FROM try($$SELECT ai_complete('x', 'anthropic/m+status=401+echo_key+pad=1962')$$) e;

-- ordinary roles: may call, may read names, never key material, no writes
CREATE ROLE aig_app LOGIN;
SELECT ai_gateway.grant_provider('openai', 'aig_app');
SET ROLE aig_app;
SELECT ai_complete('x', 'openai/m') AS app_call;
SELECT name, kind FROM ai_gateway.providers ORDER BY name LIMIT 2;
SELECT try($$SELECT api_key FROM ai_gateway.providers$$);
SELECT try($$SELECT api_key_encrypted FROM ai_gateway.providers$$);
SELECT try($$SELECT options FROM ai_gateway.providers$$);
SELECT try($$UPDATE ai_gateway.providers SET base_url = 'http://evil.example' WHERE name = 'openai'$$);
SELECT try($$INSERT INTO ai_gateway.routes (name) VALUES ('mine')$$);
SELECT try($$SELECT * FROM ai_gateway.config_history$$);
-- refused (42501); the message's wording changed in PostgreSQL 16
SELECT split_part(try($$SHOW ai_gateway.master_key_file$$), ':', 1) AS show_master_key_file;
RESET ROLE;
SELECT ai_gateway.revoke_provider('openai', 'aig_app');
DROP ROLE aig_app;
