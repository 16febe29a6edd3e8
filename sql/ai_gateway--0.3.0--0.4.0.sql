-- ai_gateway 0.3.0 -> 0.4.0: what today's models do (issue 15: tool calling,
-- structured output, images, cloud providers with their own auth, provider
-- presets) and table-scale background work (issue 16).  Each section below
-- is one change; the fresh install script (ai_gateway--0.4.0.sql) has the
-- same objects, and the regression test upgrade.sql compares the two object
-- by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Provider kinds: AWS Bedrock, Google Vertex AI and the OpenAI-compatible presets
------------------------------------------------------------------------------

-- (section: kinds)
ALTER TABLE ai_gateway.providers DROP CONSTRAINT providers_kind_check;
ALTER TABLE ai_gateway.providers ADD CONSTRAINT providers_kind_check
    CHECK (kind IN ('openai', 'anthropic', 'cohere', 'ollama', 'gemini',
                    'azure_openai', 'openai_compatible',
                    'bedrock', 'vertex_ai',
                    'mistral', 'groq', 'deepseek', 'xai', 'together',
                    'fireworks', 'openrouter'));

-- (section: presets)
-- Provider presets (issue 15, item 5): OpenAI-compatible APIs by kind with
-- their own default base URL, capabilities and quirks; provider_info()
-- shows how each provider resolved.
CREATE FUNCTION ai_gateway.provider_info()
    RETURNS TABLE (provider text, kind text, base_url text, embeddings boolean,
                   max_embed_batch int, capabilities text[], quirks text)
    LANGUAGE C STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_provider_info';
COMMENT ON FUNCTION ai_gateway.provider_info() IS
    'Each provider as the gateway resolved it: kind, the base URL it calls (stored or the kind''s default), embeddings and their batch size, capabilities (tools, images, image_urls, documents, json_schema), and what a preset kind changes in the OpenAI format';

-- shipped prices of preset kinds (only where the stored pricing pages give them)
CREATE OR REPLACE FUNCTION ai_gateway.refresh_model_prices() RETURNS int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM ai_gateway.model_catalog;
    INSERT INTO ai_gateway.model_catalog
        (kind, model, input_usd_per_mtok, output_usd_per_mtok, context_window, as_of, source)
    SELECT v.kind, v.model, v.i, v.o, v.cw, date '2026-12-02', v.src
      FROM (VALUES
        ('openai', 'gpt-4o',                 2.50,  10.00,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4o-mini',            0.15,   0.60,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1',                2.00,   8.00, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-mini',           0.40,   1.60, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-nano',           0.10,   0.40, 1047576, 'openai.com/api/pricing'),
        ('openai', 'o3',                     2.00,   8.00,  200000, 'openai.com/api/pricing'),
        ('openai', 'o3-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'o4-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-small', 0.02,   NULL,    8191, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-large', 0.13,   NULL,    8191, 'openai.com/api/pricing'),
        ('anthropic', 'claude-3-5-haiku-latest',    0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-haiku-20241022',  0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20241022', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20240620', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-20250219', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-0',          3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-20250514',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-0',           15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-20250514',    15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('gemini', 'gemini-1.5-flash',       0.075,  0.30, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-1.5-pro',         1.25,   5.00, 2097152, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.0-flash',       0.10,   0.40, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-flash',       0.30,   2.50, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-pro',         1.25,  10.00, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'text-embedding-004',     NULL,   NULL,    2048, 'ai.google.dev/gemini-api/docs/models'),
        ('cohere', 'command-r-08-2024',      0.15,   0.60,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-r-plus-08-2024', 2.50,  10.00,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-a-03-2025',      2.50,  10.00,  256000, 'cohere.com/pricing'),
        ('cohere', 'embed-english-v3.0',     0.10,   NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-multilingual-v3.0', 0.10,  NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-v4.0',             0.12,   NULL,  128000, 'cohere.com/pricing'),
        -- presets: only where the stored pages give the price (cache-miss input)
        ('deepseek', 'deepseek-v4-flash',    0.14,   0.28,    NULL, 'api-docs.deepseek.com/quick_start/pricing')
      ) AS v(kind, model, i, o, cw, src);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION ai_gateway.refresh_model_prices() IS
    'Reload ai_gateway.model_catalog with the list shipped in this version; returns the number of models';
SELECT ai_gateway.refresh_model_prices();
