-- Enrichment pipelines (issue 16, item 1): the SQL surface, its errors,
-- the worker's results (waited for), governance and attacks.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE pipe_alice NOLOGIN;
CREATE ROLE pipe_bob NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO pipe_alice, pipe_bob;
SELECT ai_gateway.grant_provider('ollama', 'pipe_alice');
SELECT ai_gateway.grant_provider('openai', 'pipe_alice');
RESET client_min_messages;

-- wait until a pipeline has nothing queued (the job worker runs it)
CREATE FUNCTION pipe_wait(p text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..400 LOOP
        IF (SELECT queued = 0 AND state IN ('idle', 'paused') FROM ai_gateway.pipeline_status WHERE name = p) THEN
            RETURN 'drained';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN 'still queued';
END $$;

SET ROLE pipe_alice;
CREATE TABLE pipe_docs (id int PRIMARY KEY, title text, body text,
                        embedding real[], summary text, facts jsonb, n int);
INSERT INTO pipe_docs (id, title, body) SELECT g, 'title ' || g, 'body ' || g FROM generate_series(1, 5) g;

-- errors
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'summary', 'ollama/m', 'classify');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'nope', 'ollama/m', 'complete');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'n', 'ollama/m', 'complete');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'summary', 'openai/e', 'embed');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'facts', 'ollama/m', 'extract');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'facts', 'ollama/m', 'extract', '{"schema": "x"}');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'summary || body', 'summary', 'ollama/m', 'complete');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', '42', 'summary', 'ollama/m', 'complete');
SELECT ai_gateway.create_pipeline('p', 'pipe_docs', 'body', 'summary', 'ollama/m', 'complete', '[1]');
SELECT ai_gateway.create_pipeline(NULL, 'pipe_docs', 'body', 'summary', 'ollama/m', 'complete');
CREATE TABLE pipe_nokey (body text, summary text);
SELECT ai_gateway.create_pipeline('p', 'pipe_nokey', 'body', 'summary', 'ollama/m', 'complete');
CREATE VIEW pipe_view AS SELECT * FROM pipe_docs;
SELECT ai_gateway.create_pipeline('p', 'pipe_view', 'body', 'summary', 'ollama/m', 'complete');
SELECT ai_gateway.pause_pipeline('no_such_pipeline');

-- three pipelines on one table: an embedding, a summary, an extraction
SELECT ai_gateway.create_pipeline('pipe_emb', 'pipe_docs', 'title || '': '' || body', 'embedding',
                                  'openai/text-embedding-3-small') AS backfilled;
SELECT ai_gateway.create_pipeline('pipe_sum', 'pipe_docs', 'body', 'summary', 'ollama/m', 'complete') AS backfilled;
SELECT ai_gateway.create_pipeline('pipe_facts', 'pipe_docs', 'body', 'facts', 'openai/gpt-4o-mini', 'extract',
                                  '{"schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}') AS backfilled;
SELECT ai_gateway.create_pipeline('pipe_sum', 'pipe_docs', 'title', 'summary', 'ollama/m', 'complete');
SELECT ai_gateway.create_pipeline('pipe_sum2', 'pipe_docs', 'title', 'summary', 'ollama/m', 'complete');
SELECT name, source, target_column, kind, model, owner FROM ai_gateway.pipeline_status ORDER BY name;
SELECT pipe_wait('pipe_emb'), pipe_wait('pipe_sum'), pipe_wait('pipe_facts');
SELECT id, cardinality(embedding) AS dims, summary, facts FROM pipe_docs ORDER BY id;
SELECT name, state, queued, done, failed FROM ai_gateway.pipeline_status ORDER BY name;

-- writers only queue; a write-back queues nothing; a no-op update queues nothing
SELECT ai_gateway.pause_pipeline(p) FROM unnest(ARRAY['pipe_emb', 'pipe_sum', 'pipe_facts']) p;
UPDATE pipe_docs SET body = body WHERE id = 1;
UPDATE pipe_docs SET n = 7 WHERE id = 2;
SELECT name, state, queued FROM ai_gateway.pipeline_status ORDER BY name;
UPDATE pipe_docs SET body = 'rewritten' WHERE id = 3;
INSERT INTO pipe_docs (id, title, body) VALUES (6, 'six', 'body six'), (7, 'seven', NULL);
SELECT name, state, queued FROM ai_gateway.pipeline_status ORDER BY name;
SELECT ai_gateway.resume_pipeline(p) FROM unnest(ARRAY['pipe_emb', 'pipe_sum', 'pipe_facts']) p;
SELECT pipe_wait('pipe_emb'), pipe_wait('pipe_sum'), pipe_wait('pipe_facts');
SELECT id, cardinality(embedding) AS dims, summary, facts FROM pipe_docs WHERE id IN (3, 6, 7) ORDER BY id;
SELECT name, state, queued, done, failed FROM ai_gateway.pipeline_status ORDER BY name;
RESET ROLE;

-- governed: every call audited as pipe_alice, naming its pipeline; nothing written twice
SELECT ai_gateway.audit_flush() AS flushed;
SELECT role, metadata ->> 'pipeline' AS pipeline, status, count(*) FROM ai_gateway.audit_log
 WHERE metadata ? 'pipeline' GROUP BY 1, 2, 3 ORDER BY 2;

