-- hooks_security: a route's hooks run with the rights of the role that
-- configured them (routes.hook_owner, recorded by a trigger from the writing
-- role, never forged), as a security-restricted operation with a pinned
-- search_path, and every setting they change is undone — never with the
-- rights of whoever calls the route (issue 13, defect 7).
SELECT current_user AS su \gset
CREATE ROLE hs_admin IN ROLE ai_gateway_admin;     -- a gateway admin, not a superuser
CREATE ROLE hs_user;
CREATE ROLE hs_other;
CREATE SCHEMA hs AUTHORIZATION hs_admin;
GRANT USAGE ON SCHEMA hs TO hs_user, hs_other;
CREATE SCHEMA hs_shared;
GRANT USAGE, CREATE ON SCHEMA hs_shared TO hs_admin, hs_other;
CREATE TABLE hs.seen (n serial, who text, sess_is_caller boolean, what text);
ALTER TABLE hs.seen OWNER TO hs_admin;
ALTER SEQUENCE hs.seen_n_seq OWNER TO hs_admin;

------------------------------------------------------------------------------
-- the escalation of defect 7: an admin's hook tries to make it superuser
------------------------------------------------------------------------------
SET ROLE hs_admin;
CREATE FUNCTION hs.escalate(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hs.seen (who, sess_is_caller, what)
    VALUES (current_user, session_user <> 'hs_admin', 'request hook for ' || (req->>'role'));
    BEGIN
        EXECUTE format('ALTER ROLE %I SUPERUSER', current_user);
        INSERT INTO hs.seen (who, what) VALUES (current_user, 'ALTER ROLE SUPERUSER worked');
    EXCEPTION WHEN insufficient_privilege THEN
        -- the SQLSTATE only: the message's wording differs by server version
        INSERT INTO hs.seen (who, what) VALUES (current_user, 'refused: ' || SQLSTATE);
    END;
    RETURN req;
END $$;
CREATE FUNCTION hs.note_response(res jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hs.seen (who, what) VALUES (current_user, 'response hook');
    RETURN res;
END $$;
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('hs_r', '{"request_hook": "hs.escalate", "response_hook": "hs.note_response"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('hs_r', 'ollama', 'm');
SELECT ai_gateway.grant_route('hs_r', 'public');
-- the trigger records the writer; naming another role does not stick
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';
UPDATE ai_gateway.routes SET hook_owner = :'su' WHERE name = 'hs_r';
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';
INSERT INTO ai_gateway.routes (name, options, hook_owner) VALUES
    ('hs_forged', '{"request_hook": "hs.escalate"}', :'su');
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_forged';
DELETE FROM ai_gateway.routes WHERE name = 'hs_forged';
RESET ROLE;

-- a superuser calls the route: the hooks run as hs_admin, which stays an admin
-- (the document names the caller)
SELECT ai_complete('hi', 'hs_r') AS superuser_call;
SELECT who, sess_is_caller, replace(what, :'su', '<superuser>') AS what FROM hs.seen ORDER BY n;
SELECT rolsuper AS hs_admin_is_superuser FROM pg_roles WHERE rolname = 'hs_admin';
-- so does an ordinary caller, which needs no EXECUTE on the hook
REVOKE EXECUTE ON FUNCTION hs.escalate(jsonb), hs.note_response(jsonb) FROM PUBLIC;
TRUNCATE hs.seen;
SET ROLE hs_user;
SELECT ai_complete('hi', 'hs_r') AS user_call;
RESET ROLE;
SELECT who, what FROM hs.seen ORDER BY n;
-- an asynchronous job: the same
TRUNCATE hs.seen;
SET ROLE hs_user;
SELECT ai_complete_async('later', 'hs_r') AS job \gset
RESET ROLE;
SELECT r->>'status' AS job_status FROM ai_result(:job, 15000) r;
SELECT who, what FROM hs.seen ORDER BY n;
-- another admin's unrelated change keeps the owner; the version records it
UPDATE ai_gateway.routes SET description = 'changed by a superuser' WHERE name = 'hs_r';
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';
SELECT version, hook_owner FROM ai_gateway.route_versions WHERE route = 'hs_r' ORDER BY version;
-- a hook that fails the privilege check fails the call, cleanly
SET ROLE hs_admin;
CREATE OR REPLACE FUNCTION hs.escalate(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER ROLE %I SUPERUSER', current_user);
    RETURN req;
END $$;
RESET ROLE;
SELECT split_part(try1($$SELECT ai_complete('hi', 'hs_r')$$), ':', 1) AS escalation_fails;
SELECT rolsuper AS hs_admin_is_superuser FROM pg_roles WHERE rolname = 'hs_admin';

------------------------------------------------------------------------------
-- a security-restricted operation: no temporary objects, no SET ROLE, and
-- every setting the hook changes is undone when it returns or fails
------------------------------------------------------------------------------
SET ROLE hs_admin;
CREATE OR REPLACE FUNCTION hs.escalate(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('work_mem', '1234kB', false);
    PERFORM set_config('hs.flag', 'leaked', false);
    SET statement_timeout = '1s';
    INSERT INTO hs.seen (who, what) VALUES (current_user, 'search_path ' || current_setting('search_path'));
    IF req->'messages'->0->>'content' = 'temp' THEN
        CREATE TEMP TABLE hs_tmp (x int);
    ELSIF req->'messages'->0->>'content' = 'role' THEN
        SET ROLE hs_user;
    ELSIF req->'messages'->0->>'content' = 'fail' THEN
        RAISE EXCEPTION 'hook failed on purpose';
    END IF;
    RETURN req;
END $$;
RESET ROLE;
TRUNCATE hs.seen;
SELECT ai_complete('settings', 'hs_r') AS call_ok;
SELECT current_setting('work_mem') AS work_mem, current_setting('statement_timeout') AS statement_timeout,
       coalesce(current_setting('hs.flag', true), '') <> 'leaked' AS flag_not_leaked,
       current_user = :'su' AS still_superuser;
SELECT try1($$SELECT ai_complete('fail', 'hs_r')$$) AS hook_error;
SELECT current_setting('work_mem') AS work_mem_after_error,
       coalesce(current_setting('hs.flag', true), '') <> 'leaked' AS flag_not_leaked,
       current_user = :'su' AS still_superuser;
SELECT try1($$SELECT ai_complete('temp', 'hs_r')$$) AS temp_table;
SELECT try1($$SELECT ai_complete('role', 'hs_r')$$) AS set_role;
-- a PL/pgSQL caller that catches the hook's error goes on as itself
DO $$
BEGIN
    PERFORM ai_complete('fail', 'hs_r');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'caught "%", now running as superuser: %', SQLERRM,
        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
END $$;
SELECT current_setting('work_mem') AS work_mem_after_catch;
-- the caller's search_path does not reach the hook: it sees a fixed path
CREATE SCHEMA hs_caller AUTHORIZATION hs_user;
SET ROLE hs_user;
SET search_path = hs_caller, public;
SELECT ai_complete('settings', 'hs_r') IS NOT NULL AS call_ok;
RESET search_path;
RESET ROLE;
SELECT DISTINCT what FROM hs.seen WHERE what LIKE 'search_path%';

------------------------------------------------------------------------------
-- the hook's owner: EXECUTE needed, the function must be the owner's (or a
-- superuser's), and a dropped owner refuses the hook until it is set again
------------------------------------------------------------------------------
CREATE FUNCTION public.hs_su_only(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
REVOKE EXECUTE ON FUNCTION public.hs_su_only(jsonb) FROM PUBLIC;
SET ROLE hs_admin;
UPDATE ai_gateway.routes SET options = '{"request_hook": "public.hs_su_only"}' WHERE name = 'hs_r';
RESET ROLE;
SELECT try($$SELECT ai_complete('hi', 'hs_r')$$) AS owner_lacks_execute;
-- a function dropped and created again by another role does not run as the owner
SET ROLE hs_admin;
CREATE FUNCTION hs_shared.swap(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
UPDATE ai_gateway.routes SET options = '{"request_hook": "hs_shared.swap"}' WHERE name = 'hs_r';
RESET ROLE;
SELECT ai_complete('hi', 'hs_r') AS own_function;
SET ROLE hs_admin;
DROP FUNCTION hs_shared.swap(jsonb);
SET ROLE hs_other;
CREATE FUNCTION hs_shared.swap(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
RESET ROLE;
SELECT try($$SELECT ai_complete('hi', 'hs_r')$$) AS replaced_function;
-- the configuring role is dropped: refused, with the way out in the hint
CREATE FUNCTION public.hs_open(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
CREATE ROLE hs_gone IN ROLE ai_gateway_admin;
SET ROLE hs_gone;
UPDATE ai_gateway.routes SET options = '{"request_hook": "public.hs_open"}', hook_owner = NULL
WHERE name = 'hs_r';
RESET ROLE;
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';
DROP ROLE hs_gone;
SELECT try($$SELECT ai_complete('hi', 'hs_r')$$) AS owner_dropped;
-- (changing the hooks records the writer, not the dropped role)
BEGIN;
SET LOCAL ROLE hs_admin;
UPDATE ai_gateway.routes SET options = '{"request_hook": "public.hs_open", "response_hook": "public.hs_open"}'
WHERE name = 'hs_r';
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';
ROLLBACK;
UPDATE ai_gateway.routes SET hook_owner = NULL WHERE name = 'hs_r';
SELECT hook_owner = :'su'::regrole AS superuser_owns_now, ai_complete('hi', 'hs_r') AS works_again
FROM ai_gateway.routes WHERE name = 'hs_r';
-- route_versions is the administrators' to write: a version's recorded
-- hook_owner is never trusted (a pinned version runs the current route's
-- hooks as their owner; with no current route, its hooks are refused)
SET ROLE hs_admin;
INSERT INTO ai_gateway.route_versions (route, version, strategy, options, targets, hook_owner)
VALUES ('hs_deleted', 1, 'fallback', '{"request_hook": "hs.escalate"}',
        '[{"provider": "ollama", "model": "m", "priority": 0, "weight": 1, "shadow": false, "role": null}]',
        :'su');
SELECT try1($$SELECT ai_complete('hi', 'hs_deleted@1')$$) AS forged_version;
RESET ROLE;
SELECT rolsuper AS hs_admin_is_superuser FROM pg_roles WHERE rolname = 'hs_admin';
DELETE FROM ai_gateway.route_versions WHERE route = 'hs_deleted';
-- no hook, no owner
UPDATE ai_gateway.routes SET options = '{}' WHERE name = 'hs_r';
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'hs_r';

DELETE FROM ai_gateway.routes WHERE name = 'hs_r';
SET client_min_messages = warning;
DROP SCHEMA hs, hs_shared, hs_caller CASCADE;
DROP FUNCTION public.hs_su_only(jsonb), public.hs_open(jsonb);
DROP ROLE hs_admin, hs_user, hs_other;
RESET client_min_messages;
