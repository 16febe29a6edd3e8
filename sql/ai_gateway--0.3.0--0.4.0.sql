-- ai_gateway 0.3.0 -> 0.4.0: what today's models do (issue 15: tool calling,
-- structured output, images, cloud providers with their own auth, provider
-- presets) and table-scale background work (issue 16).  Each section below
-- is one change; the fresh install script (ai_gateway--0.4.0.sql) has the
-- same objects, and the regression test upgrade.sql compares the two object
-- by object.
\echo Use "ALTER EXTENSION ai_gateway UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Provider kinds: AWS Bedrock, Google Vertex AI and the OpenAI-compatible presets
------------------------------------------------------------------------------

-- (section: kinds)
ALTER TABLE ai_gateway.providers DROP CONSTRAINT providers_kind_check;
ALTER TABLE ai_gateway.providers ADD CONSTRAINT providers_kind_check
    CHECK (kind IN ('openai', 'anthropic', 'cohere', 'ollama', 'gemini',
                    'azure_openai', 'openai_compatible',
                    'bedrock', 'vertex_ai',
                    'mistral', 'groq', 'deepseek', 'xai', 'together',
                    'fireworks', 'openrouter'));

------------------------------------------------------------------------------
-- Images and documents in; structured output (issue 15)
------------------------------------------------------------------------------

