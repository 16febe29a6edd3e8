-- security: hostile input and hostile callers.
--  1. SQL injection through model strings, route names and options gives a
--     clean error and changes nothing;
--  2. an ordinary role cannot write any table of the extension, forge a job
--     for another role, read keys, or call the admin helpers (42501);
--  3. base_url: administrators only, http/https only;
--  4. search_path hijacking: no SECURITY DEFINER function, every SQL or
--     PL/pgSQL function pins search_path, and the C code that reads and
--     writes the extension's tables as their owner (catalog load,
--     ai_complete_async, ai_result) never runs a caller's shadowing types,
--     operators, functions or relations; nor can a caller shadow a route's
--     hook (stored schema-qualified) to skip it.
-- (test/integration/security.sh: URL paths at the mock, redirects,
-- protocols at call time, the workers' search_path, keys under faults.)
CREATE ROLE sec_mallory;
CREATE ROLE sec_bob;
CREATE ROLE sec_ops IN ROLE ai_gateway_admin;
GRANT USAGE ON SCHEMA public TO sec_mallory, sec_bob, sec_ops;
INSERT INTO ai_gateway.routes (name) VALUES ('sec_route');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('sec_route', 'ollama', 'sec-model');
SELECT ai_gateway.grant_route('sec_route', 'sec_mallory');
SELECT ai_gateway.grant_provider('ollama', 'sec_mallory');
-- an administrator's guard: a request hook that refuses every prompt
CREATE FUNCTION sec_guard(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused by the guard hook' USING ERRCODE = 'check_violation';
END $$;
INSERT INTO ai_gateway.routes (name, options) VALUES ('sec_guarded', '{"request_hook": "sec_guard"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('sec_guarded', 'ollama', 'sec-model');
SELECT ai_gateway.grant_route('sec_guarded', 'sec_mallory');
-- the name is stored as resolved for the writer
SELECT options FROM ai_gateway.routes WHERE name = 'sec_guarded';
CREATE TABLE sec_canary (x int);
ALTER TABLE sec_canary OWNER TO sec_mallory;   -- an injected DROP run as the caller would succeed
CREATE FUNCTION sec_config() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(p::text, ',' ORDER BY name) FROM ai_gateway.providers p),
        (SELECT string_agg(r::text, ',' ORDER BY name) FROM ai_gateway.routes r),
        (SELECT string_agg(t::text, ',' ORDER BY route, provider, model) FROM ai_gateway.route_targets t),
        (SELECT string_agg(g::text, ',' ORDER BY route, grantee) FROM ai_gateway.route_grants g),
        (SELECT string_agg(g::text, ',' ORDER BY provider, grantee) FROM ai_gateway.provider_grants g),
        (SELECT count(*) FROM ai_gateway.quotas), (SELECT count(*) FROM ai_gateway.models)))
$$;
SELECT sec_config() AS config_before \gset

------------------------------------------------------------------------------
-- 1. injection: model strings and route names
------------------------------------------------------------------------------
SET ROLE sec_mallory;
-- unaligned: psql 16+ pads strings holding a right-to-left mark differently
\pset format unaligned
SELECT left(m, 40) AS model, length(m) AS len,
       left(try1(format('SELECT ai_complete(%L, %L)', 'x', m)), 90) AS result
FROM unnest(array[
    $m$x'; DROP TABLE sec_canary; --$m$,
    $m$sec_route'; DELETE FROM ai_gateway.routes; --$m$,
    $m$sec_route' OR '1'='1$m$,
    $m$"sec_route"$m$,
    $m$sec_route\$m$,
    $m$a\'b\\c$m$,
    $m$ollama'/m$m$,
    $m$provider/../../x$m$,
    $m$../../etc/passwd$m$,
    $m$sec_route@1; DROP TABLE sec_canary$m$,
    $m$sec_route@-1$m$,
    $m$sec_route@99999999999999999999$m$,
    $m$sec_route@0x10$m$,
    $m$@$m$,
    $m$/$m$,
    $m$ollama/$m$,
    $m$/m$m$,
    'sec_route ',
    E'sec_route\t',
    E'\u202esec_route',
    'séc_route',
    E'\U0001F600/m',
    'ollama/' || repeat('m', 10000),
    repeat('r', 10000),
    repeat('p', 300) || '/m']) m;
