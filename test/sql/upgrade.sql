-- upgrade: DROP EXTENSION while the workers run, then the upgrade path from
-- every released version (0.1.0, 0.2.0, 0.3.0, 0.4.0) to the current one, checked object by
-- object against the fresh install this suite started with.  Ends with the
-- providers of setup.sql back in place for the integration tests.
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';

-- What makes the extension: its member objects, function definitions,
-- columns, constraints, indexes, triggers, policies, privileges and config-dump tables.
CREATE FUNCTION pg_temp.ext_fingerprint() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
    FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass
    WHERE e.extname = 'ai_gateway' AND d.deptype = 'e'
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
           || ' acl=' || coalesce(p.proacl::text, '-')
    FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
         JOIN pg_extension e ON d.refobjid = e.oid AND d.deptype = 'e'
    WHERE e.extname = 'ai_gateway' AND p.prokind <> 'a'
    UNION ALL
    SELECT 'column ' || c.oid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
           || ' acl=' || coalesce(a.attacl::text, '-')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    WHERE n.nspname = 'ai_gateway'
    UNION ALL
    SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
           || ' rls=' || c.relrowsecurity::text || ' acl=' || coalesce(c.relacl::text, '-')
           || ' options=' || coalesce(c.reloptions::text, '-')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ai_gateway'
    UNION ALL
    SELECT 'index ' || regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON', 'INDEX ON')
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ai_gateway'
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ai_gateway' AND NOT t.tgisinternal
    UNION ALL
    SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE n.nspname = 'ai_gateway'
    UNION ALL
    SELECT 'policy ' || polname || ' on ' || polrelid::regclass || ' ' || pg_get_expr(polqual, polrelid)
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ai_gateway'
    UNION ALL
    SELECT 'config_dump ' || unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'ai_gateway'
    UNION ALL
    SELECT 'schema acl ' || coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'ai_gateway'
$$;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.ext_fingerprint() f;
SELECT count(*) > 100 AS fingerprinted FROM fresh;

-- an async job and audit records are in flight while the extension goes
SELECT ai_complete_async('before drop', 'ollama/u-model') > 0 AS queued;
SELECT ai_complete('before drop', 'ollama/u-model') IS NOT NULL AS called;
DROP EXTENSION ai_gateway;
-- the database's workers exit (only the launcher stays); CREATE EXTENSION
-- starts them again, no restart needed
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity
                              WHERE backend_type LIKE 'ai_gateway%' AND backend_type <> 'ai_gateway launcher');
        PERFORM pg_sleep(0.1);
        PERFORM pg_stat_clear_snapshot();
    END LOOP;
END $$;
SELECT backend_type, datname FROM pg_stat_activity
WHERE backend_type LIKE 'ai_gateway%' ORDER BY backend_type;

-- the released version, then the update
CREATE EXTENSION ai_gateway VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';
SELECT to_regclass('ai_gateway.cache') IS NULL AS no_cache_table;
\getenv mock_port MOCK_PORT
\set mock 'http://127.0.0.1:' :mock_port
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
-- this library with the 0.1.0 objects: calls work; the cache says what is missing
SELECT ai_complete('old objects', 'ollama/u-model');
SELECT try($$SELECT ai_complete('old objects', 'ollama/u-model', NULL, '{"cache": true}')$$);

ALTER EXTENSION ai_gateway UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';
SELECT (ai_chat('[{"role":"user","content":"updated"}]', 'ollama/u-model', '{"cache": true}'))->'cached' AS first,
       (ai_chat('[{"role":"user","content":"updated"}]', 'ollama/u-model', '{"cache": true}'))->'cached' AS second;
-- the workers serve the new objects: the audit log and the job queue
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN (SELECT count(*) FROM pg_stat_activity
                   WHERE backend_type LIKE 'ai_gateway%' AND datname = current_database()) = 3;
        PERFORM pg_sleep(0.1);
        PERFORM pg_stat_clear_snapshot();
    END LOOP;