-- (section: multimodal)
CREATE FUNCTION @extschema@.ai_image(data bytea, media_type text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aig_image';
COMMENT ON FUNCTION @extschema@.ai_image(bytea, text) IS
    'An image (PNG, JPEG, GIF, WebP) or PDF as a chat content part: {"type": "image"|"document", "media_type", "data": base64}; the type is read from the bytes';

CREATE FUNCTION @extschema@.ai_complete(prompt text, image bytea, model text DEFAULT NULL,
                                        options jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE sql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN prompt IS NULL THEN NULL
        WHEN image IS NULL THEN @extschema@.ai_complete(prompt, model, NULL::text, options)
        ELSE @extschema@.ai_chat(
                 jsonb_build_array(jsonb_build_object('role', 'user', 'content',
                     jsonb_build_array(jsonb_build_object('type', 'text', 'text', prompt),
                                       @extschema@.ai_image(image)))),
                 model, options) ->> 'content'
    END
$$;
COMMENT ON FUNCTION @extschema@.ai_complete(text, bytea, text, jsonb) IS
    'Complete a prompt about one image or PDF (bytea) through a route or provider/model with image input; returns the text';

-- A JSON schema as OpenAI's strict mode takes it: every object closed
-- (additionalProperties false) with all its properties required, those that
-- were optional made nullable; ai_extract sends this form to every provider,
-- and checks the answer against it.
CREATE FUNCTION ai_gateway.strict_schema(schema jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result jsonb := schema;
    props jsonb;
    req jsonb;
    k text;
    sub jsonb;
BEGIN
    IF schema IS NULL OR jsonb_typeof(schema) <> 'object' THEN
        RETURN schema;
    END IF;
    IF schema ->> 'type' = 'object' OR schema ? 'properties' THEN
        props := coalesce(schema -> 'properties', '{}');
        req := coalesce(schema -> 'required', '[]');
        FOR k, sub IN SELECT key, value FROM jsonb_each(props) LOOP
            sub := ai_gateway.strict_schema(sub);
            IF NOT req ? k THEN
                IF jsonb_typeof(sub -> 'type') = 'string' AND sub ->> 'type' <> 'null' THEN
                    sub := jsonb_set(sub, '{type}', jsonb_build_array(sub -> 'type', 'null'));
                ELSIF jsonb_typeof(sub -> 'type') = 'array' AND NOT (sub -> 'type') ? 'null' THEN
                    sub := jsonb_set(sub, '{type}', (sub -> 'type') || '["null"]');
                END IF;
                req := req || to_jsonb(k);
            END IF;
            props := jsonb_set(props, ARRAY[k], sub);
        END LOOP;
        result := result || jsonb_build_object('type', 'object', 'properties', props,
                                               'required', req, 'additionalProperties', false);
    END IF;
    IF jsonb_typeof(schema -> 'items') = 'object' THEN
        result := jsonb_set(result, '{items}', ai_gateway.strict_schema(schema -> 'items'));
    END IF;
    IF jsonb_typeof(schema -> 'anyOf') = 'array' THEN
        result := jsonb_set(result, '{anyOf}',
            (SELECT jsonb_agg(ai_gateway.strict_schema(e)) FROM jsonb_array_elements(schema -> 'anyOf') e));
    END IF;
    RETURN result;
END $$;

CREATE FUNCTION @extschema@.ai_extract(input text, schema jsonb, model text DEFAULT NULL,
                                       options jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF input IS NULL OR schema IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(schema) <> 'object' THEN
        RAISE EXCEPTION 'ai_extract: schema must be a JSON schema object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}.';
    END IF;
    IF options ? 'response_format' THEN
        RAISE EXCEPTION 'ai_extract: options must not carry response_format'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'ai_extract asks for the schema itself; use ai_chat for another response_format.';
    END IF;
    RETURN (@extschema@.ai_chat(
        jsonb_build_array(
            jsonb_build_object('role', 'system', 'content',
                'Extract the information described by this JSON schema from the user''s text. '
                || 'Answer with one JSON value of the schema and nothing else; use null for what the text does not say. Schema: '
                || schema::text),
            jsonb_build_object('role', 'user', 'content', input)),
        model,
        coalesce(options, '{}') || jsonb_build_object('response_format', jsonb_build_object(
            'type', 'json_schema',
            'json_schema', jsonb_build_object('name', 'extraction', 'strict', true,
                                              'schema', ai_gateway.strict_schema(schema)))))
        ->> 'content')::jsonb;
END $$;
COMMENT ON FUNCTION @extschema@.ai_extract(text, jsonb, text, jsonb) IS
    'Structured extraction: a JSON value of the schema from the text, asked for by each provider''s native means (json_schema, responseSchema, a forced tool, format) and checked; a non-conforming answer is retried and failed over (UP005)';

------------------------------------------------------------------------------
-- SQL functions as tools: the schema from the signature, the call, the loop
------------------------------------------------------------------------------

-- (section: tools)
-- The JSON schema of a value of type typ, as a tool argument.
CREATE FUNCTION ai_gateway.type_schema(typ oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
BEGIN
    SELECT oid, typtype, typcategory, typelem, typlen, typbasetype INTO t FROM pg_type WHERE oid = typ;
    IF t.typtype = 'd' THEN
        RETURN ai_gateway.type_schema(t.typbasetype);
    END IF;
    IF t.typtype = 'e' THEN
        RETURN jsonb_build_object('type', 'string', 'enum',
            (SELECT jsonb_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = typ));
    END IF;
    IF t.typcategory = 'A' AND t.typelem <> 0 THEN
        RETURN jsonb_build_object('type', 'array', 'items', ai_gateway.type_schema(t.typelem));
    END IF;
    IF t.typtype = 'c' OR typ IN ('record'::regtype, 'anyelement'::regtype, 'anyarray'::regtype) THEN
        RAISE EXCEPTION 'a tool argument cannot be of type %', format_type(typ, NULL)
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Tool arguments are scalars, arrays, enums, json or jsonb.';
    END IF;
    RETURN CASE
        WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN '{"type": "integer"}'
        WHEN typ IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype) THEN '{"type": "number"}'
        WHEN typ = 'bool'::regtype THEN '{"type": "boolean"}'
        WHEN typ = 'date'::regtype THEN '{"type": "string", "format": "date"}'
        WHEN typ IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN '{"type": "string", "format": "date-time"}'
        WHEN typ = 'uuid'::regtype THEN '{"type": "string", "format": "uuid"}'
        WHEN typ IN ('json'::regtype, 'jsonb'::regtype) THEN '{}'
        WHEN t.typcategory = 'S' THEN '{"type": "string"}'
        ELSE jsonb_build_object('type', 'string', 'description', 'a ' || format_type(typ, NULL) || ' value')
    END;
END $$;

-- The tool a SQL function makes: its name, its comment as the description
-- ("@param name text" lines describe arguments), its input arguments as the
-- parameters schema (those without a default are required).
CREATE FUNCTION ai_gateway.tool_schema(fn regprocedure) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    props jsonb := '{}';
    req jsonb := '[]';
    modes text[];
    types oid[];
    names text[];
    k int := 0;
    descr text;
    pdesc jsonb := '{}';
    line text;
    m text[];
    sch jsonb;
BEGIN
    SELECT pr.oid, pr.proname, pr.prokind, pr.pronargs, pr.pronargdefaults, pr.proargnames,
           pr.proargmodes::text[] AS modes, pr.proallargtypes, ARRAY(SELECT unnest(pr.proargtypes::oid[])) AS argtypes,
           obj_description(pr.oid, 'pg_proc') AS comment
      INTO p FROM pg_proc pr WHERE pr.oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function % does not exist', fn USING ERRCODE = 'undefined_function';
    END IF;
    IF p.prokind <> 'f' THEN
        RAISE EXCEPTION '% is not a plain function', fn
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Procedures, aggregates and window functions cannot be tools.';
    END IF;
    IF p.proname !~ '^[A-Za-z0-9_-]{1,64}$' THEN
        RAISE EXCEPTION 'function name "%" cannot be a tool name', p.proname
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A tool name is 1 to 64 letters, digits, underscores or hyphens: wrap the function in one so named.';
    END IF;
    modes := coalesce(p.modes, array_fill('i'::text, ARRAY[p.pronargs]));
    types := coalesce(p.proallargtypes, p.argtypes);
    names := coalesce(p.proargnames, '{}');
    -- the comment: "@param name text" lines describe arguments, the rest the tool
    FOREACH line IN ARRAY string_to_array(coalesce(p.comment, ''), E'\n') LOOP
        m := regexp_match(line, '^\s*@param\s+(\S+)\s+(.*)$');
        IF m IS NULL THEN
            descr := concat_ws(E'\n', descr, line);
        ELSE
            pdesc := pdesc || jsonb_build_object(m[1], m[2]);
        END IF;
    END LOOP;
    FOR j IN 1 .. coalesce(array_length(modes, 1), 0) LOOP
        CONTINUE WHEN modes[j] NOT IN ('i', 'b', 'v');
        k := k + 1;
        IF names[j] IS NULL OR names[j] = '' THEN
            RAISE EXCEPTION 'argument % of % has no name', k, fn
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The model passes arguments by name: name them, e.g. CREATE FUNCTION f(city text).';
        END IF;
        sch := ai_gateway.type_schema(types[j]);
        IF pdesc ? names[j] THEN
            sch := sch || jsonb_build_object('description', pdesc ->> names[j]);
        END IF;
        props := props || jsonb_build_object(names[j], sch);
        IF k <= p.pronargs - p.pronargdefaults THEN
            req := req || to_jsonb(names[j]);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('name', p.proname,
                              'description', coalesce(nullif(btrim(descr, E' \n'), ''), p.proname),
                              'parameters', jsonb_build_object('type', 'object', 'properties', props,
                                                               'required', req));
END $$;

-- Call fn with the model's arguments (a JSON object, by argument name) as
-- the calling role; at most max_rows rows come back, as JSON.  The function
-- runs with search_path (the caller's, from ai_chat_tools) when one is given,
-- else with this function's pinned one.
CREATE FUNCTION ai_gateway.call_tool(fn regprocedure, arguments jsonb, max_rows int DEFAULT 50,
                                     search_path text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    modes text[];
    types oid[];
    names text[];
    k int := 0;
    args text[] := '{}';
    expr text;
    sql text;
    rows jsonb;
    ret_composite bool;
    result jsonb;
BEGIN
    IF NOT has_function_privilege(fn, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function %', fn
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A tool runs with the caller''s rights: offer only functions you may EXECUTE.';
    END IF;
    IF arguments IS NULL OR jsonb_typeof(arguments) <> 'object' THEN
        RAISE EXCEPTION 'tool arguments must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
        RAISE EXCEPTION 'max_rows must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pr.oid, pr.proname, pr.pronamespace::regnamespace AS nsp, pr.pronargs, pr.pronargdefaults,
           pr.proargnames, pr.proargmodes::text[] AS modes, pr.proallargtypes,
           ARRAY(SELECT unnest(pr.proargtypes::oid[])) AS argtypes, pr.prorettype, pr.proretset, pr.prokind,
           (SELECT typtype FROM pg_type WHERE oid = pr.prorettype) AS rettyptype
      INTO p FROM pg_proc pr WHERE pr.oid = fn;
    IF p.prokind <> 'f' THEN
        RAISE EXCEPTION '% is not a plain function', fn USING ERRCODE = 'feature_not_supported';
    END IF;
    modes := coalesce(p.modes, array_fill('i'::text, ARRAY[p.pronargs]));
    types := coalesce(p.proallargtypes, p.argtypes);
    names := coalesce(p.proargnames, '{}');
    FOR j IN 1 .. coalesce(array_length(modes, 1), 0) LOOP
        CONTINUE WHEN modes[j] NOT IN ('i', 'b', 'v');
        k := k + 1;
        IF NOT arguments ? names[j] OR arguments -> names[j] = 'null'::jsonb THEN
            IF k <= p.pronargs - p.pronargdefaults THEN
                RAISE EXCEPTION 'argument "%" is missing', names[j]
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            CONTINUE;
        END IF;
        IF types[j] IN ('json'::regtype, 'jsonb'::regtype) THEN
            expr := format('($1 -> %L)::%s', names[j], format_type(types[j], NULL));
        ELSIF (SELECT typcategory = 'A' FROM pg_type WHERE oid = types[j]) THEN
            expr := format('(SELECT array_agg(x) FROM jsonb_array_elements_text($1 -> %L) x)::%s',
                           names[j], format_type(types[j], NULL));
        ELSE
            expr := format('($1 ->> %L)::%s', names[j], format_type(types[j], NULL));
        END IF;
        args := args || format('%I => %s', names[j], expr);
    END LOOP;
    sql := format('%I.%I(%s)', p.nsp, p.proname, array_to_string(args, ', '));
    IF search_path IS NOT NULL THEN
        PERFORM set_config('search_path', search_path, true);
    END IF;
    ret_composite := p.rettyptype = 'c' OR p.prorettype = 'record'::regtype;
    IF p.prorettype = 'void'::regtype THEN
        EXECUTE 'SELECT ' || sql USING arguments;
        RETURN '{"ok": true}';
    ELSIF p.proretset OR ret_composite THEN
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(r)), ''[]'') FROM (SELECT * FROM %s LIMIT %s) r',
                       sql, max_rows + 1)
            INTO rows USING arguments;
        IF jsonb_array_length(rows) > max_rows THEN
            RETURN jsonb_build_object('rows', rows - max_rows, 'truncated', true,
                                      'note', format('only the first %s rows', max_rows));
        END IF;
        RETURN CASE WHEN p.proretset THEN jsonb_build_object('rows', rows) ELSE rows -> 0 END;
    END IF;
    EXECUTE format('SELECT to_jsonb(%s)', sql) INTO result USING arguments;
    RETURN coalesce(result, 'null');
END $$;

-- The whole tool loop: offer the functions as tools, run each call the model
-- makes (as the caller, each in its own subtransaction), send the results
-- back, until the model answers or max_tool_rounds is reached.
CREATE FUNCTION ai_gateway.run_tools(messages jsonb, tools regprocedure[], model text,
                                     options jsonb, search_path text)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    max_rounds int;
    max_rows int;
    max_result_bytes constant int := 65536;
    defs jsonb := '[]';
    byname jsonb := '{}';
    def jsonb;
    fn regprocedure;
    opts jsonb;
    msgs jsonb := messages;
    res jsonb;
    call jsonb;
    result jsonb;
    result_text text;
    steps jsonb := '[]';
    called jsonb := '[]';
BEGIN
    IF messages IS NULL THEN
        RETURN NULL;
    END IF;
    options := coalesce(options, '{}');
    IF tools IS NULL OR cardinality(tools) = 0 THEN
        RAISE EXCEPTION 'ai_chat_tools needs at least one tool function'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ARRAY[''lookup_price(text)''::regprocedure].';
    END IF;
    IF options ? 'tools' OR options ? 'tool_choice' THEN
        RAISE EXCEPTION 'ai_chat_tools: options must not carry tools or tool_choice'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The tools are the functions passed in; use ai_chat to offer tools yourself.';
    END IF;
    max_rounds := coalesce((options ->> 'max_tool_rounds')::int, 5);
    max_rows := coalesce((options ->> 'max_tool_rows')::int, 50);
    IF max_rounds NOT BETWEEN 1 AND 50 OR max_rows NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_tool_rounds must be between 1 and 50 and max_tool_rows between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH fn IN ARRAY tools LOOP
        IF NOT has_function_privilege(fn, 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied for function %', fn
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A tool runs with the caller''s rights: offer only functions you may EXECUTE.';
        END IF;
        def := ai_gateway.tool_schema(fn);
        IF byname ? (def ->> 'name') THEN
            RAISE EXCEPTION 'two tools are named "%"', def ->> 'name'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Tool names must be distinct: wrap one of the functions under another name.';
        END IF;
        byname := byname || jsonb_build_object(def ->> 'name', fn::oid);
        defs := defs || def;
    END LOOP;
    opts := (options - 'max_tool_rounds' - 'max_tool_rows') || jsonb_build_object('tools', defs);
    FOR round IN 1 .. max_rounds + 1 LOOP
        res := @extschema@.ai_chat(msgs, model, opts || jsonb_build_object('metadata',
                   coalesce(options -> 'metadata', '{}')
                   || jsonb_build_object('tool_round', round, 'tools_called', called)));
        IF coalesce(jsonb_array_length(res -> 'tool_calls'), 0) = 0 THEN
            RETURN res || jsonb_build_object('tool_rounds', round - 1, 'tool_steps', steps);
        END IF;
        IF round > max_rounds THEN
            RAISE EXCEPTION 'the model still asked for tools after % rounds', max_rounds
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = 'Raise options.max_tool_rounds, or make the question narrower.';
        END IF;
        msgs := msgs || jsonb_build_array(jsonb_build_object('role', 'assistant',
                    'content', res -> 'content', 'tool_calls', res -> 'tool_calls'));
        called := '[]';
        FOR call IN SELECT value FROM jsonb_array_elements(res -> 'tool_calls') LOOP
            IF NOT byname ? (call ->> 'name') THEN
                result := jsonb_build_object('error', format('there is no tool named %s', call ->> 'name'));
            ELSE
                BEGIN
                    result := ai_gateway.call_tool((byname ->> (call ->> 'name'))::oid::regprocedure,
                                                   call -> 'arguments', max_rows, run_tools.search_path);
                EXCEPTION WHEN OTHERS THEN
                    result := jsonb_build_object('error', SQLERRM);
                END;
            END IF;
            result_text := result::text;
            IF octet_length(result_text) > max_result_bytes THEN
                result_text := left(result_text, max_result_bytes / 4) || ' ... (truncated)';
            END IF;
            msgs := msgs || jsonb_build_array(jsonb_build_object('role', 'tool',
                        'tool_call_id', call ->> 'id', 'name', call ->> 'name', 'content', result_text));
            called := called || to_jsonb(call ->> 'name');
            steps := steps || jsonb_build_object('round', round, 'name', call ->> 'name',
                        'arguments', call -> 'arguments', 'result', result);
        END LOOP;
    END LOOP;
    RETURN NULL;                -- not reached
END $$;
-- The entry points read the caller's search_path before any pinned function
-- runs (tools_api.c) and call run_tools with it.
CREATE FUNCTION @extschema@.ai_chat_tools(messages jsonb, tools regprocedure[],
                                          model text DEFAULT NULL, options jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_chat_tools';
COMMENT ON FUNCTION @extschema@.ai_chat_tools(jsonb, regprocedure[], text, jsonb) IS
    'Chat with SQL functions as tools: their schemas from the signatures and comments, each call run as the caller with the caller''s search_path (max_tool_rows rows back), at most max_tool_rounds rounds, each round audited; returns the final ai_chat object plus tool_rounds and tool_steps';

CREATE FUNCTION @extschema@.ai_complete_tools(prompt text, tools regprocedure[],
                                              model text DEFAULT NULL, options jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_complete_tools';
COMMENT ON FUNCTION @extschema@.ai_complete_tools(text, regprocedure[], text, jsonb) IS
    'Answer a prompt with SQL functions as tools (see ai_chat_tools); returns the text';

-- (section: presets)
-- Provider presets (issue 15, item 5): OpenAI-compatible APIs by kind with
-- their own default base URL, capabilities and quirks; provider_info()
-- shows how each provider resolved.
CREATE FUNCTION ai_gateway.provider_info()
    RETURNS TABLE (provider text, kind text, base_url text, embeddings boolean,
                   max_embed_batch int, capabilities text[], quirks text)
    LANGUAGE C STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'aig_provider_info';
COMMENT ON FUNCTION ai_gateway.provider_info() IS
    'Each provider as the gateway resolved it: kind, the base URL it calls (stored or the kind''s default), embeddings and their batch size, capabilities (tools, images, image_urls, documents, json_schema), and what a preset kind changes in the OpenAI format';

-- shipped prices of preset kinds (only where the stored pricing pages give them)
CREATE OR REPLACE FUNCTION ai_gateway.refresh_model_prices() RETURNS int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM ai_gateway.model_catalog;
    INSERT INTO ai_gateway.model_catalog
        (kind, model, input_usd_per_mtok, output_usd_per_mtok, context_window, as_of, source)
    SELECT v.kind, v.model, v.i, v.o, v.cw, date '2026-12-02', v.src
      FROM (VALUES
        ('openai', 'gpt-4o',                 2.50,  10.00,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4o-mini',            0.15,   0.60,  128000, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1',                2.00,   8.00, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-mini',           0.40,   1.60, 1047576, 'openai.com/api/pricing'),
        ('openai', 'gpt-4.1-nano',           0.10,   0.40, 1047576, 'openai.com/api/pricing'),
        ('openai', 'o3',                     2.00,   8.00,  200000, 'openai.com/api/pricing'),
        ('openai', 'o3-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'o4-mini',                1.10,   4.40,  200000, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-small', 0.02,   NULL,    8191, 'openai.com/api/pricing'),
        ('openai', 'text-embedding-3-large', 0.13,   NULL,    8191, 'openai.com/api/pricing'),
        ('anthropic', 'claude-3-5-haiku-latest',    0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-haiku-20241022',  0.80,  4.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20241022', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-5-sonnet-20240620', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-latest',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-3-7-sonnet-20250219', 3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-0',          3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-sonnet-4-20250514',   3.00, 15.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-0',           15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('anthropic', 'claude-opus-4-20250514',    15.00, 75.00, 200000, 'anthropic.com/pricing'),
        ('gemini', 'gemini-1.5-flash',       0.075,  0.30, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-1.5-pro',         1.25,   5.00, 2097152, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.0-flash',       0.10,   0.40, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-flash',       0.30,   2.50, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'gemini-2.5-pro',         1.25,  10.00, 1048576, 'ai.google.dev/gemini-api/docs/pricing'),
        ('gemini', 'text-embedding-004',     NULL,   NULL,    2048, 'ai.google.dev/gemini-api/docs/models'),
        ('cohere', 'command-r-08-2024',      0.15,   0.60,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-r-plus-08-2024', 2.50,  10.00,  128000, 'cohere.com/pricing'),
        ('cohere', 'command-a-03-2025',      2.50,  10.00,  256000, 'cohere.com/pricing'),
        ('cohere', 'embed-english-v3.0',     0.10,   NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-multilingual-v3.0', 0.10,  NULL,     512, 'cohere.com/pricing'),
        ('cohere', 'embed-v4.0',             0.12,   NULL,  128000, 'cohere.com/pricing'),
        -- presets: only where the stored pages give the price (cache-miss input)
        ('deepseek', 'deepseek-v4-flash',    0.14,   0.28,    NULL, 'api-docs.deepseek.com/quick_start/pricing')
      ) AS v(kind, model, i, o, cw, src);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION ai_gateway.refresh_model_prices() IS
    'Reload ai_gateway.model_catalog with the list shipped in this version; returns the number of models';
SELECT ai_gateway.refresh_model_prices();
------------------------------------------------------------------------------
-- Enrichment pipelines (issue 16, item 1): keep a column of a table equal to
-- an embedding, completion or extraction of a source expression, computed in
-- the background (background/pipelines.c) as the role that created it.
------------------------------------------------------------------------------

-- (section: pipelines)
CREATE TABLE ai_gateway.pipelines (
    id             serial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    source         regclass NOT NULL,
    source_expr    text NOT NULL,
    target_column  name NOT NULL,
    model          text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('embed', 'complete', 'extract')),
    options        jsonb NOT NULL DEFAULT '{}',
    key_columns    name[] NOT NULL,
    source_columns name[] NOT NULL,
    search_path    text NOT NULL,
    owner          regrole NOT NULL,
    paused         boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    done           bigint NOT NULL DEFAULT 0,
    skipped        bigint NOT NULL DEFAULT 0,
    last_run_at    timestamptz,
    busy_since     timestamptz,
    busy_rows      bigint NOT NULL DEFAULT 0,
    rows_per_s     double precision,
    backoffs       int NOT NULL DEFAULT 0,
    retry_at       timestamptz,
    last_error     text
) WITH (fillfactor = 50);
COMMENT ON TABLE ai_gateway.pipelines IS
    'Enrichment pipelines (create_pipeline): definitions and counters; see the pipeline_status view';

-- Writers append (pipeline, row key, hash of the source columns); the worker
-- deletes what it claims (FOR UPDATE SKIP LOCKED), so the table holds only
-- what is still to do, and autovacuum, told to look often, reuses the space.
CREATE TABLE ai_gateway.pipeline_queue (
    pipeline  int NOT NULL,
    source    oid NOT NULL,
    seq       bigserial,
    key       jsonb NOT NULL,
    hash      text NOT NULL,
    attempts  int NOT NULL DEFAULT 0,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, seq)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
        autovacuum_vacuum_cost_delay = 0);
COMMENT ON TABLE ai_gateway.pipeline_queue IS
    'Rows waiting for a pipeline: appended by the pipelines'' triggers, deleted by the worker as it claims them';
-- The triggers run as the writer: a writer may queue rows of the tables it
-- writes (the worker only takes rows of the pipeline's own table), nothing else.
ALTER TABLE ai_gateway.pipeline_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_queue_writers ON ai_gateway.pipeline_queue FOR INSERT
    WITH CHECK (has_any_column_privilege(source, 'INSERT') OR has_any_column_privilege(source, 'UPDATE'));
GRANT INSERT (pipeline, source, key, hash) ON ai_gateway.pipeline_queue TO PUBLIC;
GRANT USAGE ON SEQUENCE ai_gateway.pipeline_queue_seq_seq TO PUBLIC;

CREATE TABLE ai_gateway.pipeline_failed (
    pipeline   int NOT NULL,
    key        jsonb NOT NULL,
    error      text NOT NULL,
    sqlstate   text,
    attempts   int NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, key)
);
COMMENT ON TABLE ai_gateway.pipeline_failed IS
    'Rows a pipeline could not compute, with the error (see the pipeline_failures view)';

SELECT pg_catalog.pg_extension_config_dump('ai_gateway.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('ai_gateway.pipelines_id_seq', '');

-- Runs a pipeline action as the extension's owner, the caller passed along (pipeline_api.c).
CREATE FUNCTION ai_gateway.pipeline_admin(action text, args jsonb) RETURNS jsonb
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_pipeline_admin';

-- The hash of a row's source columns, as the triggers and the worker write it.
CREATE FUNCTION ai_gateway.pipeline_hash_sql(source_columns name[], alias text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('md5(ROW(%s)::text)',
                  string_agg(quote_ident(alias) || '.' || quote_ident(c) || '::text', ', ' ORDER BY o))
    FROM unnest(source_columns) WITH ORDINALITY AS u(c, o)
$$;

-- The row key as jsonb, and the join of a table row to a key.
CREATE FUNCTION ai_gateway.pipeline_key_sql(key_columns name[], alias text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('jsonb_build_object(%s)',
                  string_agg(quote_literal(c) || ', ' || quote_ident(alias) || '.' || quote_ident(c), ', ' ORDER BY o))
    FROM unnest(key_columns) WITH ORDINALITY AS u(c, o)
$$;

CREATE FUNCTION ai_gateway.pipeline_key_join(source regclass, key_columns name[], alias text, key_expr text)
    RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(format('%I.%I = (%s ->> %L)::%s', alias, c, key_expr, c,
                             format_type(a.atttypid, a.atttypmod)), ' AND ' ORDER BY o)
    FROM unnest(key_columns) WITH ORDINALITY AS u(c, o)
    JOIN pg_attribute a ON a.attrelid = source AND a.attname = u.c
$$;

-- The actions, as the extension's owner; `caller` is the role that asked.
CREATE FUNCTION ai_gateway.pipeline_admin_do(action text, args jsonb, caller regrole) RETURNS jsonb
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
    fn       text;
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
        fn := format('ai_gateway.pipeline_%s_insert', pid);
        EXECUTE format($f$CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $b$
                          BEGIN
                              INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash)
                              SELECT %s, %s, %s, %s FROM pipeline_new_rows AS n;
                              RETURN NULL;
                          END $b$
                       $f$, fn, pid, src::oid, ai_gateway.pipeline_key_sql(keys, 'n'),
                       ai_gateway.pipeline_hash_sql(cols, 'n'));
        EXECUTE format('REVOKE ALL ON FUNCTION %s() FROM PUBLIC', fn);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS pipeline_new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       'ai_pipeline_' || pid || '_insert', src, fn);
        fn := format('ai_gateway.pipeline_%s_update', pid);
        EXECUTE format($f$CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $b$
                          BEGIN
                              INSERT INTO ai_gateway.pipeline_queue (pipeline, source, key, hash)
                              VALUES (%s, %s, %s, %s);
                              RETURN NULL;
                          END $b$
                       $f$, fn, pid, src::oid, ai_gateway.pipeline_key_sql(keys, 'new'),
                       ai_gateway.pipeline_hash_sql(cols, 'new'));
        EXECUTE format('REVOKE ALL ON FUNCTION %s() FROM PUBLIC', fn);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %s ON %s FOR EACH ROW WHEN (%s) EXECUTE FUNCTION %s()',
                       'ai_pipeline_' || pid || '_update',
                       (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c), src,
                       (SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ') FROM unnest(cols) c),
                       fn);
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
        EXECUTE format('DROP FUNCTION IF EXISTS ai_gateway.pipeline_%s_insert()', p.id);
        EXECUTE format('DROP FUNCTION IF EXISTS ai_gateway.pipeline_%s_update()', p.id);
        DELETE FROM ai_gateway.pipeline_queue WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipeline_failed WHERE pipeline = p.id;
        DELETE FROM ai_gateway.pipelines WHERE id = p.id;
        RETURN jsonb_build_object('dropped', true);
    END IF;
    RAISE EXCEPTION 'unknown pipeline action %', action USING ERRCODE = 'invalid_parameter_value';
END $adm$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_admin_do(text, jsonb, regrole) FROM PUBLIC;

CREATE FUNCTION ai_gateway.create_pipeline(name text, source regclass, source_expr text,
                                           target_column name, model text,
                                           kind text DEFAULT 'embed', options jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aig_create_pipeline';
COMMENT ON FUNCTION ai_gateway.create_pipeline(text, regclass, text, name, text, text, jsonb) IS
    'Keep target_column of a table equal to an embedding (kind embed), completion (complete) or extraction (extract, options.schema) of source_expr through model, in the background as the calling role; queues the existing rows; returns how many';

CREATE FUNCTION ai_gateway.pause_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('pause', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.resume_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('resume', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.drop_pipeline(name text) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ai_gateway.pipeline_admin('drop', jsonb_build_object('name', name)); $$;
CREATE FUNCTION ai_gateway.retry_pipeline_failures(name text) RETURNS bigint
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (ai_gateway.pipeline_admin('retry', jsonb_build_object('name', name)) ->> 'queued')::bigint
$$;
COMMENT ON FUNCTION ai_gateway.pause_pipeline(text) IS 'Stop computing a pipeline''s rows (writers still queue them)';
COMMENT ON FUNCTION ai_gateway.resume_pipeline(text) IS 'Compute a paused (or backing-off) pipeline''s rows again';
COMMENT ON FUNCTION ai_gateway.drop_pipeline(text) IS 'Drop a pipeline: its triggers, queue and failures (the target column keeps its values)';
COMMENT ON FUNCTION ai_gateway.retry_pipeline_failures(text) IS 'Queue a pipeline''s failed rows again; returns how many';

-- Whether a failure with this SQLSTATE may pass (an outage, a rate limit): the row is kept queued.
CREATE FUNCTION ai_gateway.pipeline_retryable(state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (left(state, 2) = 'UP' AND state <> 'UP005') OR state IN ('53000', '58000', '40001', '40P01', '55P03')
$$;

-- One batch of a pipeline, as its owner (the worker switches to it): reads
-- the rows' source, calls the model through the call pipeline, writes back
-- where the source columns still hash as read.  One row out per input row:
-- done, skipped (changed or gone meanwhile: queued again by its trigger),
-- retry or failed (with the error).
CREATE FUNCTION ai_gateway.pipeline_compute(pipeline_name text, source regclass, source_expr text,
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
    EXCEPTION WHEN others THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RETURN QUERY SELECT o, CASE WHEN ai_gateway.pipeline_retryable(st) THEN 'retry' ELSE 'failed' END, msg, st
                       FROM unnest(all_ords) o WHERE NOT o = ANY (reported);
        reported := reported || all_ords;
        nulls_w := '{}';
    END;
    -- the rest: written, or skipped (changed, deleted, or the same key twice in the batch)
    RETURN QUERY SELECT g::int, CASE WHEN g = ANY (coalesce(written, '{}') || coalesce(nulls_w, '{}')) THEN 'done' ELSE 'skipped' END,
                        NULL::text, NULL::text
                   FROM generate_series(1, cardinality(keys)) g
                  WHERE NOT g = ANY (reported);
END $$;

-- The worker's bookkeeping for one batch (as the extension's owner): rows to
-- retry go back to the queue, failures are kept, counters and backoff.
CREATE FUNCTION ai_gateway.pipeline_settle(pid int, seqs bigint[], keys jsonb[], hashes text[], attempts int[],
                                           outcomes text[], errors text[], states text[], started timestamptz)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n_done  int;
    n_skip  int;
    n_retry int;
    own     boolean;
BEGIN
    SELECT count(*) FILTER (WHERE o = 'done'), count(*) FILTER (WHERE o = 'skipped'),
           count(*) FILTER (WHERE o = 'retry')
      INTO n_done, n_skip, n_retry FROM unnest(outcomes) o;
    -- a row failing alone (others of its batch went through) used an attempt; an outage does not count
    own := n_done > 0;
    INSERT INTO ai_gateway.pipeline_failed AS f (pipeline, key, error, sqlstate, attempts)
    SELECT pid, u.k, coalesce(u.e, 'failed'), u.s, u.a + 1
      FROM unnest(keys, outcomes, errors, states, attempts) AS u(k, o, e, s, a)
     WHERE u.o = 'failed' OR (u.o = 'retry' AND own AND u.a + 1 >= 10)
    ON CONFLICT (pipeline, key) DO UPDATE SET error = excluded.error, sqlstate = excluded.sqlstate,
        attempts = f.attempts + 1, failed_at = now();
    INSERT INTO ai_gateway.pipeline_queue (pipeline, source, seq, key, hash, attempts)
    SELECT pid, (SELECT p.source FROM ai_gateway.pipelines p WHERE p.id = pid), u.q, u.k, u.h,
           u.a + CASE WHEN own THEN 1 ELSE 0 END
      FROM unnest(seqs, keys, hashes, outcomes, attempts) AS u(q, k, h, o, a)
     WHERE u.o = 'retry' AND NOT (own AND u.a + 1 >= 10);
    IF n_done > 0 THEN
        DELETE FROM ai_gateway.pipeline_failed f USING unnest(keys, outcomes) AS u(k, o)
         WHERE f.pipeline = pid AND f.key = u.k AND u.o = 'done';
    END IF;
    UPDATE ai_gateway.pipelines p SET
        done = p.done + n_done, skipped = p.skipped + n_skip, last_run_at = now(),
        busy_since = coalesce(p.busy_since, started),
        busy_rows = p.busy_rows + n_done + n_skip,
        rows_per_s = (p.busy_rows + n_done + n_skip)
                     / greatest(extract(epoch FROM clock_timestamp() - coalesce(p.busy_since, started)), 0.001),
        backoffs = CASE WHEN n_retry > 0 AND n_done = 0 THEN p.backoffs + 1 ELSE 0 END,
        retry_at = CASE WHEN n_retry > 0 AND n_done = 0
                        THEN clock_timestamp() + make_interval(secs => least(30, 0.25 * power(2, p.backoffs))) END,
        last_error = CASE WHEN n_retry > 0 OR n_done < cardinality(outcomes) - n_skip
                          THEN (SELECT e FROM unnest(errors) e WHERE e IS NOT NULL LIMIT 1) ELSE p.last_error END
     WHERE p.id = pid;
END $$;
REVOKE ALL ON FUNCTION ai_gateway.pipeline_settle(int, bigint[], jsonb[], text[], int[], text[], text[], text[], timestamptz) FROM PUBLIC;

-- Completions with their retryability (ai_complete_batch's, for pipeline_compute).
CREATE FUNCTION ai_gateway.pipeline_complete_batch(prompts text[], model text, system_prompt text, options jsonb)
    RETURNS TABLE (ordinality int, completion text, error text, retryable boolean, sqlstate text)
    LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
    AS 'MODULE_PATHNAME', 'aig_pipeline_complete_batch';

-- The failed rows of the pipelines a role owns (all, for administrators).
CREATE VIEW ai_gateway.pipeline_failures AS
SELECT p.name AS pipeline, f.key, f.error, f.sqlstate, f.attempts, f.failed_at
  FROM ai_gateway.pipeline_failed f JOIN ai_gateway.pipelines p ON p.id = f.pipeline
 WHERE pg_has_role(p.owner, 'USAGE') OR ai_gateway.is_admin();
COMMENT ON VIEW ai_gateway.pipeline_failures IS
    'Rows a pipeline could not compute, with the error and SQLSTATE (retry_pipeline_failures queues them again)';
GRANT SELECT ON ai_gateway.pipeline_failures TO PUBLIC;

CREATE VIEW ai_gateway.pipeline_status AS
SELECT p.name, p.source, p.target_column, p.kind, p.model, p.owner,
       CASE WHEN p.paused THEN 'paused'
            WHEN p.retry_at > now() THEN 'backing off'
            WHEN q.queued > 0 THEN 'running' ELSE 'idle' END AS state,
       q.queued, p.done, p.skipped,
       (SELECT count(*) FROM ai_gateway.pipeline_failed f WHERE f.pipeline = p.id) AS failed,
       round(p.rows_per_s::numeric, 1) AS rows_per_s,
       CASE WHEN q.queued > 0 AND p.rows_per_s > 0
            THEN make_interval(secs => round(q.queued / p.rows_per_s)) END AS eta,
       p.retry_at, p.last_error, p.last_run_at, p.created_at
  FROM ai_gateway.pipelines p
  CROSS JOIN LATERAL (SELECT count(*) AS queued FROM ai_gateway.pipeline_queue q WHERE q.pipeline = p.id) q
 WHERE pg_has_role(p.owner, 'USAGE') OR ai_gateway.is_admin();
COMMENT ON VIEW ai_gateway.pipeline_status IS
    'Each pipeline the role owns (all, for administrators): state, queued, done, skipped, failed, rows/s and ETA';
GRANT SELECT ON ai_gateway.pipeline_status TO PUBLIC;
------------------------------------------------------------------------------
-- The async job queue at scale (issue 16, item 5)
------------------------------------------------------------------------------

-- (section: scale)
-- A queue table: every job is an INSERT and two UPDATEs of the indexed status
-- (never HOT), so it leaves two dead tuples each.  Autovacuum looks at it
-- after 1000 + 2% of its rows changed (not the default 50 + 20%, which
-- lets a table of finished jobs grow by a fifth between vacuums), unthrottled
-- (a small hot table vacuums in moments), so the space of finished jobs'
-- old versions is reused by the next ones instead of growing the table.
-- (fillfactor is left at 100: the versions are not HOT, a lower one only
-- spreads the rows over more pages; measured by test/bench/bench_job_queue.sh.)
ALTER TABLE ai_gateway.jobs SET (
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0);
