-- ai_gateway 0.1.0 -> 0.2.0: the response cache (table ai_gateway.cache,
-- ai_gateway.cache_clear()) and ai_gateway.embed_trigger().
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Response cache (0.2.0)
------------------------------------------------------------------------------

-- One row per cached answer.  UNLOGGED: kept across clean restarts, no WAL,
-- emptied by crash recovery (a cache may forget).  Not configuration, so
-- pg_dump leaves its rows out.
CREATE UNLOGGED TABLE ai_gateway.cache (
    key            bytea PRIMARY KEY,  -- SHA-256 of route configuration, scope, messages, options
    route          text,               -- route (name@version when pinned); NULL for provider/model calls
    provider       text NOT NULL,      -- the target that answered
    model          text NOT NULL,
    scope_role     oid,                -- role whose calls may reuse it; NULL = every role (cache_scope global)
    content        text NOT NULL,
    finish_reason  text,
    reported_model text,               -- model the provider reported
    input_tokens   bigint,             -- what the original call used
    output_tokens  bigint,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX cache_expires_at ON ai_gateway.cache (expires_at);
COMMENT ON TABLE ai_gateway.cache IS
    'Response cache of ai_complete/ai_chat (options.cache, routes.options.cache_ttl_s, ai_gateway.cache_ttl_s); cleared by ai_gateway.cache_clear()';
REVOKE ALL ON ai_gateway.cache FROM PUBLIC;
GRANT SELECT, DELETE ON ai_gateway.cache TO ai_gateway_admin;

CREATE FUNCTION ai_gateway.cache_clear(route text DEFAULT NULL, provider text DEFAULT NULL,
                                       model text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'aig_cache_clear';
COMMENT ON FUNCTION ai_gateway.cache_clear(text, text, text) IS
    'Delete cached answers (all, or those of a route, provider and/or model) in every session; returns how many rows went';
REVOKE ALL ON FUNCTION ai_gateway.cache_clear(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ai_gateway.cache_clear(text, text, text) TO ai_gateway_admin;

------------------------------------------------------------------------------
-- Embeddings kept next to their text (0.2.0)
------------------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE trigger: embed_trigger(source_column, target_column
-- [, model [, options]]).  Fills target_column with ai_embed(source_column)
-- when the row is new or its source text changed; NULL text gives NULL.
-- An UPDATE that leaves the text alone keeps the row's embedding as given.
-- The target column may be real[] or pgvector's vector (real[] casts to it).
CREATE FUNCTION ai_gateway.embed_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src     text;
    old_src text;
    emb     real[];
BEGIN
    IF TG_WHEN <> 'BEFORE' OR TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger() must run BEFORE INSERT OR UPDATE FOR EACH ROW'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_NARGS < 2 OR TG_NARGS > 4 THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger() takes (source_column, target_column [, model [, options]])'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'CREATE TRIGGER ... EXECUTE FUNCTION ai_gateway.embed_trigger(''body'', ''embedding'', ''openai/text-embedding-3-small'')';
    END IF;
    IF NOT (to_jsonb(NEW) ? TG_ARGV[0]) OR NOT (to_jsonb(NEW) ? TG_ARGV[1]) THEN
        RAISE EXCEPTION 'ai_gateway.embed_trigger(): table % has no column % or %',
            TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]
            USING ERRCODE = 'undefined_column';
    END IF;
    src := to_jsonb(NEW) ->> TG_ARGV[0];
    IF TG_OP = 'UPDATE' THEN
        old_src := to_jsonb(OLD) ->> TG_ARGV[0];
        IF src IS NOT DISTINCT FROM old_src THEN
            RETURN NEW;   -- text unchanged: keep the embedding (or the one set by hand)
        END IF;
    END IF;
    IF src IS NULL THEN
        emb := NULL;
    ELSE
        emb := @extschema@.ai_embed(src,
                                    CASE WHEN TG_NARGS >= 3 THEN TG_ARGV[2] END,
                                    CASE WHEN TG_NARGS >= 4 THEN TG_ARGV[3]::jsonb ELSE '{}'::jsonb END);
    END IF;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[1], to_jsonb(emb)));
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ai_gateway.health() IS
    'Shared health of every provider/model target (breaker, error window, latency, last error), and a row for each provider not called yet or disabled';

COMMENT ON FUNCTION ai_gateway.embed_trigger() IS
    'BEFORE INSERT OR UPDATE trigger: keeps target_column = ai_embed(source_column [, model [, options]])';
