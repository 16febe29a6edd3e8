-- ai_gateway 0.3.0 -> 0.4.0: what today's models do (issue 15: tool calling,
-- structured output, images, cloud providers with their own auth, provider
-- presets) and table-scale background work (issue 16).  Each section below
-- is one change; the fresh install script (ai_gateway--0.4.0.sql) has the
-- same objects, and the regression test upgrade.sql compares the two object
-- by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.4.0'" to load this file. \quit

-- (section: presets)
-- Provider presets (issue 15, item 5): OpenAI-compatible APIs by kind with
-- their own default base URL, capabilities and quirks; provider_info()
-- shows how each provider resolved.
ALTER TABLE ai_gateway.providers DROP CONSTRAINT providers_kind_check;
ALTER TABLE ai_gateway.providers ADD CONSTRAINT providers_kind_check
    CHECK (kind IN ('openai', 'anthropic', 'cohere', 'ollama', 'gemini',
                    'azure_openai', 'openai_compatible',
                    'mistral', 'groq', 'deepseek', 'xai', 'together',
                    'fireworks', 'openrouter'));

CREATE FUNCTION ai_gateway.provider_info()
    RETURNS TABLE (provider text, kind text, base_url text, embeddings boolean,
                   max_embed_batch int, capabilities text[], quirks text)
    LANGUAGE C STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_provider_info';
COMMENT ON FUNCTION ai_gateway.provider_info() IS
    'Each provider as the gateway resolved it: kind, the base URL it calls (stored or the kind''s default), embeddings and their batch size, capabilities (tools, images, image_urls, documents, json_schema), and what a preset kind changes in the OpenAI format';
