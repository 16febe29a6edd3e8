-- provider Batch APIs: async jobs with options.batch go to OpenAI's Batch
-- API (a JSONL file, then /v1/batches) or Anthropic's Message Batches, are
-- polled by the job worker, and are charged at half the price.
ALTER SYSTEM SET ai_gateway.batch_poll_interval = 200;
SELECT pg_reload_conf() AS reloaded;
SELECT pg_sleep(0.3);
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok) VALUES
    ('openai', 'bm', 1000, 2000), ('anthropic', 'bm', 1000, 2000);

-- the same prompt answered now, for its price
SELECT (ai_chat('[{"role": "user", "content": "a batch of one"}]', 'openai/bm'))->'cost_usd' AS live_cost \gset
SELECT (ai_chat('[{"role": "user", "content": "a batch of one"}]', 'anthropic/bm'))->'cost_usd' AS live_cost_a \gset

-- three jobs in one transaction become one provider batch
BEGIN;
SELECT ai_complete_async('a batch of one', 'openai/bm', NULL, '{"batch": true}') AS j1 \gset
SELECT ai_complete_async('a batch of two', 'openai/bm', NULL, '{"batch": true, "metadata": {"team": "x"}}') AS j2 \gset
SELECT ai_complete_async('a batch of three', 'openai/bm', 'Be brief.', '{"batch": true}') AS j3 \gset
COMMIT;
SELECT j - :j1 AS n, r->>'status' AS status, r->'attempts' AS attempts,
       r->'result'->>'content' IS NOT NULL AS answered, r->'result'->>'provider' AS provider
FROM unnest(array[:j1, :j2, :j3]) j, ai_result(j, 30000) r ORDER BY j;
-- half the live price
SELECT (ai_result(:j1))->'result'->'cost_usd' AS batch_cost, :'live_cost' AS live_cost,
       ((ai_result(:j1))->'result'->>'cost_usd')::numeric * 2 = :'live_cost'::numeric AS half_price;
SELECT provider, model, status, remote_id LIKE 'batch_%' AS openai_id, remote_status, items, polls >= 1 AS polled,
       submitted_at IS NOT NULL AND ended_at IS NOT NULL AS timed
FROM ai_gateway.provider_batches ORDER BY id;
SELECT count(*) AS jobs_still_in_a_batch FROM ai_gateway.jobs WHERE provider_batch IS NOT NULL;
-- one audit row per job, naming the provider batch, at the batch price
SELECT ai_gateway.audit_flush() AS flushed;
SELECT a.status, a.provider, a.model, a.metadata->>'team' AS team,
       a.input_tokens > 0 AND a.output_tokens > 0 AS tokens
FROM ai_gateway.audit_log a
WHERE a.metadata->>'provider_batch' = (SELECT remote_id FROM ai_gateway.provider_batches ORDER BY id LIMIT 1)
ORDER BY a.id;
SELECT sum(a.cost_usd) = (SELECT sum((result->>'cost_usd')::numeric) FROM ai_gateway.jobs
                          WHERE id IN (:j1, :j2, :j3)) AS audited_as_charged
FROM ai_gateway.audit_log a
WHERE a.metadata->>'provider_batch' = (SELECT remote_id FROM ai_gateway.provider_batches ORDER BY id LIMIT 1);

-- what the provider batch carried: the chat request a live call sends
SELECT ai_complete_async('show me', 'openai/echo', 'System text', '{"batch": true, "temperature": 0.5}') AS echo \gset
SELECT (((ai_result(:echo, 30000))->'result'->>'content')::jsonb -> 'body') - 'stream' AS sent_body;

