-- ai_gateway 0.4.0 -> 0.5.0: providers' Batch APIs (issue 16): async jobs and
-- pipelines submitted through OpenAI's Batch API and Anthropic's Message
-- Batches at the batch price.  Each section below is one change; the fresh
-- install script (ai_gateway--0.5.0.sql) has the same objects, and the
-- regression test upgrade.sql compares the two object by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.5.0'" to load this file. \quit

-- (section: pipetrig)
-- The pipelines' queueing triggers become one C trigger function,
-- ai_gateway.pipeline_enqueue (api/pipeline_trigger.c), instead of two
-- plpgsql functions per pipeline: the writer's cost of a pipeline.  The
-- existing pipelines' triggers are recreated on it (same names, same key
-- and hash SQL) and their plpgsql functions dropped.
-- The queueing triggers of a pipeline (section: pipetrig): pipeline_enqueue
-- (api/pipeline_trigger.c) AFTER INSERT per statement over the new rows
-- (per row on a partitioned table, so that an INSERT into a partition
-- queues too), and AFTER UPDATE per row when a source column changed; both queue
-- (pipeline, table, key, hash) with the key and hash SQL the worker uses.
CREATE FUNCTION ai_gateway.pipeline_enqueue() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'aig_pipeline_enqueue';
REVOKE ALL ON FUNCTION ai_gateway.pipeline_enqueue() FROM PUBLIC;
CREATE FUNCTION ai_gateway.pipeline_create_triggers(pid int, src regclass, keys name[], cols name[])
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s %s EXECUTE FUNCTION ai_gateway.pipeline_enqueue(%L, %L, %L)',
                   'ai_pipeline_' || pid || '_insert', src,
                   -- a partitioned table's statement triggers miss an INSERT naming a partition: per row there
                   CASE WHEN (SELECT relkind FROM pg_class WHERE oid = src) = 'p' THEN 'FOR EACH ROW'
                        ELSE 'REFERENCING NEW TABLE AS pipeline_new_rows FOR EACH STATEMENT' END, pid,
                   ai_gateway.pipeline_key_sql(keys, 'n'), ai_gateway.pipeline_hash_sql(cols, 'n'));
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %s ON %s FOR EACH ROW WHEN (%s) '
                   'EXECUTE FUNCTION ai_gateway.pipeline_enqueue(%L, %L, %L)',
                   'ai_pipeline_' || pid || '_update',
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c), src,
                   (SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ') FROM unnest(cols) c),
                   pid, ai_gateway.pipeline_key_sql(keys, 'n'), ai_gateway.pipeline_hash_sql(cols, 'n'));
