-- async: ai_complete_async queues a job that the job worker runs after the
-- transaction commits; ai_result reads it, waiting if asked.
SELECT ai_complete_async('hello later', 'openai/m') AS job \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->'result'->>'content' AS content,
       r->'result'->>'target' AS target, r->'error' AS error
FROM ai_result(:job, 10000) r;
SELECT status, role, request->>'prompt' AS prompt, finished_at IS NOT NULL AS finished
FROM ai_gateway.jobs WHERE id = :job;

-- nothing leaves before commit; a ROLLBACK takes the job with it
BEGIN;
SELECT ai_complete_async('never sent', 'openai/m') AS rolled_back \gset
SELECT (ai_result(:rolled_back))->>'status' AS inside_transaction;
ROLLBACK;
SELECT try(format('SELECT ai_result(%s)', :rolled_back)) AS after_rollback;

-- a retryable failure is retried; a permanent one fails at once
SELECT ai_complete_async('x', 'openai/m+fail_first=1+seq=async1', NULL, '{"max_retries": 0}') AS retried \gset
SELECT ai_complete_async('x', 'openai/m+status=404') AS failing \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts FROM ai_result(:retried, 15000) r;
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->>'error' AS error FROM ai_result(:failing, 15000) r;

-- arguments are checked when queueing
SELECT try($$SELECT ai_complete_async('x', 'nope')$$);
SELECT try($$SELECT ai_complete_async(NULL, 'openai/m')$$);
SELECT try($$SELECT ai_complete_async('x', 'openai/m', NULL, '{"bogus": 1}')$$);
SELECT try($$SELECT ai_result(-1)$$);

-- a role reads only its own jobs
CREATE ROLE a_user;
CREATE ROLE a_other;
GRANT USAGE ON SCHEMA public TO a_user, a_other;
SELECT ai_gateway.grant_provider('openai', 'a_user');
SET ROLE a_user;
SELECT ai_complete_async('mine', 'openai/m') AS user_job \gset
RESET ROLE;
SELECT (ai_result(:user_job, 10000))->>'status' AS admin_reads;
SET ROLE a_user;
SELECT (ai_result(:user_job))->>'status' AS owner_reads;
SELECT count(*) AS own_rows FROM ai_gateway.jobs;
SET ROLE a_other;
SELECT try(format('SELECT ai_result(%s)', :user_job)) AS other_reads;
SELECT try($$SELECT ai_complete_async('x', 'openai/m')$$) AS other_queues;
SELECT count(*) AS other_rows FROM ai_gateway.jobs;
RESET ROLE;
-- the job ran as its role: the audit row says so
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, status FROM ai_gateway.audit_log WHERE role = 'a_user';
SELECT ai_gateway.revoke_provider('openai', 'a_user');
REVOKE USAGE ON SCHEMA public FROM a_user, a_other;
DROP ROLE a_user, a_other;
