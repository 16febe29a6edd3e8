-- pipeline: one route policy — deny pattern, PII redaction, request hook,
-- response hook, a target limited to a role — applied the same way on every
-- path a call can take: ai_complete / ai_chat, a batch item, an async job,
-- an answer from the response cache, and a pinned route version.
--
-- The targets are "echo" models: the answer is the request the provider
-- received.  The response hook wraps it as {"via": target, "echo": ...}, so
-- pl_seen() shows in one line which target answered and what it saw; an
-- answer without the wrapper shows "no response hook".
CREATE ROLE pl_vip;
CREATE ROLE pl_vip_user IN ROLE pl_vip;
CREATE ROLE pl_user;
GRANT USAGE ON SCHEMA public TO pl_vip_user, pl_user;
CREATE FUNCTION pl_mark(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(req, '{messages}',
        (SELECT jsonb_agg(jsonb_set(m, '{content}', to_jsonb((m->>'content') || ' (req-hook)')))
           FROM jsonb_array_elements(req->'messages') m))
$$;
CREATE FUNCTION pl_wrap(res jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT res || jsonb_build_object('content',
        jsonb_build_object('via', res->>'target', 'echo', (res->>'content')::jsonb)::text)
$$;
CREATE FUNCTION pl_seen(answer text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN a ? 'via' THEN (a->>'via') || ' saw: ' ||
        (SELECT string_agg(m->>'content', ' | ') FROM jsonb_array_elements(a->'echo'->'body'->'messages') m)
        ELSE 'no response hook: ' || left(answer, 40) END
    FROM (SELECT answer::jsonb AS a) s
$$;
\set policy '{"deny_patterns": ["forbidden"], "redact_pii": true, "request_hook": "pl_mark", "response_hook": "pl_wrap", "cache_scope": "global"}'
INSERT INTO ai_gateway.routes (name, options) VALUES ('p_pol', :'policy');
-- the role-limited target first; everyone else falls through to openai/echo
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, role) VALUES
    ('p_pol', 'compat', 'echo', 1, 'pl_vip'), ('p_pol', 'openai', 'echo', 2, NULL);
INSERT INTO ai_gateway.routes (name) VALUES ('p_only');
INSERT INTO ai_gateway.route_targets (route, provider, model, role) VALUES ('p_only', 'compat', 'echo', 'pl_vip');
SELECT ai_gateway.grant_route('p_pol', 'public'), ai_gateway.grant_route('p_only', 'public');

------------------------------------------------------------------------------
-- a synchronous call: ai_complete and ai_chat
------------------------------------------------------------------------------
SET ROLE pl_user;
SELECT pl_seen(ai_complete('Mail jane@example.com now', 'p_pol')) AS user_complete;
SELECT pl_seen(ai_chat('[{"role":"user","content":"Mail jane@example.com now"}]', 'p_pol')->>'content') AS user_chat;
SELECT try($$SELECT ai_complete('a forbidden prompt', 'p_pol')$$) AS user_denied;
SELECT try($$SELECT ai_chat('[{"role":"user","content":"a forbidden prompt"}]', 'p_pol')$$) AS chat_denied;
SELECT try1($$SELECT ai_complete('x', 'p_only')$$) AS role_limited;
SET ROLE pl_vip_user;
SELECT pl_seen(ai_complete('Mail jane@example.com now', 'p_pol')) AS vip_complete;
RESET ROLE;

------------------------------------------------------------------------------
-- a batch item (the response hook now runs per item)
------------------------------------------------------------------------------
SET ROLE pl_user;
SELECT ordinality, pl_seen(completion) AS seen, error
FROM ai_complete_batch(array['Mail jane@example.com now', 'a forbidden prompt', NULL], 'p_pol');
SELECT ordinality, completion, split_part(error, ':', 1) AS error
FROM ai_complete_batch(array['x'], 'p_only');
SET ROLE pl_vip_user;
SELECT ordinality, pl_seen(completion) AS seen, error
FROM ai_complete_batch(array['Mail jane@example.com now'], 'p_pol');
RESET ROLE;

------------------------------------------------------------------------------
-- an async job: run by the job worker as the role that queued it
------------------------------------------------------------------------------
SET ROLE pl_user;
SELECT ai_complete_async('Mail jane@example.com now', 'p_pol') AS job_ok \gset
SELECT ai_complete_async('a forbidden prompt', 'p_pol') AS job_denied \gset
SELECT ai_complete_async('x', 'p_only') AS job_limited \gset
SELECT r->>'status' AS status, r->'attempts' AS attempts, pl_seen(r->'result'->>'content') AS seen
FROM ai_result(:job_ok, 15000) r;
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->>'error' AS error
FROM ai_result(:job_denied, 15000) r;
SELECT r->>'status' AS status, r->'attempts' AS attempts, split_part(r->>'error', ':', 1) AS error
FROM ai_result(:job_limited, 15000) r;
SET ROLE pl_vip_user;
SELECT ai_complete_async('Mail jane@example.com now', 'p_pol') AS job_vip \gset
SELECT r->>'status' AS status, pl_seen(r->'result'->>'content') AS seen
FROM ai_result(:job_vip, 15000) r;
RESET ROLE;

------------------------------------------------------------------------------
-- a cached answer: the same stages run on a hit (the cache is global here)
------------------------------------------------------------------------------
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
\set msgs '[{"role":"user","content":"Cache jane@example.com"}]'
SET ROLE pl_vip_user;
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pol', '{"cache": true}') r;
-- hit: hooked (request hook: same key; response hook: wrapped once), redacted
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pol', '{"cache": true}') r;
SELECT pl_seen(ai_complete('Cache jane@example.com', 'p_pol', NULL, '{"cache": true}')) AS complete_hit;
-- another role: the cached answer came from a target it may not use
SET ROLE pl_user;
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pol', '{"cache": true}') r;
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pol', '{"cache": true}') r;
-- a batch item and an async job hit the cache through the same stages
SELECT ordinality, pl_seen(completion) AS seen, error
FROM ai_complete_batch(array['Cache jane@example.com', 'forbidden, cached or not'], 'p_pol', NULL, '{"cache": true}');
SELECT ai_complete_async('Cache jane@example.com', 'p_pol', NULL, '{"cache": true}') AS job_hit \gset
SELECT r->>'status' AS status, r->'result'->'cached' AS cached, pl_seen(r->'result'->>'content') AS seen
FROM ai_result(:job_hit, 15000) r;
SELECT try($$SELECT ai_complete('forbidden, cached or not', 'p_pol', NULL, '{"cache": true}')$$) AS denied_again;
RESET ROLE;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) FILTER (WHERE cache_hit) AS audited_hits
FROM ai_gateway.audit_log WHERE route = 'p_pol' AND role IN ('pl_user', 'pl_vip_user');

------------------------------------------------------------------------------
-- a pinned version: version 1 predates the policy and the role limit
------------------------------------------------------------------------------
BEGIN;
INSERT INTO ai_gateway.routes (name) VALUES ('p_pin');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('p_pin', 'compat', 'echo', 1), ('p_pin', 'openai', 'echo', 2);
COMMIT;
BEGIN;
UPDATE ai_gateway.routes SET options = :'policy' WHERE name = 'p_pin';
UPDATE ai_gateway.route_targets SET role = 'pl_vip' WHERE route = 'p_pin' AND provider = 'compat';
COMMIT;
SELECT version, options ? 'deny_patterns' AS has_policy, targets->0->>'role' AS first_target_role
FROM ai_gateway.route_versions WHERE route = 'p_pin' ORDER BY version;
SELECT ai_gateway.grant_route('p_pin', 'public');
SET ROLE pl_user;
SELECT pl_seen(ai_complete('Mail jane@example.com now', 'p_pin@1')) AS pinned_complete;
SELECT try($$SELECT ai_complete('a forbidden prompt', 'p_pin@1')$$) AS pinned_denied;
SELECT ordinality, pl_seen(completion) AS seen, error
FROM ai_complete_batch(array['Mail jane@example.com now', 'a forbidden prompt'], 'p_pin@1');
SELECT ai_complete_async('Mail jane@example.com now', 'p_pin@1') AS job_pin \gset
SELECT ai_complete_async('a forbidden prompt', 'p_pin@1') AS job_pin_denied \gset
SELECT r->>'status' AS status, pl_seen(r->'result'->>'content') AS seen
FROM ai_result(:job_pin, 15000) r;
SELECT r->>'status' AS status, r->>'error' AS error FROM ai_result(:job_pin_denied, 15000) r;
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pin@1', '{"cache": true}') r;
SELECT r->'cached' AS cached, pl_seen(r->>'content') AS seen
FROM ai_chat(:'msgs', 'p_pin@1', '{"cache": true}') r;
-- explain_route shows the pinned version as a call sees it
SELECT rank, provider, model, reason FROM ai_gateway.explain_route('p_pin@1') ORDER BY rank NULLS LAST, provider;
SET ROLE pl_vip_user;
SELECT pl_seen(ai_complete('Mail jane@example.com now', 'p_pin@1')) AS pinned_vip;
RESET ROLE;

------------------------------------------------------------------------------
-- a refused call stops where it is refused: no grant, no hook at all; over a
-- quota, no hook either; blocked by policy, no response hook
------------------------------------------------------------------------------
CREATE ROLE pl_quota;
GRANT USAGE ON SCHEMA public TO pl_quota;
CREATE SEQUENCE pl_req_calls;
CREATE SEQUENCE pl_resp_calls;
GRANT USAGE, SELECT ON SEQUENCE pl_req_calls, pl_resp_calls TO pl_user, pl_quota;
CREATE FUNCTION pl_count_req(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT req || jsonb_build_object('n', nextval('pl_req_calls'))
$$;
CREATE FUNCTION pl_count_resp(res jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT res || jsonb_build_object('n', nextval('pl_resp_calls'))
$$;
CREATE FUNCTION pl_hooks_run() RETURNS text LANGUAGE sql AS $$
    SELECT 'request hook ' || (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pl_req_calls)
        || ', response hook ' || (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pl_resp_calls)
$$;
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('p_cnt', '{"deny_patterns": ["forbidden"], "request_hook": "pl_count_req", "response_hook": "pl_count_resp"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('p_cnt', 'openai', 'm');
SELECT ai_gateway.grant_route('p_cnt', 'pl_quota');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('pl_quota', 'day', 1);
SET ROLE pl_user;
SELECT try1($$SELECT ai_complete('hello', 'p_cnt')$$) AS no_grant, pl_hooks_run();
SET ROLE pl_quota;
SELECT try1($$SELECT ai_complete('a forbidden prompt', 'p_cnt')$$) AS denied, pl_hooks_run();
SELECT ai_complete('hello', 'p_cnt') AS answered, pl_hooks_run();
SELECT try1($$SELECT ai_complete('hello again', 'p_cnt')$$) AS over_quota, pl_hooks_run();
SELECT ordinality, completion, error, pl_hooks_run()
FROM ai_complete_batch(array['in a batch'], 'p_cnt');
RESET ROLE;
DELETE FROM ai_gateway.quotas WHERE role = 'pl_quota';
SELECT ai_gateway.revoke_route('p_cnt', 'pl_quota');

------------------------------------------------------------------------------
-- reversible redaction: the caller gets the values back on every path (the
-- provider's view is the echo above; here the "m" model repeats the prompt)
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name, options) VALUES ('p_rev', '{"redact_pii": "reversible", "request_hook": "pl_mark"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('p_rev', 'openai', 'm');
SELECT ai_gateway.grant_route('p_rev', 'public');
SET ROLE pl_user;
SELECT ai_complete('Mail jane@example.com', 'p_rev') AS sync_values_back;
SELECT completion AS batch_values_back FROM ai_complete_batch(array['Mail jane@example.com'], 'p_rev');
SELECT ai_complete_async('Mail jane@example.com', 'p_rev') AS job_rev \gset
SELECT r->'result'->>'content' AS job_values_back FROM ai_result(:job_rev, 15000) r;
RESET ROLE;

------------------------------------------------------------------------------
-- one job's refusal ends that job only: a grant revoked while two roles'
-- jobs wait; the other role's job runs once and succeeds
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name) VALUES ('p_jobs');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('p_jobs', 'openai', 'm');
SELECT ai_gateway.grant_route('p_jobs', 'pl_user'), ai_gateway.grant_route('p_jobs', 'pl_vip_user');
BEGIN;
SET LOCAL ROLE pl_user;
SELECT ai_complete_async('from a revoked role', 'p_jobs') AS job_revoked \gset
RESET ROLE;
SET LOCAL ROLE pl_vip_user;
SELECT ai_complete_async('from a granted role', 'p_jobs') AS job_kept \gset
RESET ROLE;
SELECT ai_gateway.revoke_route('p_jobs', 'pl_user');
COMMIT;
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->>'error' AS error
FROM ai_result(:job_revoked, 15000) r;
SELECT r->>'status' AS status, r->'attempts' AS attempts, r->'result'->>'content' AS content
FROM ai_result(:job_kept, 15000) r;
-- a job queued without a model runs the caller's default route, resolved at
-- enqueue (the job worker has none)
SET ai_gateway.default_route = 'p_jobs';
SET ROLE pl_vip_user;
SELECT ai_complete_async('with the session''s default route') AS job_default \gset
RESET ROLE;
RESET ai_gateway.default_route;
SELECT r->>'status' AS status, r->'result'->>'route' AS route, r->'result'->>'content' AS content
FROM ai_result(:job_default, 15000) r;
SELECT ai_gateway.revoke_route('p_jobs', 'pl_vip_user');

------------------------------------------------------------------------------
-- a refused call takes no shared state: 20 direct calls without a provider
-- grant leave no breaker or statistics entry for their models
------------------------------------------------------------------------------
SET ROLE pl_user;
SELECT count(*) FILTER (WHERE try1(format($f$SELECT ai_complete('x', 'openai/pl_junk_%s')$f$, g))
                        LIKE '%permission denied for provider "openai"%') AS refused
FROM generate_series(1, 20) g;
RESET ROLE;
SELECT count(*) AS junk_targets FROM ai_gateway.health() WHERE model LIKE 'pl_junk%';
SELECT count(*) AS junk_stats FROM ai_gateway.stats WHERE model LIKE 'pl_junk%';

------------------------------------------------------------------------------
-- a prompt echoed in a provider's error stays out of health() for other
-- non-administrators (administrators see the whole text)
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name) VALUES ('p_err');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('p_err', 'openai', 'pl_err+status=500+echo_prompt');
SELECT ai_gateway.grant_route('p_err', 'pl_user');
SET ROLE pl_user;
SELECT try1($$SELECT ai_complete('my secret plan', 'p_err')$$) AS own_error;
SET ROLE pl_vip_user;
SELECT last_error FROM ai_gateway.health() WHERE model LIKE 'pl_err%';
RESET ROLE;
SELECT last_error LIKE '%my secret plan%' AS admin_sees_it FROM ai_gateway.health() WHERE model LIKE 'pl_err%';
SELECT ai_gateway.revoke_route('p_err', 'pl_user');

-- clean up
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
SELECT ai_gateway.revoke_route(r, 'public') FROM unnest(array['p_pol', 'p_only', 'p_pin', 'p_rev']) r;
DELETE FROM ai_gateway.route_targets WHERE route IN ('p_pol', 'p_only', 'p_pin', 'p_rev', 'p_cnt', 'p_jobs', 'p_err');
DELETE FROM ai_gateway.routes WHERE name IN ('p_pol', 'p_only', 'p_pin', 'p_rev', 'p_cnt', 'p_jobs', 'p_err');
DELETE FROM ai_gateway.jobs WHERE role IN ('pl_user', 'pl_vip_user');
REVOKE USAGE, SELECT ON SEQUENCE pl_req_calls, pl_resp_calls FROM pl_user, pl_quota;
REVOKE USAGE ON SCHEMA public FROM pl_vip_user, pl_user, pl_quota;
DROP FUNCTION pl_mark(jsonb), pl_wrap(jsonb), pl_seen(text), pl_count_req(jsonb), pl_count_resp(jsonb), pl_hooks_run();
DROP SEQUENCE pl_req_calls, pl_resp_calls;
DROP ROLE pl_vip_user, pl_user, pl_vip, pl_quota;