-- another role: no rights on alice's table or pipelines, sees none of them
SET ROLE pipe_bob;
SELECT ai_gateway.create_pipeline('bob_p', 'pipe_docs', 'body', 'summary', 'ollama/m', 'complete');
SELECT ai_gateway.pause_pipeline('pipe_sum');
SELECT ai_gateway.drop_pipeline('pipe_sum');
SELECT ai_gateway.retry_pipeline_failures('pipe_sum');
SELECT count(*) AS bob_sees FROM ai_gateway.pipeline_status;
SELECT count(*) AS bob_sees_failures FROM ai_gateway.pipeline_failures;
SELECT ai_gateway.pipeline_admin_do('drop', '{"name": "pipe_sum"}', 'pipe_alice');
SELECT ai_gateway.pipeline_settle(1, '{}', '{}', '{}', '{}', '{}', '{}', '{}', now());
-- a writer may queue only rows of tables it writes
INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash) VALUES (1, 'pipe_docs'::regclass, '{"id": 1}', '');
SELECT * FROM ai_gateway.pipeline_queue;
SELECT * FROM ai_gateway.pipelines;
RESET ROLE;
-- SELECT and UPDATE but no TRIGGER on the table is not enough (the trigger runs as every writer)
GRANT SELECT, UPDATE ON pipe_docs TO pipe_bob;
SET ROLE pipe_bob;
SELECT ai_gateway.create_pipeline('bob_p', 'pipe_docs', 'body', 'summary', 'ollama/m', 'complete');
RESET ROLE;
REVOKE SELECT, UPDATE ON pipe_docs FROM pipe_bob;

-- the creator's grant dropped: the pipeline records failures, it does not crash
SELECT ai_gateway.revoke_provider('ollama', 'pipe_alice');
SET ROLE pipe_alice;
UPDATE pipe_docs SET body = 'after the revoke' WHERE id = 4;
SELECT pipe_wait('pipe_sum');
SELECT f.pipeline, f.key, f.sqlstate, f.error LIKE '%permission denied%' OR f.error LIKE '%not granted%' AS refused
  FROM ai_gateway.pipeline_failures f;
SELECT name, queued, failed FROM ai_gateway.pipeline_status WHERE name = 'pipe_sum';
SELECT summary FROM pipe_docs WHERE id = 4;
RESET ROLE;
SELECT ai_gateway.grant_provider('ollama', 'pipe_alice');
SET ROLE pipe_alice;
SELECT ai_gateway.retry_pipeline_failures('pipe_sum') AS requeued;
SELECT pipe_wait('pipe_sum');
SELECT summary FROM pipe_docs WHERE id = 4;
SELECT name, queued, failed FROM ai_gateway.pipeline_status WHERE name = 'pipe_sum';

-- the owner lost UPDATE on the column: the write-back is refused, the row kept as a failure
REVOKE UPDATE ON pipe_docs FROM pipe_alice;
RESET ROLE;
UPDATE pipe_docs SET body = 'no write-back' WHERE id = 5;
SET ROLE pipe_alice;
SELECT pipe_wait('pipe_sum');
SELECT f.pipeline, f.key, f.sqlstate FROM ai_gateway.pipeline_failures f ORDER BY 1;
GRANT UPDATE ON pipe_docs TO pipe_alice;
SELECT ai_gateway.retry_pipeline_failures(p) AS requeued FROM unnest(ARRAY['pipe_emb', 'pipe_sum', 'pipe_facts']) p;
SELECT pipe_wait('pipe_emb'), pipe_wait('pipe_sum'), pipe_wait('pipe_facts');
SELECT summary, facts, embedding IS NOT NULL AS embedded FROM pipe_docs WHERE id = 5;
SELECT name, queued, failed FROM ai_gateway.pipeline_status ORDER BY name;
RESET ROLE;

-- drop: triggers, functions, queue and failures go; the column keeps its values
SET ROLE pipe_alice;
SELECT ai_gateway.drop_pipeline('pipe_emb');
SELECT ai_gateway.drop_pipeline('pipe_sum');
SELECT ai_gateway.drop_pipeline('pipe_facts');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'pipe_docs'::regclass;
SELECT count(*) AS pipelines_left FROM ai_gateway.pipeline_status;
SELECT count(*) FILTER (WHERE embedding IS NOT NULL) AS kept FROM pipe_docs;
RESET ROLE;
SELECT count(*) AS queue_left FROM ai_gateway.pipeline_queue;
SELECT count(*) AS functions_left FROM pg_proc WHERE proname LIKE 'pipeline\_%\_insert' OR proname LIKE 'pipeline\_%\_update';

SET client_min_messages = warning;
DROP TABLE pipe_docs, pipe_nokey CASCADE;
DROP FUNCTION pipe_wait(text);
SELECT ai_gateway.revoke_provider('ollama', 'pipe_alice');
SELECT ai_gateway.revoke_provider('openai', 'pipe_alice');
REVOKE ALL ON SCHEMA public FROM pipe_alice, pipe_bob;
DROP ROLE pipe_alice, pipe_bob;
RESET client_min_messages;