-- the model of a granted provider goes out verbatim (inside the JSON body)
SELECT m AS model, ai_complete('x', m) AS result
FROM unnest(array[
    $m$ollama/x'; DROP TABLE sec_canary; --$m$,
    $m$ollama/a"b\c$m$,
    E'ollama/\u00e9\u202e\U0001F600',
    'ollama/provider/../../x']) m;
\pset format aligned
-- pinned versions and the admin helpers take names as data too
SELECT try1($$SELECT ai_gateway.explain_route('x''; DROP TABLE sec_canary; --')$$) AS explain;
SELECT try1($$SELECT ai_gateway.rollback_route('x''; DROP TABLE sec_canary; --', 1)$$) AS rollback;
RESET ROLE;
SELECT try1($$SELECT ai_gateway.rollback_route('x''; DROP TABLE sec_canary; --', 1)$$) AS admin_rollback;
SELECT try1($$SELECT ai_gateway.grant_route('x''; DROP TABLE sec_canary; --', 'public')$$) AS grant_route;
SELECT try1($$SELECT ai_gateway.grant_route('sec_route', 'x''; DROP TABLE sec_canary; --')$$) AS grant_role;
SELECT try1($$SELECT ai_gateway.grant_route('sec_route', 'sec_mallory; DROP TABLE sec_canary')$$) AS grant_role2;
SELECT try1($$SELECT ai_gateway.revoke_provider('ollama', '"sec_mallory"; DROP TABLE sec_canary')$$) AS revoke_role;
SELECT try1($$INSERT INTO ai_gateway.routes (name) VALUES ('x''; DROP TABLE sec_canary; --')$$) AS route_name;
SELECT try1($$INSERT INTO ai_gateway.routes (name) VALUES ('a/b')$$) AS route_slash;
SELECT try1($$INSERT INTO ai_gateway.routes (name) VALUES ('a@1')$$) AS route_at;
SELECT try1($$INSERT INTO ai_gateway.providers (name, kind) VALUES ('p''; DROP TABLE sec_canary; --', 'openai')$$) AS provider_name;
SELECT try1($$INSERT INTO ai_gateway.providers (name, kind) VALUES ('sec_p', 'openai''; DROP TABLE sec_canary; --')$$) AS provider_kind;

------------------------------------------------------------------------------
-- 1b. injection: options jsonb (call options, route options, provider options)
------------------------------------------------------------------------------
SET ROLE sec_mallory;
SELECT o AS options, try1(format('SELECT ai_complete(%L, %L, NULL, %L)', 'x', 'sec_route', o)) AS result
FROM unnest(array[
    $o${"x'; DROP TABLE sec_canary; --": 1}$o$,
    $o${"max_tokens\"": 1}$o$,
    $o${"max_tokens": "1; DROP TABLE sec_canary"}$o$,
    $o${"max_tokens": {"a": 1}}$o$,
    $o${"max_tokens": [1]}$o$,
    $o${"max_tokens": 1e400}$o$,
    $o${"max_tokens": -1e400}$o$,
    $o${"max_tokens": 9223372036854775808}$o$,
    $o${"max_tokens": 1.5}$o$,
    $o${"temperature": 1e-400}$o$,
    $o${"temperature": {"$gt": 0}}$o$,
    $o${"temperature": "NaN"}$o$,
    $o${"top_p": 1e308}$o$,
    $o${"seed": 99999999999999999999999999}$o$,
    $o${"timeout_ms": 1e30}$o$,
    $o${"timeout_ms": null}$o$,
    $o${"max_retries": 1e9}$o$,
    $o${"stop": {"a": "b"}}$o$,
    $o${"stop": [["a"]]}$o$,
    $o${"user": {"a": 1}}$o$,
    $o${"user": ["x'"]}$o$,
    $o${"metadata": "x'"}$o$,
    $o${"metadata": [1]}$o$,
    $o${"response_format": "json_object'; --"}$o$,
    $o${"response_format": {"type": "x'; --"}}$o$,
    $o${"response_format": {"type": "json_schema", "json_schema": "x"}}$o$,
    $o${"dimensions": 1e300}$o$,
    $o${"concurrency": -1}$o$,
    $o$[{"max_tokens": 1}]$o$,
    $o$"x'; DROP TABLE sec_canary; --"$o$,
    $o$12345678901234567890$o$]) o;
