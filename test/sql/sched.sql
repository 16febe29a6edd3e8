-- sched: bounds a caller cannot lift (issue 13, defect 15 and "also seen"):
-- a role's async queue depth (ai_gateway.max_queued_jobs_per_role), the
-- response cache's maximum TTL (ai_gateway.cache_max_ttl_s) and rows per
-- role (ai_gateway.cache_max_entries_per_role); all three are SUSET.
CREATE ROLE aig_s1;
CREATE ROLE aig_s2;
GRANT USAGE ON SCHEMA public TO aig_s1, aig_s2;
SELECT ai_gateway.grant_provider('ollama', 'aig_s1'), ai_gateway.grant_provider('ollama', 'aig_s2');
SELECT name, setting, context FROM pg_settings
WHERE name IN ('ai_gateway.max_queued_jobs_per_role', 'ai_gateway.job_max_running_per_role',
               'ai_gateway.job_max_request_kb',
               'ai_gateway.cache_max_ttl_s', 'ai_gateway.cache_max_entries_per_role')
ORDER BY name;

-- a caller cannot raise its own limits
SET ROLE aig_s1;
SELECT try($$SET ai_gateway.max_queued_jobs_per_role = 1000000$$);
SELECT try($$SET ai_gateway.job_max_request_kb = 1048576$$);
SELECT try($$SET ai_gateway.cache_max_ttl_s = 31536000$$);
SELECT try($$SET ai_gateway.cache_max_entries_per_role = 1000000$$);
RESET ROLE;

-- queue depth: the (cap + 1)th job of a role is refused, its own
-- uncommitted ones counted; another role is not affected
SET ai_gateway.max_queued_jobs_per_role = 2;
BEGIN;
SET LOCAL ROLE aig_s1;
SELECT ai_complete_async('one', 'ollama/s-queue') > 0 AS first,
       ai_complete_async('two', 'ollama/s-queue') > 0 AS second;
SELECT try($$SELECT ai_complete_async('three', 'ollama/s-queue')$$);
SET LOCAL ROLE aig_s2;
SELECT ai_complete_async('other role', 'ollama/s-queue') > 0 AS other_role;
ROLLBACK;
-- many jobs in one statement (the depth counted once, then carried): still capped
SET ai_gateway.max_queued_jobs_per_role = 3;
BEGIN;
SET LOCAL ROLE aig_s1;
SELECT try($$SELECT count(ai_complete_async('many ' || g, 'ollama/s-queue')) FROM generate_series(1, 5) g$$) AS five;
SELECT count(ai_complete_async('many ' || g, 'ollama/s-queue')) AS three FROM generate_series(1, 3) g;
SELECT try($$SELECT ai_complete_async('fourth', 'ollama/s-queue')$$) AS fourth;
ROLLBACK;
SET ai_gateway.max_queued_jobs_per_role = 0;
SET ROLE aig_s1;
SELECT try1($$SELECT ai_complete_async('none allowed', 'ollama/s-queue')$$);
RESET ROLE;
RESET ai_gateway.max_queued_jobs_per_role;
-- a request larger than ai_gateway.job_max_request_kb is refused (54000)
SET ai_gateway.job_max_request_kb = 1;
SET ROLE aig_s1;
SELECT try($$SELECT ai_complete_async(repeat('x', 2000), 'ollama/s-queue')$$);
RESET ROLE;
RESET ai_gateway.job_max_request_kb;
SELECT count(*) AS queued FROM ai_gateway.jobs WHERE request->>'model' = 'ollama/s-queue';

-- maximum TTL: a call's, a route's and the GUC's TTL are cut to it
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SET ROLE aig_s1;
SELECT ai_complete('a year', 'ollama/s-ttl', NULL, '{"cache": 31536000}') IS NOT NULL AS called;
RESET ROLE;
INSERT INTO ai_gateway.routes (name, options) VALUES ('s_route', '{"cache_ttl_s": 2592000}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('s_route', 'ollama', 's-ttl');
SELECT ai_gateway.grant_route('s_route', 'aig_s1');
SET ROLE aig_s1;
SELECT ai_complete('thirty days', 's_route') IS NOT NULL AS called;
RESET ROLE;
SET ai_gateway.cache_max_ttl_s = 60;
SET ROLE aig_s1;
SELECT ai_complete('an hour', 'ollama/s-ttl', NULL, '{"cache": 3600}') IS NOT NULL AS called;
RESET ROLE;
RESET ai_gateway.cache_max_ttl_s;
SELECT content, expires_at - created_at AS ttl, stored_by::regrole AS stored_by
FROM ai_gateway.cache WHERE model = 's-ttl' ORDER BY content;
-- a hit within the cut TTL still answers
SET ROLE aig_s1;
SELECT (ai_chat('[{"role":"user","content":"a year"}]', 'ollama/s-ttl', '{"cache": 31536000}'))->'cached' AS hit;
RESET ROLE;

-- rows per role: beyond the cap the role's oldest rows go, never an error;
-- another role's rows stay
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SET ROLE aig_s2;
SELECT ai_complete('other role', 'ollama/s-cap', NULL, '{"cache": 600}') IS NOT NULL AS called;
RESET ROLE;
SET ai_gateway.cache_max_entries_per_role = 3;
SET ROLE aig_s1;
SELECT count(ai_complete('cap ' || g, 'ollama/s-cap', NULL, '{"cache": 600}')) AS answered
FROM generate_series(1, 5) g;
RESET ROLE;
SELECT stored_by::regrole AS role, content FROM ai_gateway.cache WHERE model = 's-cap'
ORDER BY role, content;
-- 0: the role stores nothing more, and its calls still succeed
SET ai_gateway.cache_max_entries_per_role = 0;
SET ROLE aig_s1;
SELECT ai_complete('not kept', 'ollama/s-cap', NULL, '{"cache": 600}') IS NOT NULL AS called;
RESET ROLE;
RESET ai_gateway.cache_max_entries_per_role;
SELECT count(*) AS kept FROM ai_gateway.cache WHERE content LIKE '%not kept';

-- clean up
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SELECT ai_gateway.revoke_route('s_route', 'aig_s1');
DELETE FROM ai_gateway.route_targets WHERE route = 's_route';
DELETE FROM ai_gateway.routes WHERE name = 's_route';
SELECT ai_gateway.revoke_provider('ollama', 'aig_s1'), ai_gateway.revoke_provider('ollama', 'aig_s2');
REVOKE USAGE ON SCHEMA public FROM aig_s1, aig_s2;
DROP ROLE aig_s1;
DROP ROLE aig_s2;
