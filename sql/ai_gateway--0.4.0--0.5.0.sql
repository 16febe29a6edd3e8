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
GRANT USAGE ON SEQUENCE ai_gateway.provider_batches_id_seq TO ai_gateway_admin;

-- (section: pipelines in the Batch API mode)
-- pipeline_compute queues batch jobs for a pipeline with options.batch
CREATE OR REPLACE FUNCTION ai_gateway.pipeline_compute(pipeline_name text, source regclass, source_expr text,
                                            target_column name, key_columns name[], source_columns name[],
                                            model text, kind text, options jsonb, search_path text,
                                            keys jsonb[], hashes text[])
    RETURNS TABLE (ord int, outcome text, error text, state text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ttype   text;
    rd_keys jsonb[];
    rd_ords int[];
    rd_hash text[];
    rd_vals text[];
    written int[];
    nulls_w int[];
    c_vals  text[];
    c_errs  text[];
    c_retry boolean[];
    c_state text[];
    call_opts jsonb;
    sys     text;
    hashsql text := ai_gateway.pipeline_hash_sql(source_columns, 't');
    joinsql text := ai_gateway.pipeline_key_join(source, key_columns, 't', 'w.key');
    st      text;
    msg     text;
    reported int[] := '{}';
    batched int[] := '{}';
    all_ords int[];
BEGIN
    PERFORM set_config('search_path', search_path || ', pg_temp', true);
    SELECT format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = target_column AND NOT a.attisdropped;
    call_opts := (options - 'schema' - 'system_prompt' - 'backfill' - 'batch_size')
                 || jsonb_build_object('metadata', coalesce(options -> 'metadata', '{}') || jsonb_build_object('pipeline', pipeline_name));
    -- the current source of each row (its latest entry), unless the source
    -- changed since it was queued (the change queued it again: done then)
    EXECUTE format('SELECT array_agg(w.key ORDER BY w.ord), array_agg(w.ord::int ORDER BY w.ord), '
                   'array_agg(%s ORDER BY w.ord), array_agg((%s)::text ORDER BY w.ord) '
                   'FROM (SELECT DISTINCT ON (key) key, h, ord FROM unnest($1, $2) WITH ORDINALITY AS u(key, h, ord) '
                   '      ORDER BY key, ord DESC) w '
                   'JOIN %s AS t ON %s WHERE w.h = '''' OR w.h = %s', hashsql, source_expr, source, joinsql, hashsql)
        INTO rd_keys, rd_ords, rd_hash, rd_vals USING keys, hashes;
    IF rd_keys IS NULL THEN
        RETURN QUERY SELECT g::int, 'skipped', NULL::text, NULL::text FROM generate_series(1, cardinality(keys)) g;
        RETURN;
    END IF;
    all_ords := rd_ords;
    written := '{}';
    BEGIN
        -- empty sources: the target is NULL, no call
        EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = NULL FROM unnest($1, $2, $3, $4) AS w(key, ord, h, v) '
                       'WHERE coalesce(w.v, '''') = '''' AND %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                       source, target_column, joinsql, hashsql)
            INTO nulls_w USING rd_keys, rd_ords, rd_hash, rd_vals;
        SELECT array_agg(k), array_agg(o), array_agg(h), array_agg(v) INTO rd_keys, rd_ords, rd_hash, rd_vals
          FROM unnest(rd_keys, rd_ords, rd_hash, rd_vals) AS u(k, o, h, v) WHERE coalesce(v, '') <> '';
        IF rd_keys IS NULL THEN
            written := '{}';
        ELSIF kind = 'embed' THEN
            EXECUTE format('WITH w AS (SELECT * FROM unnest($1, $2, $3) WITH ORDINALITY AS w(key, ord, h, i)), '
                           'e AS MATERIALIZED (SELECT * FROM @extschema@.ai_embed($4, $5, $6)), '
                           'd AS (UPDATE %s AS t SET %I = e.embedding::%s FROM w JOIN e ON e.ordinality = w.i '
                           'WHERE %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                           source, target_column, ttype, joinsql, hashsql)
                INTO written USING rd_keys, rd_ords, rd_hash, rd_vals, model, call_opts;
        ELSE
            IF kind = 'extract' THEN
                sys := 'Extract the information described by this JSON schema from the user''s text. '
                       || 'Answer with one JSON value of the schema and nothing else; use null for what the text does not say. Schema: '
                       || (options -> 'schema')::text;
                call_opts := call_opts || jsonb_build_object('response_format', jsonb_build_object(
                    'type', 'json_schema',
                    'json_schema', jsonb_build_object('name', 'extraction', 'strict', true,
                                                      'schema', ai_gateway.strict_schema(options -> 'schema'))));
            ELSE
                sys := options ->> 'system_prompt';
            END IF;
            IF (options ->> 'batch')::boolean THEN
                -- the Batch API mode: each row becomes a batch job of the owner's,
                -- written back when its provider batch answers (pipeline_write_one)
                FOR i IN 1 .. cardinality(rd_keys) LOOP
                    PERFORM @extschema@.ai_complete_async(rd_vals[i], model, sys,
                        call_opts || jsonb_build_object('metadata', (call_opts -> 'metadata')
                            || jsonb_build_object('pipeline_key', rd_keys[i], 'pipeline_hash', rd_hash[i])));
                END LOOP;
                batched := rd_ords;
            ELSE
            SELECT array_agg(b.completion ORDER BY b.ordinality), array_agg(b.error ORDER BY b.ordinality),
                   array_agg(b.retryable OR ai_gateway.pipeline_retryable(b.sqlstate) ORDER BY b.ordinality),
                   array_agg(b.sqlstate ORDER BY b.ordinality)
              INTO c_vals, c_errs, c_retry, c_state
              FROM ai_gateway.pipeline_complete_batch(rd_vals, model, sys, call_opts) b;
            FOR i IN 1 .. cardinality(rd_keys) LOOP
                IF c_errs[i] IS NOT NULL THEN
                    ord := rd_ords[i]; outcome := CASE WHEN c_retry[i] THEN 'retry' ELSE 'failed' END;
                    error := c_errs[i]; state := c_state[i];
                    reported := reported || ord;
                    RETURN NEXT;
                ELSIF kind = 'extract' THEN
                    BEGIN
                        PERFORM c_vals[i]::jsonb;
                    EXCEPTION WHEN others THEN
                        ord := rd_ords[i]; outcome := 'failed'; error := 'the answer is not JSON: ' || left(c_vals[i], 200);
                        state := 'UP005';
                        c_errs[i] := error;
                        reported := reported || ord;
                        RETURN NEXT;
                    END;
                END IF;
            END LOOP;
            EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = w.v::%s '
                           'FROM unnest($1, $2, $3, $4, $5) AS w(key, ord, h, v, err) '
                           'WHERE w.err IS NULL AND %s AND %s = w.h RETURNING w.ord) SELECT array_agg(ord) FROM d',
                           source, target_column, ttype, joinsql, hashsql)
                INTO written USING rd_keys, rd_ords, rd_hash, c_vals, c_errs;
            END IF;
        END IF;
    EXCEPTION WHEN others THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RETURN QUERY SELECT o, CASE WHEN ai_gateway.pipeline_retryable(st) THEN 'retry' ELSE 'failed' END, msg, st
                       FROM unnest(all_ords) o WHERE NOT o = ANY (reported);
        reported := reported || all_ords;
        nulls_w := '{}';
        batched := '{}';    -- the jobs went with the subtransaction
    END;
    -- queued as batch jobs (committed with this batch): settled when their answers come
    RETURN QUERY SELECT o, 'batched', NULL::text, NULL::text FROM unnest(batched) o;
    reported := reported || batched;
    -- the rest: written, or skipped (changed, deleted, or the same key twice in the batch)
    RETURN QUERY SELECT g::int, CASE WHEN g = ANY (coalesce(written, '{}') || coalesce(nulls_w, '{}')) THEN 'done' ELSE 'skipped' END,
                        NULL::text, NULL::text
                   FROM generate_series(1, cardinality(keys)) g
                  WHERE NOT g = ANY (reported);
END $$;

-- One row of a pipeline in the Batch API mode, answered: as the pipeline's
-- owner (the job worker switches to it), the answer is written to the target
-- column where the row's source columns still hash as when it was queued.
-- 'done', or 'skipped' (the row changed or went meanwhile: its trigger queued
-- it again).
CREATE FUNCTION ai_gateway.pipeline_write_one(source regclass, target_column name, key_columns name[],
                                              source_columns name[], search_path text, key jsonb, hash text,
                                              value text)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ttype text;
    n     int;
BEGIN
    -- the creator's search_path, as pipeline_compute has it (the table's triggers see it)
    PERFORM set_config('search_path', search_path || ', pg_temp', true);
    SELECT format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = target_column AND NOT a.attisdropped;
    EXECUTE format('WITH d AS (UPDATE %s AS t SET %I = $3::%s FROM (SELECT $1::jsonb AS key) w '
                   'WHERE %s AND %s = $2 RETURNING 1) SELECT count(*) FROM d',
                   source, target_column, ttype,
                   ai_gateway.pipeline_key_join(source, key_columns, 't', 'w.key'),
                   ai_gateway.pipeline_hash_sql(source_columns, 't'))
        INTO n USING key, hash, value;
    RETURN CASE WHEN n > 0 THEN 'done' ELSE 'skipped' END;
END $$;

-- pipeline_status gains in_batch (rows waiting in batch jobs)
DROP VIEW ai_gateway.pipeline_status;
CREATE VIEW ai_gateway.pipeline_status AS
SELECT p.name, p.source, p.target_column, p.kind, p.model, p.owner,
       CASE WHEN p.paused THEN 'paused'
            WHEN p.retry_at > now() THEN 'backing off'
            WHEN q.queued > 0 OR b.in_batch > 0 THEN 'running' ELSE 'idle' END AS state,
       q.queued, b.in_batch, p.done, p.skipped,
       (SELECT count(*) FROM ai_gateway.pipeline_failed f WHERE f.pipeline = p.id) AS failed,
       round(p.rows_per_s::numeric, 1) AS rows_per_s,
       CASE WHEN q.queued > 0 AND p.rows_per_s > 0
            THEN make_interval(secs => round(q.queued / p.rows_per_s)) END AS eta,
       p.retry_at, p.last_error, p.last_run_at, p.created_at
  FROM ai_gateway.pipelines p
  CROSS JOIN LATERAL (SELECT count(*) AS queued FROM ai_gateway.pipeline_queue q WHERE q.pipeline = p.id) q
  -- rows waiting in batch jobs (the Batch API mode: options.batch)
  CROSS JOIN LATERAL (SELECT count(*) AS in_batch FROM ai_gateway.jobs j
                       WHERE j.role = p.owner::text::name AND j.status IN ('queued', 'running') AND j.batch
                         AND j.request #>> '{options,metadata,pipeline}' = p.name) b
 WHERE pg_has_role(p.owner, 'USAGE') OR ai_gateway.is_admin();
COMMENT ON VIEW ai_gateway.pipeline_status IS
    'Each pipeline the role owns (all, for administrators): state, queued, in provider batches, done, skipped, failed, rows/s and ETA';
GRANT SELECT ON ai_gateway.pipeline_status TO PUBLIC;
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
