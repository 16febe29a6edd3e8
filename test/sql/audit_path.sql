-- audit_path: the audit path is never blocked by one record (issue 13,
-- defects 2 and 3): cut values stay valid JSON and text; a record the
-- database refuses is set aside (audit_rejects, audit_stats) and the
-- others are written.  Refusals (grant, quota, rate limit, deny pattern)
-- are audited, a flood of them is bounded.  Identity (defect 11): quotas
-- and the audit log follow the session's login role as well as SET ROLE.
SELECT ai_gateway.audit_flush() AS flushed;
CREATE TEMP TABLE stats0 AS SELECT * FROM ai_gateway.audit_stats();

------------------------------------------------------------------------------
-- metadata of 100 kB, a prompt of 70 kB with log_prompts: valid rows
------------------------------------------------------------------------------
SELECT ai_complete('x', 'ollama/ap-meta', NULL,
    jsonb_build_object('metadata', jsonb_build_object('blob', repeat('é"\', 34000)))) IS NOT NULL AS big_metadata_ok;
SET ai_gateway.log_prompts = on;
SELECT ai_complete(repeat('ü"\' || chr(10), 18000), 'ollama/ap-prompt') IS NOT NULL AS big_prompt_ok;
RESET ai_gateway.log_prompts;
SELECT ai_complete('after', 'ollama/ap-after') IS NOT NULL AS later_ok;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT model, status,
       metadata->>'truncated' AS meta_cut, (metadata->>'bytes')::int > 100000 AS meta_bytes,
       length(metadata->>'head') > 1000 AS meta_head,
       octet_length(metadata::text) <= 8192 + 200 AS meta_bounded,
       prompt->>'truncated' AS prompt_cut, (prompt->>'bytes')::int > 70000 AS prompt_bytes,
       left(prompt->>'head', 30) AS prompt_head
FROM ai_gateway.audit_log WHERE model LIKE 'ap-%' ORDER BY id;
SELECT set_aside - (SELECT set_aside FROM stats0) AS set_aside FROM ai_gateway.audit_stats();

------------------------------------------------------------------------------
-- a record the database refuses (an administrator's hostile trigger) is set
-- aside, counted and kept in audit_rejects; the others are written
------------------------------------------------------------------------------
CREATE FUNCTION public.ap_hostile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.metadata->>'marker' = 'poison' THEN
        RAISE EXCEPTION 'audit row refused by a trigger';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ap_hostile BEFORE INSERT ON ai_gateway.audit_log
    FOR EACH ROW EXECUTE FUNCTION public.ap_hostile();
SELECT ai_complete('x', 'ollama/ap-t1', NULL, '{"metadata": {"marker": "fine"}}') IS NOT NULL AS t1;
SELECT ai_complete('x', 'ollama/ap-t2', NULL, '{"metadata": {"marker": "poison"}}') IS NOT NULL AS t2;
SELECT ai_complete('x', 'ollama/ap-t3', NULL, '{"metadata": {"marker": "fine"}}') IS NOT NULL AS t3;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT model FROM ai_gateway.audit_log WHERE model LIKE 'ap-t%' ORDER BY id;
SELECT set_aside - (SELECT set_aside FROM stats0) AS set_aside,
       set_aside_lost - (SELECT set_aside_lost FROM stats0) AS lost,
       last_set_aside FROM ai_gateway.audit_stats();
SELECT role, session_role, sqlstate, error, record::jsonb->>'model' AS model,
       record::jsonb->>'metadata' AS metadata
FROM ai_gateway.audit_rejects;
-- later calls are written as usual
SELECT ai_complete('x', 'ollama/ap-t4') IS NOT NULL AS t4;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) AS t4_rows FROM ai_gateway.audit_log WHERE model = 'ap-t4';
DROP TRIGGER ap_hostile ON ai_gateway.audit_log;
-- a deferred constraint trigger cannot hold the writer's commit either
CREATE CONSTRAINT TRIGGER ap_hostile_late AFTER INSERT ON ai_gateway.audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.ap_hostile();
SELECT ai_complete('x', 'ollama/ap-d1', NULL, '{"metadata": {"marker": "poison"}}') IS NOT NULL AS d1;
SELECT ai_complete('x', 'ollama/ap-d2') IS NOT NULL AS d2;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT model FROM ai_gateway.audit_log WHERE model LIKE 'ap-d%' ORDER BY id;
DROP TRIGGER ap_hostile_late ON ai_gateway.audit_log;
DROP FUNCTION public.ap_hostile();
-- audit_rejects and the last error are for administrators only
CREATE ROLE ap_user;
SET ROLE ap_user;
SELECT try('SELECT count(*) FROM ai_gateway.audit_rejects') AS rejects_for_user;
SELECT last_set_aside IS NULL AS hidden FROM ai_gateway.audit_stats();
RESET ROLE;
SELECT * INTO TEMP stats1 FROM ai_gateway.audit_stats();

------------------------------------------------------------------------------
-- refusals are audited: grant, quota, rate limit, deny pattern
------------------------------------------------------------------------------
INSERT INTO ai_gateway.routes (name, options) VALUES ('ap_route', '{"deny_patterns": ["forbidden"]}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('ap_route', 'ollama', 'ap-r');
GRANT USAGE ON SCHEMA public TO ap_user;
SET ROLE ap_user;
SELECT try1($$SELECT ai_complete('hi', 'ap_route')$$) AS no_grant;
SELECT try1($$SELECT ai_complete('hi', 'ollama/ap-direct', NULL, '{"metadata": {"why": "probe"}}')$$) AS no_provider_grant;
RESET ROLE;
SELECT ai_gateway.grant_route('ap_route', 'ap_user');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('ap_user', 'month', 1);
SET ROLE ap_user;
SELECT try1($$SELECT ai_complete('this is forbidden', 'ap_route')$$) AS denied;
SELECT ai_complete('hi', 'ap_route') IS NOT NULL AS within_quota;
SELECT try1($$SELECT ai_complete('hi', 'ap_route')$$) AS over_quota;
SELECT try1($$SELECT ai_embed('hi', 'ap_route')$$) AS embed_over_quota;
RESET ROLE;
DELETE FROM ai_gateway.quotas WHERE role = 'ap_user';
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('ap_user', 1);
SET ai_gateway.rate_limit_wait_ms = 0;
SET ROLE ap_user;
SELECT ai_complete('hi', 'ap_route') IS NOT NULL AS within_rate;
SELECT try1($$SELECT ai_complete('hi', 'ap_route')$$) AS over_rate;
RESET ROLE;
RESET ai_gateway.rate_limit_wait_ms;
DELETE FROM ai_gateway.rate_limits WHERE role = 'ap_user';
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, session_role, route, provider, model, status, sqlstate, http_status, attempts,
       input_tokens, output_tokens, cost_usd, left(error, 45) AS error, metadata
FROM ai_gateway.audit_log WHERE role = 'ap_user' ORDER BY id;
-- the refused caller sees its own refusals
SET ROLE ap_user;
SELECT count(*) FILTER (WHERE status = 'denied') AS own_refusals FROM ai_gateway.audit_log;
RESET ROLE;

------------------------------------------------------------------------------
-- identity: a login role's quota holds after SET ROLE to a group without
-- one, and inside a SECURITY DEFINER function; audit rows show both roles
------------------------------------------------------------------------------
CREATE ROLE ap_login LOGIN;
CREATE ROLE ap_group;
GRANT ap_group TO ap_login;
GRANT USAGE ON SCHEMA public TO ap_login, ap_group;
INSERT INTO ai_gateway.routes (name) VALUES ('ap_id');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('ap_id', 'ollama', 'ap-id');
SELECT ai_gateway.grant_route('ap_id', 'ap_login');
SELECT ai_gateway.grant_route('ap_id', 'ap_group');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('ap_login', 'month', 2);
SET SESSION AUTHORIZATION ap_login;
SELECT session_user, current_user;
SELECT ai_complete('one', 'ap_id') IS NOT NULL AS call_1;
SET ROLE ap_group;
SELECT session_user, current_user;
SELECT ai_complete('two', 'ap_id') IS NOT NULL AS call_2;
SELECT regexp_replace(try('SELECT ai_complete(''three'', ''ap_id'')'), 'resets at .*', 'resets at <time>') AS call_3;
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT role, requests, max_requests FROM ai_gateway.usage WHERE role = 'ap_login';
-- a SECURITY DEFINER function runs as its owner: the login role's quota still holds
CREATE ROLE ap_owner;
GRANT USAGE ON SCHEMA public TO ap_owner;
SELECT ai_gateway.grant_route('ap_id', 'ap_owner');
CREATE FUNCTION public.ap_definer(p text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog AS $$ SELECT public.ai_complete(p, 'ap_id') $$;
ALTER FUNCTION public.ap_definer(text) OWNER TO ap_owner;
SET SESSION AUTHORIZATION ap_login;
SELECT split_part(try('SELECT public.ap_definer(''four'')'), E'\n', 1) AS definer_call;
RESET SESSION AUTHORIZATION;
DELETE FROM ai_gateway.quotas WHERE role = 'ap_login';
SET SESSION AUTHORIZATION ap_login;
SELECT public.ap_definer('five') IS NOT NULL AS definer_call_without_quota;
RESET SESSION AUTHORIZATION;
-- an async job queued after SET ROLE is held to the login role's quota too
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('ap_login', 'month', 3);
SET SESSION AUTHORIZATION ap_login;
SET ROLE ap_group;
-- queued together (the worker sees neither before the commit), so both pass
-- the enqueue-time quota check and the quota decides when they run
BEGIN;
SELECT ai_complete_async('six', 'ap_id') AS job6 \gset
SELECT ai_complete_async('seven', 'ap_id') AS job7 \gset
COMMIT;
RESET ROLE;
RESET SESSION AUTHORIZATION;
-- the two may run in either order: one within the quota, one refused
SELECT r->>'status' AS status, left(r->>'error', 61) AS error
FROM (VALUES (ai_result(:job6, 10000)), (ai_result(:job7, 10000))) v(r) ORDER BY 1;
SELECT role, requests, max_requests FROM ai_gateway.usage WHERE role = 'ap_login';
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, session_role, status, sqlstate FROM ai_gateway.audit_log WHERE route = 'ap_id'
ORDER BY role, status, id;

------------------------------------------------------------------------------
-- a flood of refusals is bounded: ai_gateway.audit_refusals_per_second
------------------------------------------------------------------------------
SET ai_gateway.audit_refusals_per_second = 3;
SELECT ai_gateway.revoke_route('ap_route', 'ap_user');
SELECT ai_gateway.audit_flush() AS flushed;
SELECT max(id) AS id INTO TEMP before_flood FROM ai_gateway.audit_log;
SELECT pg_sleep(1.1);	-- the session's bucket is full again
SET ROLE ap_user;
DO $$ BEGIN
    FOR i IN 1..50 LOOP
        BEGIN
            PERFORM ai_complete('hi', 'ap_route');
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
    END LOOP;
END $$;
RESET ROLE;
SELECT ai_gateway.audit_flush() AS flushed;
-- 3 at once, then 3 a second: a few of the 50
SELECT count(*) BETWEEN 3 AND 6 AS few_recorded FROM ai_gateway.audit_log
WHERE id > (SELECT id FROM before_flood) AND role = 'ap_user' AND status = 'denied';
SELECT refusals_suppressed - (SELECT refusals_suppressed FROM stats1) >= 44 AS suppressed_counted
FROM ai_gateway.audit_stats();
-- the session's next recorded denial says how many were not
SELECT pg_sleep(1.1);
SET ROLE ap_user;
SELECT try1($$SELECT ai_complete('hi', 'ap_route')$$) AS after_flood;
RESET ROLE;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT regexp_replace(error, '\d+', 'N') AS error FROM ai_gateway.audit_log
WHERE role = 'ap_user' ORDER BY id DESC LIMIT 1;
RESET ai_gateway.audit_refusals_per_second;

------------------------------------------------------------------------------
-- clean up
------------------------------------------------------------------------------
DROP FUNCTION public.ap_definer(text);
DELETE FROM ai_gateway.route_grants WHERE route IN ('ap_route', 'ap_id');
DELETE FROM ai_gateway.provider_grants WHERE grantee IN ('ap_user', 'ap_login', 'ap_group', 'ap_owner');
DELETE FROM ai_gateway.routes WHERE name IN ('ap_route', 'ap_id');
DELETE FROM ai_gateway.audit_rejects;
REVOKE USAGE ON SCHEMA public FROM ap_user, ap_login, ap_group, ap_owner;
DROP ROLE ap_user, ap_login, ap_group, ap_owner;