-- Anthropic's Message Batches
BEGIN;
SELECT ai_complete_async('a batch of one', 'anthropic/bm', NULL, '{"batch": true}') AS a1 \gset
SELECT ai_complete_async('another', 'anthropic/bm', NULL, '{"batch": true}') AS a2 \gset
COMMIT;
SELECT j - :a1 AS n, r->>'status' AS status, r->'result'->>'provider' AS provider, r->'result'->>'content' IS NOT NULL AS answered
FROM unnest(array[:a1, :a2]) j, ai_result(j, 30000) r ORDER BY j;
SELECT ((ai_result(:a1))->'result'->>'cost_usd')::numeric * 2 = :'live_cost_a'::numeric AS half_price;
SELECT provider, status, remote_id LIKE 'msgbatch_%' AS anthropic_id, remote_status, items
FROM ai_gateway.provider_batches WHERE provider = 'anthropic';

-- a route takes its first target with a Batch API
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('batchy', 'fallback');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('batchy', 'cohere', 'm', 1), ('batchy', 'openai', 'bm', 2);
SELECT ai_complete_async('routed', 'batchy', NULL, '{"batch": true}') AS routed \gset
SELECT r->>'status' AS status, r->'result'->>'provider' AS provider, r->'result'->>'route' AS route
FROM ai_result(:routed, 30000) r;

-- an item the provider refused fails its job (and only its job)
BEGIN;
SELECT ai_complete_async('fine', 'openai/bm', NULL, '{"batch": true}') AS ok_item \gset
SELECT ai_complete_async('refused', 'openai/bm+status=400', NULL, '{"batch": true}') AS bad_item \gset
COMMIT;
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->>'error' AS error FROM ai_result(:bad_item, 30000) r;
SELECT (ai_result(:ok_item, 30000))->>'status' AS neighbour;

-- a retryable item failure runs again in a later batch
SELECT ai_complete_async('flaky', 'openai/bm+fail_first=1+seq=pbflaky', NULL, '{"batch": true}') AS flaky \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts FROM ai_result(:flaky, 30000) r;

-- a batch that expires: its jobs go back to the queue, then fail after their attempts
SELECT ai_complete_async('late', 'openai/bm+batch_end=expired', NULL, '{"batch": true}') AS late \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts,
       regexp_replace(r->>'error', 'batch_[0-9a-f]+', 'batch_<id>') AS error FROM ai_result(:late, 60000) r;
SELECT ai_complete_async('late', 'anthropic/bm+batch_end=expired', NULL, '{"batch": true}') AS late_a \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts,
       regexp_replace(r->>'error', 'msgbatch_[0-9a-f]+', 'msgbatch_<id>') AS error FROM ai_result(:late_a, 60000) r;