-- odd but valid metadata is kept as data: quotes, backslashes, unicode, depth
SELECT ai_complete('x', 'sec_route', NULL,
    jsonb_build_object('metadata', jsonb_build_object(
        $k$k'"\$k$, $v$v'); DROP TABLE sec_canary; --\$v$,
        'deep', (SELECT string_agg('{"a":', '') || '1' || repeat('}', 200) FROM generate_series(1, 200))::jsonb,
        E'\u00e9\U0001F600', 1e300))) AS metadata_call;
RESET ROLE;
-- route and provider options refuse what they do not know, as written
SELECT o AS route_options, try1(format('UPDATE ai_gateway.routes SET options = %L WHERE name = %L', o, 'sec_route')) AS result
FROM unnest(array[
    $o${"x'; DROP TABLE sec_canary; --": 1}$o$,
    $o${"timeout_ms": {"a": 1}}$o$,
    $o${"timeout_ms": 1e400}$o$,
    $o${"max_retries": "2; DROP TABLE sec_canary"}$o$,
    $o${"system_prompt": {"a": "b"}}$o$,
    $o${"request_hook": "sec_canary; DROP TABLE sec_canary"}$o$,
    $o${"request_hook": "pg_catalog.pg_terminate_backend"}$o$,
    $o${"response_hook": {"a": 1}}$o$,
    $o${"deny_patterns": "("}$o$,
    $o${"deny_patterns": ["("]}$o$,
    $o${"breaker_error_rate": 1e400}$o$]) o;
SELECT o AS provider_options, try1(format('UPDATE ai_gateway.providers SET options = %L WHERE name = %L', o, 'ollama')) AS result
FROM unnest(array[
    $o${"x'; DROP TABLE sec_canary; --": 1}$o$,
    $o${"timeout_ms": [1]}$o$,
    $o${"timeout_ms": 1e400}$o$,
    $o${"headers": {"X-A": "b\r\nX-Injected: 1"}}$o$,
    $o${"headers": {"X-A\r\nX-Injected": "1"}}$o$,
    $o${"headers": {"X-A: b": "1"}}$o$,
    $o${"headers": {"X-A": {"b": 1}}}$o$,
    $o${"headers": "X-A: b"}$o$,
    $o${"resource": "evil.example/#"}$o$,
    $o${"api_key_env": {"a": 1}}$o$,
    $o${"max_concurrency": 1e10}$o$]) o;
-- nothing ran, nothing changed
SELECT count(*) AS canary_rows FROM sec_canary;
SELECT sec_config() = :'config_before' AS config_unchanged;