END $$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_create_triggers(int, regclass, name[], name[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ai_gateway.pipeline_admin_do(action text, args jsonb, caller regrole) RETURNS jsonb
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $adm$
DECLARE
    p        ai_gateway.pipelines;
    src      regclass;
    tgt      name := args ->> 'target_column';
    k        text := coalesce(args ->> 'kind', 'embed');
    opts     jsonb := coalesce(args -> 'options', '{}');
    keys     name[];
    cols     name[];
    ttype    text;
    pid      int;
    n        bigint;
    tbl      text;
BEGIN
    IF action = 'create' THEN
        src := (args ->> 'source')::oid::regclass;
        IF args ->> 'name' IS NULL OR args ->> 'source_expr' IS NULL OR tgt IS NULL OR args ->> 'model' IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: name, source, source_expr, target_column and model are required'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF k NOT IN ('embed', 'complete', 'extract') THEN
            RAISE EXCEPTION 'create_pipeline: kind must be embed, complete or extract, not %', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'embed fills real[] or vector columns, complete text, extract jsonb (options.schema).';
        END IF;
        IF jsonb_typeof(opts) <> 'object' THEN
            RAISE EXCEPTION 'create_pipeline: options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF k = 'extract' AND jsonb_typeof(opts -> 'schema') IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'create_pipeline: kind extract needs options.schema, a JSON schema object'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example {"schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}.';
        END IF;
        IF (SELECT relkind FROM pg_class WHERE oid = src) NOT IN ('r', 'p') THEN
            RAISE EXCEPTION 'create_pipeline: % is not a table', src USING ERRCODE = 'wrong_object_type';
        END IF;
        -- what CREATE TRIGGER asks (the queueing trigger), and the write-back's UPDATE
        IF NOT has_table_privilege(caller, src, 'TRIGGER') OR NOT has_table_privilege(caller, src, 'SELECT') THEN
            RAISE EXCEPTION 'create_pipeline: permission denied for table %', src
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A pipeline needs its creator to own the table (or hold TRIGGER and SELECT on it, and UPDATE on the target column).';
        END IF;
        SELECT format_type(a.atttypid, a.atttypmod) INTO ttype
            FROM pg_attribute a WHERE a.attrelid = src AND a.attname = tgt AND a.attnum > 0 AND NOT a.attisdropped;
        IF ttype IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: table % has no column %', src, tgt USING ERRCODE = 'undefined_column';
        END IF;
        IF NOT has_column_privilege(caller, src, tgt, 'UPDATE') THEN
            RAISE EXCEPTION 'create_pipeline: permission denied to update column % of %', tgt, src
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF (k = 'embed' AND ttype NOT IN ('real[]', 'double precision[]') AND ttype NOT LIKE 'vector%' AND ttype NOT LIKE 'halfvec%')
           OR (k = 'complete' AND ttype NOT IN ('text', 'character varying') AND ttype NOT LIKE 'character varying(%')
           OR (k = 'extract' AND ttype NOT IN ('jsonb', 'json')) THEN
            RAISE EXCEPTION 'create_pipeline: a pipeline of kind % cannot fill column % of type %', k, tgt, ttype
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'embed fills real[] or vector columns, complete text, extract jsonb.';
        END IF;
        SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO keys
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = src AND i.indisprimary;
        IF keys IS NULL THEN
            RAISE EXCEPTION 'create_pipeline: table % has no primary key', src
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'The queue names rows by their primary key: add one.';
        END IF;
        -- the source columns: given, or the table's columns the expression names
        IF opts ? 'columns' THEN
            SELECT array_agg(c::name) INTO cols FROM jsonb_array_elements_text(opts -> 'columns') c;
        ELSE
            SELECT array_agg(a.attname ORDER BY a.attnum) INTO cols FROM pg_attribute a
             WHERE a.attrelid = src AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> tgt
               AND (position(quote_ident(a.attname) IN args ->> 'source_expr') > 0 AND quote_ident(a.attname) <> a.attname
                    OR (args ->> 'source_expr') ~* ('(^|[^a-z0-9_$"])' || a.attname || '($|[^a-z0-9_$"])'));
        END IF;
        IF (args ->> 'source_expr') ~* ('(^|[^a-z0-9_$"])' || tgt || '($|[^a-z0-9_$"])')
           OR position(quote_ident(tgt) IN args ->> 'source_expr') > 0 THEN
            RAISE EXCEPTION 'create_pipeline: the source expression must not use the target column %', tgt
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The pipeline writes the target column from the source: it cannot read it too.';
        END IF;
        IF cols IS NULL OR tgt = ANY (cols) OR EXISTS (SELECT 1 FROM unnest(cols) c WHERE NOT EXISTS
               (SELECT 1 FROM pg_attribute a WHERE a.attrelid = src AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped)) THEN
            RAISE EXCEPTION 'create_pipeline: the source expression must name columns of % other than the target', src
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name them in options.columns when the expression hides them.';
        END IF;
        IF EXISTS (SELECT 1 FROM ai_gateway.pipelines WHERE name = args ->> 'name') THEN
            RAISE EXCEPTION 'create_pipeline: pipeline "%" exists', args ->> 'name' USING ERRCODE = 'duplicate_object';
        END IF;
        IF EXISTS (SELECT 1 FROM ai_gateway.pipelines WHERE source = src AND target_column = tgt) THEN
            RAISE EXCEPTION 'create_pipeline: column % of % is already kept by a pipeline', tgt, src
                USING ERRCODE = 'duplicate_object';
        END IF;
        INSERT INTO ai_gateway.pipelines (name, source, source_expr, target_column, model, kind, options,
                                          key_columns, source_columns, search_path, owner)
        VALUES (args ->> 'name', src, args ->> 'source_expr', tgt, args ->> 'model', k, opts - 'columns',
                keys, cols, coalesce(args ->> 'search_path', 'pg_catalog'), caller)
        RETURNING id INTO pid;
        -- the queueing triggers: built-in functions on column values only, never the expression
        PERFORM ai_gateway.pipeline_create_triggers(pid, src, keys, cols);
        -- the rows there now (the trigger holds writers off until this commits)
        n := 0;
        IF coalesce((opts ->> 'backfill')::boolean, true) THEN
            EXECUTE format('INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash) SELECT %s, %s, %s, %s FROM %s AS t',
                           pid, src::oid, ai_gateway.pipeline_key_sql(keys, 't'), ai_gateway.pipeline_hash_sql(cols, 't'), src);
            GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
        RETURN jsonb_build_object('id', pid, 'queued', n);
    END IF;

    SELECT * INTO p FROM ai_gateway.pipelines WHERE name = args ->> 'name';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline "%" does not exist', args ->> 'name' USING ERRCODE = 'undefined_object',
            HINT = 'SELECT name FROM ai_gateway.pipeline_status lists them.';
    END IF;
    IF NOT pg_has_role(caller, p.owner, 'USAGE') AND NOT pg_has_role(caller, 'ai_gateway_admin', 'USAGE')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = caller) THEN
        RAISE EXCEPTION 'permission denied for pipeline "%"', p.name USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only its owner (or an administrator) may change a pipeline.';
    END IF;
    IF action = 'pause' OR action = 'resume' THEN
        UPDATE ai_gateway.pipelines SET paused = (action = 'pause'), retry_at = NULL, backoffs = 0
         WHERE id = p.id;
        RETURN jsonb_build_object('paused', action = 'pause');
    ELSIF action = 'retry' THEN
        WITH f AS (DELETE FROM ai_gateway.pipeline_failed WHERE pipeline = p.id RETURNING key)
        INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash) SELECT p.id, p.source, key, '' FROM f;
        GET DIAGNOSTICS n = ROW_COUNT;
        UPDATE ai_gateway.pipelines SET retry_at = NULL, backoffs = 0 WHERE id = p.id;
        RETURN jsonb_build_object('queued', n);
    ELSIF action = 'drop' THEN
        tbl := CASE WHEN EXISTS (SELECT 1 FROM pg_class WHERE oid = p.source) THEN p.source::text END;
        IF tbl IS NOT NULL THEN
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_insert', tbl);
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_update', tbl);
        END IF;
        DELETE FROM ai_gateway.pipeline_queue WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipeline_failed WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipelines WHERE id = p.id;
        RETURN jsonb_build_object('dropped', true);
    END IF;
    RAISE EXCEPTION 'unknown pipeline action %', action USING ERRCODE = 'invalid_parameter_value';
END $adm$;
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT id, source, key_columns, source_columns FROM ai_gateway.pipelines ORDER BY id LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = p.source) THEN
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_insert', p.source);
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'ai_pipeline_' || p.id || '_update', p.source);
            PERFORM ai_gateway.pipeline_create_triggers(p.id, p.source, p.key_columns, p.source_columns);
        END IF;
        EXECUTE format('DROP FUNCTION IF EXISTS ai_gateway.pipeline_%s_insert()', p.id);
        EXECUTE format('DROP FUNCTION IF EXISTS ai_gateway.pipeline_%s_update()', p.id);
    END LOOP;
END $$;
