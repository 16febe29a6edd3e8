-- secrets_binding: a sealed secret is bound to its provider's endpoint
-- (name, kind, base URL origin), so an administrator cannot repoint a
-- provider at its own server and collect the key; options.api_key_env is a
-- superuser's; secret headers of options.headers are sealed like the key,
-- masked in config_history and scrubbed from errors (issue 13, defects 8, 9).
SELECT current_user AS su \gset
SELECT base_url AS mock_v1 FROM ai_gateway.providers WHERE name = 'openai' \gset
CREATE ROLE sb_ops IN ROLE ai_gateway_admin;     -- a gateway admin, not a superuser
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('sb_p', 'openai', :'mock_v1', 'sk-bound-0123456789abcdef');
SELECT ai_complete('x', 'sb_p/echo')::jsonb #>> '{headers,authorization}' AS sent;

------------------------------------------------------------------------------
-- defect 8: repointing a provider needs its key written again
------------------------------------------------------------------------------
SET ROLE sb_ops;
SELECT regexp_replace(try($$UPDATE ai_gateway.providers SET base_url = 'http://evil.example/v1' WHERE name = 'sb_p'$$),
                      '127.0.0.1:[0-9]+', '127.0.0.1:PORT') AS repoint;
SELECT try1($$UPDATE ai_gateway.providers SET base_url = replace(base_url, '127.0.0.1', 'localhost') WHERE name = 'sb_p'$$) AS other_host;
SELECT try1($$UPDATE ai_gateway.providers SET base_url = 'https' || substr(base_url, 5) WHERE name = 'sb_p'$$) AS other_scheme;
SELECT try1($$UPDATE ai_gateway.providers SET kind = 'openai_compatible' WHERE name = 'sb_p'$$) AS other_kind;
SELECT try1($$UPDATE ai_gateway.providers SET name = 'sb_renamed' WHERE name = 'sb_p'$$) AS renamed;
-- the same origin (another path) keeps the key; a new key with the new URL is fine
UPDATE ai_gateway.providers SET base_url = base_url || '/' WHERE name = 'sb_p';
SELECT ai_complete('x', 'sb_p/echo')::jsonb #>> '{headers,authorization}' AS same_origin;
UPDATE ai_gateway.providers SET base_url = 'http://evil.example/v1', api_key = 'my-own-key-0123456789'
WHERE name = 'sb_p';
UPDATE ai_gateway.providers SET base_url = :'mock_v1', api_key = NULL WHERE name = 'sb_p';
RESET ROLE;
UPDATE ai_gateway.providers SET api_key = 'sk-bound-0123456789abcdef' WHERE name = 'sb_p';

-- a sealed value copied to another provider, or re-inserted under another
-- origin (as a hostile "restore" would), does not open: nothing is sent
SELECT api_key_encrypted AS sealed FROM ai_gateway.providers WHERE name = 'sb_p' \gset
SET ROLE sb_ops;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted)
VALUES ('sb_copy', 'openai', :'mock_v1', '****cdef', :'sealed');
RESET ROLE;
SELECT try1($$SELECT ai_complete('x', 'sb_copy/echo')$$) AS copied;
BEGIN;
DELETE FROM ai_gateway.providers WHERE name = 'sb_p';
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted)
VALUES ('sb_p', 'openai', 'http://127.0.0.1:1/v1', '****cdef', :'sealed');
SELECT try1($$SELECT ai_complete('x', 'sb_p/echo')$$) AS reinserted_elsewhere;
ROLLBACK;
-- the same row written back (pg_dump/restore) keeps working
BEGIN;
DELETE FROM ai_gateway.providers WHERE name = 'sb_p';
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted)
VALUES ('sb_p', 'openai', :'mock_v1', '****cdef', :'sealed');
SELECT ai_complete('x', 'sb_p/echo')::jsonb #>> '{headers,authorization}' AS restored;
ROLLBACK;
-- a 0.2.0 key (not bound) is refused for a non-superuser; a superuser's write binds it
SET ROLE sb_ops;
SELECT try($$UPDATE ai_gateway.providers SET api_key_encrypted = 'aigk1:AAAA' WHERE name = 'sb_copy'$$) AS legacy;
RESET ROLE;
DELETE FROM ai_gateway.providers WHERE name = 'sb_copy';

------------------------------------------------------------------------------
-- defect 8: options.api_key_env reads the server's environment: superusers only
------------------------------------------------------------------------------
SET ROLE sb_ops;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, base_url, options)
             VALUES ('sb_env', 'openai', 'http://evil.example/v1', '{"api_key_env": "PATH"}')$$) AS insert_env;
