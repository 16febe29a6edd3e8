-- ai_gateway 0.4.0 -> 0.5.0: providers' Batch APIs (issue 16): async jobs and
-- pipelines submitted through OpenAI's Batch API and Anthropic's Message
-- Batches at the batch price.  Each section below is one change; the fresh
-- install script (ai_gateway--0.5.0.sql) has the same objects, and the
-- regression test upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.5.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Provider Batch APIs
------------------------------------------------------------------------------

-- (section: provider batches)
ALTER TABLE ai_gateway.jobs ADD COLUMN batch boolean NOT NULL DEFAULT false;
ALTER TABLE ai_gateway.jobs ADD COLUMN provider_batch bigint;
CREATE INDEX ON ai_gateway.jobs (provider_batch) WHERE provider_batch IS NOT NULL;
COMMENT ON COLUMN ai_gateway.jobs.batch IS
    'Run through the provider''s Batch API (options.batch): answered within 24 hours at the batch price';
COMMENT ON COLUMN ai_gateway.jobs.provider_batch IS
    'The ai_gateway.provider_batches row the job is in while its provider batch runs, or NULL';

-- Provider batches: async jobs with options.batch, submitted together to a
-- provider's Batch API (OpenAI Batch, Anthropic Message Batches) by the job
-- worker, polled until they end, their results mapped back to the jobs.
CREATE TABLE ai_gateway.provider_batches (
    id            bigserial PRIMARY KEY,
    provider      text NOT NULL,
    model         text NOT NULL,
    status        text NOT NULL DEFAULT 'submitted'
                  CHECK (status IN ('submitted', 'ended', 'failed')),
    remote_id     text,
    remote_status text,
    items         int NOT NULL,
    error         text,
    polls         int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    submitted_at  timestamptz,
    ended_at      timestamptz,
    next_poll_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON ai_gateway.provider_batches (next_poll_at) WHERE status = 'submitted';
COMMENT ON TABLE ai_gateway.provider_batches IS
    'Batches submitted to providers'' Batch APIs for async jobs with options.batch (status submitted, ended, failed)';
GRANT SELECT ON ai_gateway.provider_batches TO ai_gateway_admin;