------------------------------------------------------------------------------
-- 2. an ordinary role: no writes anywhere, no keys, no admin helpers
------------------------------------------------------------------------------
SET ROLE sec_mallory;
SELECT t AS relation, op, try1(stmt) AS result FROM (VALUES
    ('providers', 'SELECT api_key',       'SELECT api_key FROM ai_gateway.providers'),
    ('providers', 'SELECT *',             'SELECT * FROM ai_gateway.providers'),
    ('providers', 'SELECT options',       'SELECT options->>''api_key_env'' FROM ai_gateway.providers'),
    ('providers', 'UPDATE api_key',       'UPDATE ai_gateway.providers SET api_key = ''sk-mine'' WHERE name = ''openai'''),
    ('providers', 'UPDATE enabled',       'UPDATE ai_gateway.providers SET enabled = false'),
    ('providers', 'INSERT',               'INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES (''mine'', ''openai'', ''http://127.0.0.1:1'')'),
    ('providers', 'DELETE',               'DELETE FROM ai_gateway.providers'),
    ('providers', 'TRUNCATE',             'TRUNCATE ai_gateway.providers CASCADE'),
    ('routes', 'UPDATE',                  'UPDATE ai_gateway.routes SET options = ''{}'''),
    ('routes', 'DELETE',                  'DELETE FROM ai_gateway.routes'),
    ('route_targets', 'INSERT',           'INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES (''sec_route'', ''openai'', ''m'')'),
    ('route_targets', 'UPDATE',           'UPDATE ai_gateway.route_targets SET role = NULL'),
    ('route_versions', 'INSERT',          'INSERT INTO ai_gateway.route_versions (route, version, strategy, options, targets) VALUES (''sec_route'', 99, ''fallback'', ''{}'', ''[]'')'),
    ('route_versions', 'UPDATE',          'UPDATE ai_gateway.route_versions SET targets = ''[]'''),
    ('models', 'UPDATE',                  'UPDATE ai_gateway.models SET input_usd_per_mtok = 0'),
    ('route_grants', 'INSERT',            'INSERT INTO ai_gateway.route_grants (route, grantee) VALUES (''sec_route'', NULL)'),
    ('route_grants', 'SELECT',            'SELECT * FROM ai_gateway.route_grants'),
    ('provider_grants', 'INSERT',         'INSERT INTO ai_gateway.provider_grants (provider, grantee) VALUES (''openai'', ''sec_mallory'')'),
    ('quotas', 'DELETE',                  'DELETE FROM ai_gateway.quotas'),
    ('quotas', 'INSERT',                  'INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES (''sec_ops'', ''day'', 0)'),
    ('rate_limits', 'DELETE',             'DELETE FROM ai_gateway.rate_limits'),
    ('quota_usage', 'SELECT',             'SELECT * FROM ai_gateway.quota_usage'),
    ('quota_usage', 'UPDATE',             'UPDATE ai_gateway.quota_usage SET requests = 0'),
    ('config_history', 'DELETE',          'DELETE FROM ai_gateway.config_history'),
    ('audit_log', 'INSERT',               'INSERT INTO ai_gateway.audit_log (role, status) VALUES (''sec_ops'', ''ok'')'),
    ('audit_log', 'UPDATE',               'UPDATE ai_gateway.audit_log SET error = NULL'),
    ('audit_log', 'DELETE',               'DELETE FROM ai_gateway.audit_log'),
    ('jobs', 'INSERT as postgres',        'INSERT INTO ai_gateway.jobs (role, request) VALUES (''postgres'', ''{"prompt": "x", "model": "openai/m"}'')'),
    ('jobs', 'UPDATE role',               'UPDATE ai_gateway.jobs SET role = ''postgres'''),
    ('jobs', 'DELETE',                    'DELETE FROM ai_gateway.jobs'),
    ('jobs_id_seq', 'setval',             'SELECT setval(''ai_gateway.jobs_id_seq'', 1)'),
    ('schema', 'CREATE',                  'CREATE TABLE ai_gateway.mine (x int)'),
    ('schema', 'CREATE FUNCTION',         'CREATE FUNCTION ai_gateway.is_admin(int) RETURNS boolean LANGUAGE sql AS ''SELECT true''')
) v(t, op, stmt);
SELECT f AS function, try1(format('SELECT %s', f)) AS result
FROM unnest(array[
    $f$ai_gateway.grant_route('sec_route', 'sec_mallory')$f$,
    $f$ai_gateway.grant_route('sec_route', 'sec_mallory'::regrole)$f$,
    $f$ai_gateway.revoke_route('sec_route', 'sec_ops')$f$,
    $f$ai_gateway.grant_provider('openai', 'public')$f$,
    $f$ai_gateway.revoke_provider('ollama', 'sec_mallory')$f$,
    $f$ai_gateway.rollback_route('sec_route', 1)$f$,
    $f$ai_gateway.snapshot_route('sec_route')$f$,
    $f$ai_gateway.stats_reset()$f$,
    $f$ai_gateway.bench_routing('sec_route', 1)$f$,
    $f$ai_gateway.bench_governance('sec_route', 1)$f$,
    $f$ai_gateway.record_change()$f$,
    $f$ai_gateway.catalog_changed()$f$,
    $f$ai_gateway.providers_protect_key()$f$,
    $f$ai_gateway.is_admin()$f$]) f;
