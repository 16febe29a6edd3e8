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
