-- The pipelines' queueing trigger (api/pipeline_trigger.c): what a writer
-- queues, in its own transaction, for multi-row INSERTs, COPY, upserts,
-- partitioned tables and updates; the hash is the worker's SQL hash.
-- Every pipeline here is paused in the transaction that creates it: the
-- worker never takes these rows.
\set VERBOSITY terse
CREATE TABLE trig_docs (id int, lang char(4), title text, body text, flag boolean, addr inet,
                        summary text, n int, PRIMARY KEY (id, lang));
INSERT INTO trig_docs VALUES (0, 'en', 'zero', 'backfilled', true, '10.0.0.1', NULL, 0);
BEGIN;
SELECT ai_gateway.create_pipeline('trig_sum', 'trig_docs', 'title || body || flag::text || addr::text',
                                  'summary', 'ollama/m', 'complete') AS backfilled;
SELECT ai_gateway.pause_pipeline('trig_sum');
COMMIT;
SELECT source_columns, key_columns FROM ai_gateway.pipelines WHERE name = 'trig_sum';

-- what the queue holds, checked against the worker's own hash SQL
CREATE FUNCTION trig_queue() RETURNS TABLE (seq_order bigint, key jsonb, same_hash boolean, attempts int, src regclass)
LANGUAGE plpgsql AS $$
DECLARE
    p ai_gateway.pipelines;
BEGIN
    SELECT * INTO p FROM ai_gateway.pipelines WHERE name = 'trig_sum';
    RETURN QUERY EXECUTE format(
        'SELECT row_number() OVER (ORDER BY q.seq), q.key, q.hash = %s, q.attempts, q.source::regclass '
        'FROM ai_gateway.pipeline_queue q LEFT JOIN trig_docs t ON %s WHERE q.pipeline = $1 ORDER BY q.seq',
        ai_gateway.pipeline_hash_sql(p.source_columns, 't'),
        ai_gateway.pipeline_key_join(p.source, p.key_columns, 't', 'q.key')) USING p.id;
END $$;
CREATE FUNCTION trig_clear() RETURNS void LANGUAGE sql AS $$
    DELETE FROM ai_gateway.pipeline_queue WHERE pipeline = (SELECT id FROM ai_gateway.pipelines WHERE name = 'trig_sum')
$$;
SELECT * FROM trig_queue();
SELECT trig_clear();

-- a multi-row INSERT: one queue row per row, in the writer's transaction
BEGIN;
INSERT INTO trig_docs (id, lang, title, body, flag, addr) VALUES
    (1, 'en', 'one', 'a body', true, '10.0.0.1/32'),
    (2, 'de', 'two', NULL, false, '10.0.0.0/8'),
    (3, 'fr  ', '', 'it''s "quoted", (x)', NULL, NULL);
SELECT count(*) AS queued_now, bool_and(queued_at = now()) AS in_this_xact
  FROM ai_gateway.pipeline_queue WHERE pipeline = (SELECT id FROM ai_gateway.pipelines WHERE name = 'trig_sum');
COMMIT;
SELECT * FROM trig_queue();
SELECT trig_clear();

-- an INSERT of no rows queues nothing; a rolled back one leaves nothing
INSERT INTO trig_docs SELECT * FROM trig_docs WHERE false;
BEGIN;
INSERT INTO trig_docs (id, lang, title) VALUES (9, 'en', 'gone');
ROLLBACK;
SELECT count(*) AS queued FROM trig_queue();

-- updates: not touching the source, or to the same values, queue nothing
UPDATE trig_docs SET summary = 'written back', n = n + 1 WHERE id = 1;
UPDATE trig_docs SET title = title, body = body WHERE id IN (1, 2);
SELECT count(*) AS queued FROM trig_queue();
-- changing a source column queues the row with its new hash
UPDATE trig_docs SET body = 'a new body' WHERE id = 1;
-- (one row per statement: a multi-row UPDATE's row order is the scan's)
UPDATE trig_docs SET flag = NOT flag WHERE id = 2;
UPDATE trig_docs SET flag = NOT flag WHERE id = 1;
SELECT * FROM trig_queue();
SELECT trig_clear();

