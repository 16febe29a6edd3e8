-- ai_gateway 0.4.0 -> 0.5.0: providers' Batch APIs (issue 16): async jobs and
-- pipelines submitted through OpenAI's Batch API and Anthropic's Message
-- Batches at the batch price.  Each section below is one change; the fresh
-- install script (ai_gateway--0.5.0.sql) has the same objects, and the
-- regression test upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.5.0'" to load this file. \quit