RESET ROLE;
INSERT INTO ai_gateway.providers (name, kind, base_url, options)
VALUES ('sb_env', 'openai', :'mock_v1', '{"api_key_env": "PATH"}');
SELECT api_key_env_by = :'su'::regrole AS recorded_superuser FROM ai_gateway.providers WHERE name = 'sb_env';
SELECT ai_complete('x', 'sb_env/m') AS env_key_works;
SET ROLE sb_ops;
SELECT try1($$UPDATE ai_gateway.providers SET options = '{"api_key_env": "PGDATA"}' WHERE name = 'sb_env'$$) AS change_env;
SELECT try1($$UPDATE ai_gateway.providers SET base_url = 'http://evil.example/v1' WHERE name = 'sb_env'$$) AS repoint_env;
SELECT try1(format('UPDATE ai_gateway.providers SET api_key_env_by = %L WHERE name = %L', 'sb_ops', 'sb_env')) AS forge_by;
-- other changes are an admin's to make
UPDATE ai_gateway.providers SET options = options || '{"timeout_ms": 5000}' WHERE name = 'sb_env';
SELECT ai_complete('x', 'sb_env/m') AS still_works;
RESET ROLE;
-- at use: an api_key_env recorded for anyone but a superuser is not read
ALTER TABLE ai_gateway.providers DISABLE TRIGGER providers_protect_key;
UPDATE ai_gateway.providers SET api_key_env_by = 'sb_ops' WHERE name = 'sb_env';
ALTER TABLE ai_gateway.providers ENABLE TRIGGER providers_protect_key;
SELECT try1($$SELECT ai_complete('x', 'sb_env/m')$$) AS not_a_superusers;
DELETE FROM ai_gateway.providers WHERE name = 'sb_env';

------------------------------------------------------------------------------
-- defect 9: secret headers are sealed like the key
------------------------------------------------------------------------------
SET ROLE sb_ops;
INSERT INTO ai_gateway.providers (name, kind, base_url, options) VALUES
    ('sb_hdr', 'openai', :'mock_v1',
     '{"headers": {"X-Test-Token": "tok-0123456789abcdef", "X-Test-Plain": "visible",
                   "X-Test-Custom": "custom-secret-0123456789", "Authorization": "Bearer hdr-secret-0123456789"},
       "secret_headers": ["X-Test-Custom"]}');
RESET ROLE;
-- stored sealed (the plain one as given), never in plain text
SELECT k, CASE WHEN v LIKE 'aigk2:%' THEN 'sealed' ELSE v END AS stored
FROM ai_gateway.providers, jsonb_each_text(options -> 'headers') e(k, v) WHERE name = 'sb_hdr' ORDER BY k;
SELECT count(*) AS plain_anywhere FROM ai_gateway.providers
WHERE name = 'sb_hdr' AND (options::text LIKE '%0123456789%');
-- sent opened
SELECT jsonb_pretty(ai_complete('x', 'sb_hdr/echo')::jsonb -> 'headers') AS sent;
-- config_history: a mask, never the value nor its sealed form
SELECT operation, new_row -> 'options' -> 'headers' AS headers, new_row -> 'secret_headers_changed' AS changed
FROM ai_gateway.config_history WHERE table_name = 'providers' AND new_row ->> 'name' = 'sb_hdr' ORDER BY id;
SELECT count(*) AS in_history FROM ai_gateway.config_history
WHERE 'sb_hdr' IN (old_row ->> 'name', new_row ->> 'name')
  AND (coalesce(old_row::text, '') || coalesce(new_row::text, '')) ~ '0123456789|aigk2';
-- scrubbed from errors: the whole value, and the token after "Bearer"
SELECT try1($$SELECT ai_complete('x', 'sb_hdr/m+status=401+echo_key')$$) AS error;
-- bound to the endpoint too: repointing needs the headers written again
SELECT try1($$UPDATE ai_gateway.providers SET base_url = 'http://evil.example/v1' WHERE name = 'sb_hdr'$$) AS repoint;
UPDATE ai_gateway.providers SET base_url = 'http://evil.example/v1',
    options = '{"headers": {"X-Test-Token": "new-token-value"}}' WHERE name = 'sb_hdr';
SELECT operation, new_row -> 'options' -> 'headers' AS headers, new_row -> 'secret_headers_changed' AS changed
FROM ai_gateway.config_history WHERE table_name = 'providers' AND new_row ->> 'name' = 'sb_hdr'
ORDER BY id DESC LIMIT 1;
-- a sealed header moved to another provider does not open
INSERT INTO ai_gateway.providers (name, kind, base_url, options)
SELECT 'sb_hdr2', 'openai', :'mock_v1', options FROM ai_gateway.providers WHERE name = 'sb_hdr';
SELECT try1($$SELECT ai_complete('x', 'sb_hdr2/echo')$$) AS moved_header;
SELECT try1($$UPDATE ai_gateway.providers SET options = '{"secret_headers": "X-A"}' WHERE name = 'sb_hdr2'$$) AS bad_list;

DELETE FROM ai_gateway.providers WHERE name IN ('sb_p', 'sb_hdr', 'sb_hdr2');
DROP ROLE sb_ops;