-- COPY queues each row
COPY trig_docs (id, lang, title, body, flag, addr) FROM stdin;
4	en	four	copied	t	192.168.0.1
5	en	five	\N	f	\N
\.
SELECT * FROM trig_queue();
SELECT trig_clear();

-- an upsert: the inserted row through the INSERT trigger, the updated one through the UPDATE trigger
INSERT INTO trig_docs (id, lang, title, body) VALUES (5, 'en', 'five', 'upserted'), (6, 'en', 'six', 'new')
    ON CONFLICT (id, lang) DO UPDATE SET body = excluded.body;
SELECT * FROM trig_queue();
SELECT trig_clear();

-- a column added later (the trigger's cached expressions follow the table)
ALTER TABLE trig_docs ADD COLUMN extra text DEFAULT 'x';
ALTER TABLE trig_docs DROP COLUMN n;
INSERT INTO trig_docs (id, lang, title, body) VALUES (7, 'en', 'seven', 'after alter');
SELECT * FROM trig_queue();
SELECT trig_clear();

-- a partitioned table: through the parent, into a partition directly, and updates
CREATE TABLE trig_parts (id int PRIMARY KEY, body text, summary text) PARTITION BY RANGE (id);
CREATE TABLE trig_parts_1 PARTITION OF trig_parts FOR VALUES FROM (0) TO (100);
CREATE TABLE trig_parts_2 PARTITION OF trig_parts FOR VALUES FROM (100) TO (200);
BEGIN;
SELECT ai_gateway.create_pipeline('trig_parts', 'trig_parts', 'body', 'summary', 'ollama/m', 'complete') AS backfilled;
SELECT ai_gateway.pause_pipeline('trig_parts');
COMMIT;
INSERT INTO trig_parts VALUES (1, 'low'), (150, 'high');
INSERT INTO trig_parts_1 VALUES (2, 'direct');
COPY trig_parts_2 (id, body) FROM stdin;
151	copied into a partition
\.
UPDATE trig_parts SET body = 'changed' WHERE id = 150;
UPDATE trig_parts_1 SET body = 'changed too' WHERE id = 1;
UPDATE trig_parts SET summary = 'no source change' WHERE id = 2;
SELECT q.key, q.source::regclass, q.hash = md5(ROW(t.body::text)::text) AS same_hash
  FROM ai_gateway.pipeline_queue q JOIN trig_parts t ON t.id = (q.key ->> 'id')::int
 WHERE q.pipeline = (SELECT id FROM ai_gateway.pipelines WHERE name = 'trig_parts') ORDER BY q.seq;

-- the trigger function is the extension's: nobody else may use it
CREATE ROLE trig_mallory NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO trig_mallory;
SET ROLE trig_mallory;
CREATE TABLE trig_own (id int PRIMARY KEY, body text);
CREATE TRIGGER t AFTER INSERT ON trig_own REFERENCING NEW TABLE AS n FOR EACH STATEMENT
    EXECUTE FUNCTION ai_gateway.pipeline_enqueue('1', 'jsonb_build_object(''id'', n.id)', 'md5(n.body)');
RESET ROLE;
-- and it refuses to fire wrongly
CREATE TABLE trig_bad (id int PRIMARY KEY, body text);
CREATE TRIGGER t BEFORE INSERT ON trig_bad FOR EACH ROW EXECUTE FUNCTION ai_gateway.pipeline_enqueue('1', 'x', 'y');
INSERT INTO trig_bad VALUES (1, 'x');
DROP TRIGGER t ON trig_bad;
CREATE TRIGGER t AFTER INSERT ON trig_bad FOR EACH STATEMENT EXECUTE FUNCTION ai_gateway.pipeline_enqueue('1', 'x', 'y');
INSERT INTO trig_bad VALUES (1, 'x');

-- dropping the pipelines drops their triggers
SELECT ai_gateway.drop_pipeline('trig_sum'), ai_gateway.drop_pipeline('trig_parts');
SELECT count(*) AS pipeline_triggers FROM pg_trigger WHERE tgname LIKE 'ai_pipeline_%'
   AND tgrelid IN ('trig_docs'::regclass, 'trig_parts'::regclass);
DROP TABLE trig_docs, trig_parts, trig_own, trig_bad;
DROP FUNCTION trig_queue(), trig_clear();
DROP OWNED BY trig_mallory;
DROP ROLE trig_mallory;