SELECT try1($$SET ai_gateway.log_prompts = on$$) AS set_log_prompts;
SELECT try1($$SET ai_gateway.log_requests = on$$) AS set_log_requests;
SELECT try1($$SET ai_gateway.max_response_bytes = '1GB'$$) AS set_max_response;
SELECT try1($$SET ai_gateway.breaker_failures = 1$$) AS set_breaker;
SELECT try1($$SET ai_gateway.rate_limit_wait_ms = 1000000$$) AS set_rate_wait;
SELECT try1($$SET ai_gateway.master_key_file = '/etc/passwd'$$) AS set_master_key;
SELECT try1($$SELECT ai_complete('x', 'openai/m')$$) AS ungranted_provider;
-- an administrator (ai_gateway_admin member) reads the mask only
SET ROLE sec_ops;
SELECT name, api_key FROM ai_gateway.providers WHERE name = 'openai';
SELECT try1($$SELECT api_key_encrypted FROM ai_gateway.providers$$) AS ops_sealed;
RESET ROLE;

------------------------------------------------------------------------------
-- 3. base_url: administrators only; http and https only
------------------------------------------------------------------------------
SET ROLE sec_mallory;
SELECT try1($$UPDATE ai_gateway.providers SET base_url = 'http://127.0.0.1:1' WHERE name = 'ollama'$$) AS mallory_base_url;
SET ROLE sec_ops;
-- (the key written again with it: a sealed key is bound to its endpoint)
SELECT u AS base_url, try1(format('UPDATE ai_gateway.providers SET base_url = %L, api_key = %L WHERE name = %L',
                                  u, 'compat-test-0123456789', 'compat')) AS result
FROM unnest(array[
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    'ftp://127.0.0.1/x',
    'dict://127.0.0.1:11211/stat',
    'ldap://127.0.0.1/dc=x',
    'ldaps://127.0.0.1/',
    'telnet://127.0.0.1:23',
    'tftp://127.0.0.1/x',
    'scp://127.0.0.1/x',
    'smb://127.0.0.1/x',
    'javascript:alert(1)',
    'http:/127.0.0.1/x',
    'http:///etc/passwd',
    ' http://127.0.0.1/',
    E'http://127.0.0.1/\nHost: evil',
    'http://user:pw@127.0.0.1/',
    'http://evil.example@127.0.0.1/',
    'http://127.0.0.1/v1?x=1',
    'http://127.0.0.1/v1#frag',
    '//127.0.0.1/v1',
    'HTTPS://api.example.com/v1',
    'http://[::1]:8080/v1']) u;
RESET ROLE;
UPDATE ai_gateway.providers SET base_url = (SELECT base_url FROM ai_gateway.providers WHERE name = 'openai'),
    api_key = 'compat-test-0123456789'
WHERE name = 'compat';

------------------------------------------------------------------------------
-- 4. search_path hijacking
------------------------------------------------------------------------------
-- the extension's functions: none is SECURITY DEFINER; every SQL and
-- PL/pgSQL function (definer or not) pins search_path to pg_catalog first
SELECT p.oid::regprocedure AS function, l.lanname, p.prosecdef, p.proconfig
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'ai_gateway'
JOIN pg_language l ON l.oid = p.prolang
WHERE p.prosecdef
   OR (l.lanname IN ('sql', 'plpgsql')
       AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false))
