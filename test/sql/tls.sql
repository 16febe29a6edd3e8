-- tls: options.ca_file names a PEM bundle inside ai_gateway.ca_directory
-- (a superuser's setting) and nothing else: a path, '..', a dot file or a
-- non-string is refused when the provider is written (22023); a plain name
-- is accepted, and with ai_gateway.ca_directory unset (the default) a call
-- through it fails with UP001 saying so, before anything is sent.
-- test/integration/tls.sh runs real HTTPS calls against nginx.
SHOW ai_gateway.ca_directory;
INSERT INTO ai_gateway.providers (name, kind, base_url, options)
VALUES ('tls_p', 'openai', 'https://127.0.0.1:9/v1', '{}');
SELECT v, try(format($$UPDATE ai_gateway.providers SET options = %L WHERE name = 'tls_p'$$,
                     jsonb_build_object('ca_file', v)))
FROM (VALUES ('/etc/passwd'), ('../ca.pem'), ('a/b.pem'), ('.hidden'), (''), ('ca bundle.pem')) t(v);
SELECT try($$UPDATE ai_gateway.providers SET options = '{"ca_file": 5}' WHERE name = 'tls_p'$$);
UPDATE ai_gateway.providers SET options = '{"ca_file": "private-CA_2.pem"}' WHERE name = 'tls_p';
SELECT options FROM ai_gateway.providers WHERE name = 'tls_p';
SELECT try($$SELECT ai_complete('x', 'tls_p/m', NULL, '{"max_retries": 0}')$$);
-- only a superuser sets the directory
CREATE ROLE tls_admin IN ROLE ai_gateway_admin;
SET ROLE tls_admin;
SELECT try($$SET ai_gateway.ca_directory = '/etc'$$);
RESET ROLE;
DROP ROLE tls_admin;
DELETE FROM ai_gateway.providers WHERE name = 'tls_p';
