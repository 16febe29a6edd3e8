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
