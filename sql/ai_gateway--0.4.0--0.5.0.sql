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