END $$;
SELECT backend_type, datname FROM pg_stat_activity
WHERE backend_type LIKE 'ai_gateway%' AND datname IS NOT NULL ORDER BY backend_type;
SELECT ai_gateway.audit_flush() AS flushed;
SELECT count(*) >= 3 AS audited FROM ai_gateway.audit_log WHERE model = 'u-model';
SELECT ai_complete_async('after update', 'ollama/u-model') AS job \gset
SELECT (ai_result(:job, 10000))->>'status' AS job_status;

-- upgraded = fresh, object by object (rows in one and not the other)
SELECT 'only fresh' AS side, f FROM fresh f
EXCEPT SELECT 'only fresh', g FROM pg_temp.ext_fingerprint() g
UNION ALL
(SELECT 'only upgraded', g FROM pg_temp.ext_fingerprint() g EXCEPT SELECT 'only upgraded', f FROM fresh f)
ORDER BY 1, 2;

-- the previous release, 0.2.0, with configuration and a job in it, then the
-- update to this one: the rows stay and the objects match the fresh install
DROP EXTENSION ai_gateway;
CREATE EXTENSION ai_gateway VERSION '0.2.0';
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('kept', 'fallback');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('kept', 'ollama', 'u-model');
ALTER EXTENSION ai_gateway UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';
SELECT ai_complete('after 0.2.0 update', 'kept') IS NOT NULL AS called;
SELECT 'only fresh' AS side, f FROM fresh f
EXCEPT SELECT 'only fresh', g FROM pg_temp.ext_fingerprint() g
UNION ALL
(SELECT 'only upgraded', g FROM pg_temp.ext_fingerprint() g EXCEPT SELECT 'only upgraded', f FROM fresh f)
ORDER BY 1, 2;

-- the previous release, 0.3.0, with configuration in it, then the update to
-- this one: the rows stay and the objects match the fresh install
DROP EXTENSION ai_gateway;
CREATE EXTENSION ai_gateway VERSION '0.3.0';
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('kept', 'fallback');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('kept', 'ollama', 'u-model');
ALTER EXTENSION ai_gateway UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';
SELECT ai_complete('after 0.3.0 update', 'kept') IS NOT NULL AS called;
SELECT 'only fresh' AS side, f FROM fresh f
EXCEPT SELECT 'only fresh', g FROM pg_temp.ext_fingerprint() g
UNION ALL
(SELECT 'only upgraded', g FROM pg_temp.ext_fingerprint() g EXCEPT SELECT 'only upgraded', f FROM fresh f)
ORDER BY 1, 2;

-- the previous release, 0.4.0, with configuration in it, then the update to
-- this one: the rows stay and the objects match the fresh install
DROP EXTENSION ai_gateway;
CREATE EXTENSION ai_gateway VERSION '0.4.0';
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('kept', 'fallback');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('kept', 'ollama', 'u-model');
ALTER EXTENSION ai_gateway UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway';
SELECT ai_complete('after 0.4.0 update', 'kept') IS NOT NULL AS called;
SELECT 'only fresh' AS side, f FROM fresh f
EXCEPT SELECT 'only fresh', g FROM pg_temp.ext_fingerprint() g
UNION ALL
(SELECT 'only upgraded', g FROM pg_temp.ext_fingerprint() g EXCEPT SELECT 'only upgraded', f FROM fresh f)
ORDER BY 1, 2;

-- back to the state of setup.sql for the integration tests
SELECT ai_gateway.cache_clear() >= 0 AS cleared;
DELETE FROM ai_gateway.providers;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('openai',    'openai',            :'mock' || '/v1', 'sk-test-openai-0123456789'),
    ('anthropic', 'anthropic',         :'mock',          'sk-ant-test-0123456789'),
    ('cohere',    'cohere',            :'mock',          'co-test-0123456789abcdef'),
    ('ollama',    'ollama',            :'mock',          NULL),
    ('gemini',    'gemini',            :'mock',          'AIza-test-0123456789abc'),
    ('azure',     'azure_openai',      :'mock',          'az-test-0123456789abcdef'),
    ('compat',    'openai_compatible', :'mock' || '/v1', 'compat-test-0123456789');