-- what cannot be a batch is refused when queued
SELECT try($$SELECT ai_complete('now', 'openai/bm', NULL, '{"batch": true}')$$) AS sync_call;
SELECT try($$SELECT * FROM ai_complete_batch(array['now'], 'openai/bm', NULL, '{"batch": true}')$$) AS sync_batch;
SELECT try($$SELECT ai_embed('now', 'openai/e', '{"batch": true}')$$) AS sync_embed;
SELECT try($$SELECT ai_complete_async('x', 'cohere/m', NULL, '{"batch": true}')$$) AS no_batch_api;
SELECT try($$SELECT ai_complete_async('x', 'openai/bm', NULL, '{"batch": "yes"}')$$) AS not_bool;
INSERT INTO ai_gateway.routes (name, strategy, options) VALUES ('batch_reversible', 'fallback', '{"redact_pii": "reversible"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('batch_reversible', 'openai', 'bm');
SELECT try($$SELECT ai_complete_async('x', 'batch_reversible', NULL, '{"batch": true}')$$) AS reversible;
-- false is a normal job
SELECT ai_complete_async('not batched', 'openai/bm', NULL, '{"batch": false}') AS normal \gset
SELECT (ai_result(:normal, 30000))->>'status' AS normal_job, provider_batch IS NULL AS no_batch
FROM ai_gateway.jobs WHERE id = :normal;

-- a batch job runs as its role: its grant, its quota
CREATE ROLE pb_user;
GRANT USAGE ON SCHEMA public TO pb_user;
SELECT ai_gateway.grant_provider('openai', 'pb_user');
INSERT INTO ai_gateway.quotas (role, period, max_cost_usd) VALUES ('pb_user', 'day', 1000);
SET ROLE pb_user;
SELECT ai_complete_async('mine', 'openai/bm', NULL, '{"batch": true}') AS mine \gset
RESET ROLE;
SELECT r->>'status' AS status, r->>'error' AS error FROM ai_result(:mine, 30000) r;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, status, metadata ? 'provider_batch' AS tagged FROM ai_gateway.audit_log WHERE role = 'pb_user';
SELECT requests, cost_usd = (SELECT sum(cost_usd) FROM ai_gateway.audit_log WHERE role = 'pb_user') AS charged
FROM ai_gateway.usage WHERE role = 'pb_user';
-- the grant revoked while queued: refused when submitted, audited as denied
SELECT ai_gateway.grant_provider('anthropic', 'pb_user');
BEGIN;
SET LOCAL ROLE pb_user;
SELECT ai_complete_async('revoked', 'anthropic/bm', NULL, '{"batch": true}') AS revoked \gset
RESET ROLE;
SELECT ai_gateway.revoke_provider('anthropic', 'pb_user');
COMMIT;
SELECT r->>'status' AS status, r->>'error' AS error FROM ai_result(:revoked, 30000) r;
DELETE FROM ai_gateway.quotas WHERE role = 'pb_user';
SELECT ai_gateway.revoke_provider('openai', 'pb_user');
REVOKE USAGE ON SCHEMA public FROM pb_user;
DROP ROLE pb_user;

-- provider_batches is for administrators
CREATE ROLE pb_other;
SET ROLE pb_other;
SELECT try($$SELECT count(*) FROM ai_gateway.provider_batches$$) AS other_reads;
RESET ROLE;
DROP ROLE pb_other;

-- pipelines in the Batch API mode: rows become batch jobs of the owner's,
-- written back when the provider batch answers
CREATE FUNCTION pb_wait(p text, want bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        IF (SELECT done + failed >= want AND queued = 0 AND in_batch = 0
              FROM ai_gateway.pipeline_status WHERE name = p) THEN
            RETURN 'settled';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN 'not settled';
END $$;
CREATE TABLE pb_docs (id int PRIMARY KEY, body text, summary text, facts jsonb);
INSERT INTO pb_docs (id, body) SELECT g, 'document ' || g FROM generate_series(1, 5) g;
SELECT try($$SELECT ai_gateway.create_pipeline('pb_e', 'pb_docs', 'body', 'summary', 'openai/e', 'embed', '{"batch": true}')$$) AS embed_batch;
SELECT try($$SELECT ai_gateway.create_pipeline('pb_c', 'pb_docs', 'body', 'summary', 'cohere/m', 'complete', '{"batch": true}')$$) AS no_batch_api;
SELECT try($$SELECT ai_gateway.create_pipeline('pb_c', 'pb_docs', 'body', 'summary', 'openai/m', 'complete', '{"batch": 1}')$$) AS not_bool;
-- the answers echo the request, so a row's summary shows the source it was computed from
SELECT ai_gateway.create_pipeline('pb_sum', 'pb_docs', 'body', 'summary', 'openai/echo+batch_polls=6',
                                  'complete', '{"batch": true}') AS queued;
-- a row changed while its batch runs: the stale answer is not written, the new one is
DO $$ BEGIN
    FOR i IN 1..400 LOOP
        EXIT WHEN (SELECT in_batch = 5 FROM ai_gateway.pipeline_status WHERE name = 'pb_sum');
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT queued, in_batch, state FROM ai_gateway.pipeline_status WHERE name = 'pb_sum';
UPDATE pb_docs SET body = 'changed 1' WHERE id = 1;
SELECT pb_wait('pb_sum', 5) AS waited;
SELECT id, (summary::jsonb -> 'body' -> 'messages' -> -1 ->> 'content') AS computed_from FROM pb_docs ORDER BY id;
SELECT state, queued, in_batch, done, skipped, failed FROM ai_gateway.pipeline_status WHERE name = 'pb_sum';
SELECT count(*) >= 2 AS batches, sum(items) AS items FROM ai_gateway.provider_batches WHERE model = 'echo+batch_polls=6';
SELECT ai_gateway.drop_pipeline('pb_sum');
-- an extraction, charged at the batch price
SELECT ai_gateway.create_pipeline('pb_facts', 'pb_docs', 'body', 'facts', 'anthropic/bm', 'extract',
    '{"batch": true, "schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}') AS queued;
SELECT pb_wait('pb_facts', 5) AS waited;
SELECT count(*) FILTER (WHERE facts ? 'topic') AS extracted FROM pb_docs;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) AS audited, bool_and(metadata ? 'provider_batch') AS tagged, bool_and(cost_usd > 0) AS priced
FROM ai_gateway.audit_log WHERE metadata->>'pipeline' = 'pb_facts';
SELECT ai_gateway.drop_pipeline('pb_facts');
-- items the provider refuses are kept as the pipeline's failures
CREATE TABLE pb_bad (id int PRIMARY KEY, body text, summary text);
INSERT INTO pb_bad VALUES (1, 'one', NULL), (2, 'two', NULL);
SELECT ai_gateway.create_pipeline('pb_bad', 'pb_bad', 'body', 'summary', 'openai/bm+status=400', 'complete', '{"batch": true}') AS queued;
SELECT pb_wait('pb_bad', 2) AS waited;
SELECT key, sqlstate, error FROM ai_gateway.pipeline_failures WHERE pipeline = 'pb_bad' ORDER BY key::text;
SELECT ai_gateway.drop_pipeline('pb_bad');
-- metadata naming someone else's pipeline reaches nothing
CREATE TABLE pb_victim (id int PRIMARY KEY, body text, summary text);
INSERT INTO pb_victim VALUES (1, 'mine', NULL);
SELECT ai_gateway.create_pipeline('pb_victim', 'pb_victim', 'body', 'summary', 'openai/bm', 'complete', '{"batch": true}') AS queued;
SELECT pb_wait('pb_victim', 1) AS waited;
CREATE ROLE pb_forger;
GRANT USAGE ON SCHEMA public TO pb_forger;
SELECT ai_gateway.grant_provider('openai', 'pb_forger');
SELECT summary AS victim_before FROM pb_victim \gset
-- the forger knows the row's key and its source hash
DO $$ DECLARE h text; BEGIN
    EXECUTE format('SELECT %s FROM pb_victim t', ai_gateway.pipeline_hash_sql('{body}', 't')) INTO h;
    PERFORM set_config('pb.hash', h, false);
END $$;
SET ROLE pb_forger;
SELECT ai_complete_async('forged', 'openai/echo', NULL, jsonb_build_object('batch', true, 'metadata',
    jsonb_build_object('pipeline', 'pb_victim', 'pipeline_key', '{"id": 1}'::jsonb,
                       'pipeline_hash', current_setting('pb.hash')))) AS forged \gset
RESET ROLE;
SELECT (ai_result(:forged, 30000))->>'status' AS forged_job;
SELECT summary = :'victim_before' AS untouched FROM pb_victim;
SELECT done, failed FROM ai_gateway.pipeline_status WHERE name = 'pb_victim';
SELECT ai_gateway.drop_pipeline('pb_victim');
SELECT ai_gateway.revoke_provider('openai', 'pb_forger');
REVOKE USAGE ON SCHEMA public FROM pb_forger;
DROP ROLE pb_forger;
DROP TABLE pb_docs, pb_bad, pb_victim;

DELETE FROM ai_gateway.route_targets WHERE route IN ('batchy', 'batch_reversible');
DELETE FROM ai_gateway.routes WHERE name IN ('batchy', 'batch_reversible');
DELETE FROM ai_gateway.models WHERE model = 'bm';
ALTER SYSTEM RESET ai_gateway.batch_poll_interval;
SELECT pg_reload_conf() AS reloaded;