ORDER BY 1::text;

-- a caller's own schema, first on its search_path, shadowing the types,
-- operators, functions and catalog relations the C code's queries use; and
-- temporary types and views (pg_temp is searched first for those).  Every
-- shadow records who ran it.
CREATE SCHEMA sec_evil AUTHORIZATION sec_mallory;
SET ROLE sec_mallory;
CREATE TABLE sec_evil.seen (who name, what text);
GRANT INSERT ON sec_evil.seen TO PUBLIC;
CREATE FUNCTION sec_evil.pwn(what text) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sec_evil.seen VALUES (current_user, what);
    RETURN true;
END $$;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY array['text', 'name', 'float8', 'int8', 'int4', 'int2', 'oid', 'bool',
                             'numeric', 'jsonb', 'json', 'timestamptz', 'interval', 'regrole',
                             'xid8', 'varchar', 'bpchar', 'float4', 'bytea'] LOOP
        EXECUTE format('CREATE DOMAIN sec_evil.%1$I AS pg_catalog.%1$I CHECK (sec_evil.pwn(%2$L))',
                       t, 'type sec_evil.' || t);
        EXECUTE format('CREATE DOMAIN pg_temp.%1$I AS pg_catalog.%1$I CHECK (sec_evil.pwn(%2$L))',
                       t, 'type pg_temp.' || t);
    END LOOP;
    FOREACH t IN ARRAY array['text', 'name', 'int8', 'int4', 'oid', 'jsonb', 'bool',
                             'timestamptz', 'numeric', 'float8', 'bytea'] LOOP
        EXECUTE format('CREATE FUNCTION sec_evil.%1$I(a pg_catalog.%2$s, b pg_catalog.%2$s) RETURNS pg_catalog.bool '
                       'LANGUAGE sql AS $f$ SELECT sec_evil.pwn(%3$L) AND a OPERATOR(pg_catalog.=) b $f$',
                       'eq_' || t, t, 'operator = ' || t);
        EXECUTE format('CREATE OPERATOR sec_evil.= (LEFTARG = pg_catalog.%1$s, RIGHTARG = pg_catalog.%1$s, '
                       'FUNCTION = sec_evil.%2$I)', t, 'eq_' || t);
        EXECUTE format('CREATE FUNCTION sec_evil.%1$I(a pg_catalog.%2$s, b pg_catalog.%2$s) RETURNS pg_catalog.bool '
                       'LANGUAGE sql AS $f$ SELECT sec_evil.pwn(%3$L) AND a OPERATOR(pg_catalog.<>) b $f$',
                       'ne_' || t, t, 'operator <> ' || t);
        EXECUTE format('CREATE OPERATOR sec_evil.<> (LEFTARG = pg_catalog.%1$s, RIGHTARG = pg_catalog.%1$s, '
                       'FUNCTION = sec_evil.%2$I)', t, 'ne_' || t);
    END LOOP;
END $$;
CREATE FUNCTION sec_evil.jsonb_build_object(text, text, text, pg_catalog.jsonb, text, text, text, integer)
    RETURNS pg_catalog.jsonb LANGUAGE sql
    AS $$ SELECT pg_catalog.jsonb_build_object('hijacked', sec_evil.pwn('function jsonb_build_object')) $$;
CREATE FUNCTION sec_evil.jsonb_to_recordset(pg_catalog.jsonb) RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN PERFORM sec_evil.pwn('function jsonb_to_recordset'); END $$;
CREATE FUNCTION sec_evil.sec_guard(req pg_catalog.jsonb) RETURNS pg_catalog.jsonb LANGUAGE sql
    AS $$ SELECT CASE WHEN sec_evil.pwn('hook sec_guard') THEN req END $$;
