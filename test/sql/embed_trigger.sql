-- embed_trigger: embeddings kept next to their text by a BEFORE trigger
-- (the pattern a generated column cannot express: ai_embed is volatile).
CREATE TABLE docs (id int PRIMARY KEY, title text, body text, embedding real[]);
CREATE TRIGGER docs_embed BEFORE INSERT OR UPDATE ON docs
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.embed_trigger('body', 'embedding', 'ollama/e-model');
SELECT ai_gateway.stats_reset();

INSERT INTO docs (id, title, body) VALUES (1, 'a', 'first text'), (2, 'b', NULL);
SELECT id, array_length(embedding, 1) AS dims FROM docs ORDER BY id;
SELECT embedding = ai_embed('first text', 'ollama/e-model') AS same_as_ai_embed FROM docs WHERE id = 1;

-- a change elsewhere in the row keeps the embedding without a call
SELECT requests FROM ai_gateway.stats WHERE model = 'e-model';
UPDATE docs SET title = 'a2' WHERE id = 1;
SELECT requests FROM ai_gateway.stats WHERE model = 'e-model';
-- new text: a new embedding
CREATE TEMP TABLE before AS SELECT embedding FROM docs WHERE id = 1;
UPDATE docs SET body = 'second text' WHERE id = 1;
SELECT d.embedding <> b.embedding AS changed,
       d.embedding = ai_embed('second text', 'ollama/e-model') AS matches
FROM docs d, before b WHERE d.id = 1;
-- text removed: embedding removed
UPDATE docs SET body = NULL WHERE id = 1;
SELECT embedding IS NULL AS cleared FROM docs WHERE id = 1;
-- setting the embedding by hand is kept
UPDATE docs SET embedding = '{1,2,3}' WHERE id = 2;
SELECT embedding FROM docs WHERE id = 2;

-- misuse is a clear error
CREATE TABLE docs_bad (id int, body text);
CREATE TRIGGER docs_bad_embed BEFORE INSERT ON docs_bad
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.embed_trigger('body', 'vec');
SELECT try($$INSERT INTO docs_bad VALUES (1, 'x')$$);
DROP TRIGGER docs_bad_embed ON docs_bad;
CREATE TRIGGER docs_bad_embed BEFORE INSERT ON docs_bad
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.embed_trigger('body');
SELECT try($$INSERT INTO docs_bad VALUES (1, 'x')$$);
DROP TRIGGER docs_bad_embed ON docs_bad;
CREATE TRIGGER docs_bad_embed AFTER INSERT ON docs_bad
    FOR EACH ROW EXECUTE FUNCTION ai_gateway.embed_trigger('body', 'body');
SELECT try($$INSERT INTO docs_bad VALUES (1, 'x')$$);
DROP TABLE docs_bad;
DROP TABLE docs;
