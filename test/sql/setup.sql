-- setup: the extension, one provider of every kind pointing at the mock
-- provider (its port comes from the MOCK_PORT environment variable), and a
-- helper that shows an error's SQLSTATE, message, detail and hint.
CREATE EXTENSION ai_gateway;
-- deterministic tests: no retries and breakers that do not trip unless a
-- test asks for them (each test file is a new session, so these apply)
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET ai_gateway.max_retries = 0', current_database());
    EXECUTE format('ALTER DATABASE %I SET ai_gateway.breaker_failures = 1000', current_database());
    EXECUTE format('ALTER DATABASE %I SET ai_gateway.breaker_min_requests = 1000000', current_database());
END $$;
\getenv mock_port MOCK_PORT
\set mock 'http://127.0.0.1:' :mock_port

INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('openai',    'openai',            :'mock' || '/v1', 'sk-test-openai-0123456789'),
    ('anthropic', 'anthropic',         :'mock',          'sk-ant-test-0123456789'),
    ('cohere',    'cohere',            :'mock',          'co-test-0123456789abcdef'),
    ('ollama',    'ollama',            :'mock',          NULL),
    ('gemini',    'gemini',            :'mock',          'AIza-test-0123456789abc'),
    ('azure',     'azure_openai',      :'mock',          'az-test-0123456789abcdef'),
    ('compat',    'openai_compatible', :'mock' || '/v1', 'compat-test-0123456789');

-- keys are sealed on write: only a mask stays in api_key
SELECT name, kind, api_key, api_key_encrypted LIKE 'aigk2:%' AS sealed
FROM ai_gateway.providers ORDER BY name;

CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg
        || coalesce(E'\n  detail: ' || nullif(det, ''), '')
        || coalesce(E'\n  hint: ' || nullif(hnt, ''), '');
END $$;

-- the first line only (for errors whose detail varies, e.g. a timestamp)
CREATE FUNCTION try1(stmt text) RETURNS text LANGUAGE sql AS $$
    SELECT split_part(try(stmt), E'\n', 1)
$$;