CREATE FUNCTION sec_evil.lower(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
    AS $$ SELECT CASE WHEN sec_evil.pwn('function lower') THEN pg_catalog.lower($1) END $$;
CREATE FUNCTION sec_evil.now() RETURNS pg_catalog.timestamptz LANGUAGE sql
    AS $$ SELECT CASE WHEN sec_evil.pwn('function now') THEN pg_catalog.now() END $$;
CREATE FUNCTION sec_evil.to_timestamp(bigint) RETURNS pg_catalog.timestamptz LANGUAGE sql
    AS $$ SELECT CASE WHEN sec_evil.pwn('function to_timestamp') THEN pg_catalog.to_timestamp($1) END $$;
CREATE VIEW sec_evil.pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE sec_evil.pwn('view pg_roles');
CREATE VIEW sec_evil.pg_class AS SELECT * FROM pg_catalog.pg_class WHERE sec_evil.pwn('view pg_class');
CREATE VIEW sec_evil.pg_extension AS SELECT * FROM pg_catalog.pg_extension WHERE sec_evil.pwn('view pg_extension');
CREATE TEMP VIEW pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE sec_evil.pwn('temp view pg_roles');
CREATE TEMP VIEW pg_namespace AS SELECT * FROM pg_catalog.pg_namespace WHERE sec_evil.pwn('temp view pg_namespace');
RESET ROLE;

-- every entry point, as the caller with the shadows first; a committed
-- configuration change first makes the call reload the catalog as the
-- tables' owner
-- (pg_catalog.text: this session now has a temporary type named text)
CREATE FUNCTION sec_hijacked_calls(path pg_catalog.text) RETURNS SETOF pg_catalog.text
LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
    s pg_catalog.text;
BEGIN
    PERFORM set_config('search_path', path, true);
    FOREACH s IN ARRAY array[
        $s$SELECT ai_complete('x', 'sec_route')$s$,
        $s$SELECT ai_complete('x', 'sec_route@2')$s$,
        $s$SELECT ai_complete('x', 'ollama/m')$s$,
        $s$SELECT ai_chat('[{"role": "user", "content": "x"}]', 'sec_route')$s$,
        $s$SELECT ai_embed('x', 'sec_route')$s$,
        $s$SELECT count(*) FROM ai_embed(array['x', 'y'], 'sec_route')$s$,
        $s$SELECT count(*) FROM ai_complete_batch(array['x', 'y'], 'sec_route')$s$,
        $s$SELECT count(*) FROM ai_gateway.explain_route('sec_route')$s$,
        $s$SELECT count(*) FROM ai_gateway.health()$s$,
        $s$SELECT count(*) FROM ai_gateway.stats$s$,
        $s$SELECT count(*) FROM ai_gateway.usage$s$,
        $s$SELECT ai_gateway.metrics()$s$,
        $s$SELECT ai_gateway.is_admin()$s$,
        $s$SELECT count(*) FROM ai_gateway.audit_log$s$,
        $s$SELECT count(*) FROM ai_gateway.jobs$s$,
        $s$SELECT ai_gateway.grant_route('sec_route', 'sec_mallory')$s$,
        $s$SELECT ai_complete('x', 'sec_guarded')$s$,
        $s$SELECT set_config('ai_gateway.cache_local_kb', '0', true)$s$,
        $s$SELECT ai_complete('cache me', 'sec_route', NULL, '{"cache": 60}')$s$,
        $s$SELECT ai_complete('cache me', 'sec_route', NULL, '{"cache": 60}')$s$,
        $s$SELECT ai_gateway.cache_clear()$s$] LOOP
        RETURN NEXT left(try1(s), 70);
    END LOOP;
    job := ai_complete_async('x', 'sec_route');
    RETURN NEXT 'queued';
    RETURN NEXT coalesce(ai_result(job)->>'status', 'no status');
    RETURN NEXT try1(format('SELECT ai_result(%s, 10)', job));
END $$;
SELECT ai_gateway.grant_route('sec_route', 'public');
SELECT ai_gateway.revoke_route('sec_route', 'public');
SET ROLE sec_mallory;
SELECT * FROM sec_hijacked_calls('sec_evil, pg_catalog, public');
RESET ROLE;
SELECT ai_gateway.grant_route('sec_route', 'public');
SELECT ai_gateway.revoke_route('sec_route', 'public');
SET ROLE sec_mallory;
SELECT * FROM sec_hijacked_calls('pg_catalog, sec_evil, public');
RESET ROLE;
-- the shadows are live: they ran for the caller's own statements ...
SELECT count(*) > 0 AS shadows_ran_for_the_caller,
       count(*) FILTER (WHERE what LIKE 'type pg_temp.%') > 0 AS temp_types_too
FROM sec_evil.seen WHERE who = 'sec_mallory';
SELECT sec_evil.pwn('as the superuser: the recorder works');
-- ... but never with anyone else's rights
SELECT who, what FROM sec_evil.seen WHERE who <> 'sec_mallory' ORDER BY 1, 2;

-- the queued jobs ran (the job worker's own queries pin search_path too)
DO $$
BEGIN
    FOR i IN 1..400 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM ai_gateway.jobs
                              WHERE role = 'sec_mallory' AND status IN ('queued', 'running'));
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT status, count(*) FROM ai_gateway.jobs WHERE role = 'sec_mallory' GROUP BY status;
-- another ordinary role sees none of sec_mallory's jobs, results or audit rows
SELECT ai_gateway.grant_route('sec_route', 'sec_bob');
SET ROLE sec_bob;
SELECT ai_complete('x', 'sec_route') AS bob_calls;
SELECT ai_gateway.audit_flush() AS flushed;
RESET ROLE;
SELECT min(id) AS mallory_job FROM ai_gateway.jobs WHERE role = 'sec_mallory' \gset
SELECT count(*) > 0 AS admin_sees_mallory_audit FROM ai_gateway.audit_log WHERE role = 'sec_mallory';
SET ROLE sec_bob;
SELECT count(*) AS bob_sees_jobs FROM ai_gateway.jobs WHERE role = 'sec_mallory';
SELECT regexp_replace(try1(format('SELECT ai_result(%s)', :mallory_job)), 'job \d+', 'job N') AS bob_reads_result;
SELECT regexp_replace(try1(format('SELECT ai_result(%s, 100)', :mallory_job)), 'job \d+', 'job N') AS bob_waits_result;
SELECT count(*) AS bob_sees_audit FROM ai_gateway.audit_log WHERE role = 'sec_mallory';
SELECT count(*) AS bob_sees_usage FROM ai_gateway.usage WHERE role = 'sec_mallory';
-- a leaky function in WHERE sees only the rows the policies let through
-- (pg_catalog types: this session still has sec_mallory's temporary ones)
CREATE TEMP TABLE sec_leaked (r pg_catalog.name);
CREATE FUNCTION pg_temp.sec_leak(r pg_catalog.name) RETURNS pg_catalog.bool LANGUAGE sql
    AS $$ INSERT INTO pg_temp.sec_leaked VALUES (r) RETURNING true $$;
SELECT count(*) AS bob_audit_rows FROM ai_gateway.audit_log WHERE pg_temp.sec_leak(role);
SELECT count(*) AS bob_job_rows FROM ai_gateway.jobs WHERE pg_temp.sec_leak(role);
SELECT r AS leaked_role, count(*) FROM pg_temp.sec_leaked GROUP BY r ORDER BY r;
RESET ROLE;

------------------------------------------------------------------------------
-- clean up
------------------------------------------------------------------------------
DROP FUNCTION sec_hijacked_calls(pg_catalog.text);
DROP OWNED BY sec_mallory, sec_bob, sec_ops;     -- sec_evil, sec_canary, the temporary types and views
DROP FUNCTION sec_config();
DELETE FROM ai_gateway.routes WHERE name IN ('sec_route', 'sec_guarded');
DROP FUNCTION sec_guard(jsonb);
SELECT ai_gateway.revoke_provider('ollama', 'sec_mallory');
DELETE FROM ai_gateway.jobs WHERE role = 'sec_mallory';
DROP ROLE sec_mallory, sec_bob, sec_ops;
