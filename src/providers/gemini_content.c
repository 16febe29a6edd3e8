/*
 * gemini_content.c — the request body of a Gemini generateContent call
 * (aig_gemini_chat_body), apart from its URL and headers so that another
 * Google endpoint (vertex_ai) can send the same body elsewhere.
 *
 *	contents			user -> role "user", assistant -> role "model", each
 *						with "parts": text, inlineData (image/PDF bytes),
 *						fileData (a URL), functionCall (an assistant's
 *						calls); tool messages -> role "user" with
 *						functionResponse parts (consecutive ones in one
 *						content, as Gemini wants the answers to parallel
 *						calls)
 *	systemInstruction	the system messages, joined
 *	tools				[{"functionDeclarations": [{name, description,
 *						parameters}]}]
 *	toolConfig			{"functionCallingConfig": {mode, allowedFunctionNames}}
 *	generationConfig	options, responseMimeType + responseSchema
 *
 * Schemas: the API document the gateway is checked against (revision
 * 20241016) takes an OpenAPI 3.0 subset in "parameters" and
 * "responseSchema" (type as "OBJECT", "STRING", ...; no
 * additionalProperties, $schema, $ref, anyOf, ...), and the API refuses
 * unknown members, so JSON schemas are translated (gemini_write_schema).
 */
#include "postgres.h"

#include <math.h>

#include "providers/gemini.h"

/*
 * Bounds on a translated schema: nesting, $refs followed on one path (a
 * recursive schema is unrolled this far), and schemas written in all (a
 * $def used many times at many levels would otherwise multiply).  Past
 * them a value is described as any text ({"type": "STRING"}).
 */
#define GEMINI_SCHEMA_MAX_DEPTH 32
#define GEMINI_SCHEMA_MAX_REFS	4
#define GEMINI_SCHEMA_MAX_NODES 2000

/* "parts": [{"text": text}] */
void
aig_gemini_text_parts(AigJsonWriter *w, const char *text)
{
	aig_jw_key(w, "parts");
	aig_jw_array_begin(w);
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "text", text);
	aig_jw_object_end(w);
	aig_jw_array_end(w);
}

/* ---- JSON schema -> Gemini Schema ---- */

typedef struct SchemaCtx
{
	AigJsonWriter *w;
	const AigJson *root;		/* for local $ref */
	int			depth;			/* nesting of the schema being written */
	int			refs;			/* $refs followed on the way to it */
	int			nodes;			/* schemas written so far */
	int			kept;			/* gemini_count_property's count */
	int			kept_level;		/* ... and the level it looks at */
} SchemaCtx;

static void gemini_write_schema(SchemaCtx *cx, const AigJson *s);
static bool gemini_free_object_at(const SchemaCtx *cx, const AigJson *s, int level);
static const char *gemini_member_ok(const char *key, const AigJson *value, void *arg);
static void gemini_write_value(AigJsonWriter *w, const AigJson *v);
static bool gemini_json_ok(const AigJson *v, int depth);

/* "#/$defs/Name" or "#/definitions/Name" in root, or NULL */
static const AigJson *
gemini_resolve_ref(const AigJson *root, const char *ref)
{
	if (ref == NULL)
		return NULL;
	if (strncmp(ref, "#/$defs/", 8) == 0)
		return aig_jpath(root, "$defs", ref + 8, (char *) NULL);
	if (strncmp(ref, "#/definitions/", 14) == 0)
		return aig_jpath(root, "definitions", ref + 14, (char *) NULL);
	if (strcmp(ref, "#") == 0)
		return root;
	return NULL;
}

/* The member of anyOf/oneOf/allOf to use, and whether a null one is in. */
static const AigJson *
gemini_pick_alternative(const AigJson *s, bool *nullable)
{
	static const char *const keys[] = {"anyOf", "oneOf", "allOf"};

	for (int k = 0; k < lengthof(keys); k++)
	{
		const AigJson *alts = aig_jget(s, keys[k]);
		const AigJson *pick = NULL;

		if (!aig_jis(alts, AIG_JSON_ARRAY) || aig_jlength(alts) == 0)
			continue;
		for (int i = 0; i < aig_jlength(alts); i++)
		{
			const AigJson *a = aig_jelem(alts, i);

			if (aig_jstring_eq(aig_jget(a, "type"), "null"))
				*nullable = true;
			else if (pick == NULL)
				pick = a;
		}
		return pick;
	}
	return NULL;
}

/*
 * Follow $refs and unions from s to the schema that says what the value is:
 * that schema, or NULL when a $ref is cut (GEMINI_SCHEMA_MAX_REFS on the
 * path); *nullable when a union allows null, *refs the $refs followed.
 */
static const AigJson *
gemini_resolve(const SchemaCtx *cx, const AigJson *s, bool *nullable, int *refs)
{
	for (int hops = 0; hops < GEMINI_SCHEMA_MAX_DEPTH; hops++)
	{
		const AigJson *next = NULL;

		if (!aig_jis(s, AIG_JSON_OBJECT))
			break;
		if (aig_jget(s, "$ref") != NULL)
		{
			if (cx->refs + *refs >= GEMINI_SCHEMA_MAX_REFS)
				return NULL;	/* recursion: cut here */
			next = gemini_resolve_ref(cx->root, aig_jstr(s, "$ref"));
			(*refs)++;
		}
		else if (aig_jget(s, "type") == NULL)
			next = gemini_pick_alternative(s, nullable);
		if (next == NULL)
			break;
		s = next;
	}
	return s;
}

/* JSON schema type name -> Gemini's, or NULL */
static const char *
gemini_type_name(const AigJson *t)
{
	static const char *const names[][2] = {
		{"string", "STRING"}, {"number", "NUMBER"}, {"integer", "INTEGER"},
		{"boolean", "BOOLEAN"}, {"array", "ARRAY"}, {"object", "OBJECT"},
	};

	for (int i = 0; i < lengthof(names); i++)
		if (aig_jstring_eq(t, names[i][0]))
			return names[i][1];
	return NULL;
}

/* s's type, Gemini's spelling; *nullable when it lists "null" */
static const char *
gemini_schema_type(const AigJson *s, bool *nullable)
{
	const AigJson *t = aig_jget(s, "type");
	const char *name = NULL;

	if (aig_jis(t, AIG_JSON_ARRAY))
	{
		for (int i = 0; i < aig_jlength(t); i++)
		{
			const AigJson *e = aig_jelem(t, i);

			if (aig_jstring_eq(e, "null"))
				*nullable = true;
			else if (name == NULL)
				name = gemini_type_name(e);
		}
	}
	else if (aig_jstring_eq(t, "null"))
		*nullable = true;
	else
		name = gemini_type_name(t);
	if (name != NULL)
		return name;
	/* no usable type: what the other members say it is */
	if (aig_jget(s, "properties") != NULL)
		return "OBJECT";
	if (aig_jget(s, "items") != NULL)
		return "ARRAY";
	return "STRING";
}

/* Are all elements of arr strings (and is there one)? */
static bool
gemini_all_strings(const AigJson *arr)
{
	if (!aig_jis(arr, AIG_JSON_ARRAY) || aig_jlength(arr) == 0)
		return false;
	for (int i = 0; i < aig_jlength(arr); i++)
		if (!aig_jis(aig_jelem(arr, i), AIG_JSON_STRING))
			return false;
	return true;
}

/*
 * Does s stand for an object without properties (a free-form object)?
 * Gemini refuses an OBJECT schema without properties, so such a member is
 * left out, and such a function or answer schema is not sent.
 */
static bool
gemini_free_object(const SchemaCtx *cx, const AigJson *s)
{
	return gemini_free_object_at(cx, s, 0);
}

/* aig_jforeach_member callback: the members kept (not free objects) */
static const char *
gemini_count_property(const char *key, const AigJson *value, void *arg)
{
	SchemaCtx  *cx = (SchemaCtx *) arg;

	if (!gemini_free_object_at(cx, value, cx->kept_level))
		cx->kept++;
	return NULL;
}

/*
 * gemini_free_object, looking "level" levels down: an object all of whose
 * members are free objects is one too (checked two levels deep, which
 * keeps the cost of the check bounded).
 */
static bool
gemini_free_object_at(const SchemaCtx *cx, const AigJson *s, int level)
{
	bool		nullable = false;
	int			refs = 0;
	SchemaCtx	sub;

	s = gemini_resolve(cx, s, &nullable, &refs);
	if (!aig_jis(s, AIG_JSON_OBJECT) ||
		aig_jis(aig_jget(s, "const"), AIG_JSON_STRING) ||
		gemini_all_strings(aig_jget(s, "enum")) ||
		strcmp(gemini_schema_type(s, &nullable), "OBJECT") != 0)
		return false;
	if (aig_jlength(aig_jget(s, "properties")) == 0)
		return true;
	if (level >= 1)
		return false;
	sub = *cx;
	sub.refs += refs;
	sub.kept = 0;
	sub.kept_level = level + 1;
	(void) aig_jforeach_member(aig_jget(s, "properties"), gemini_count_property, &sub);
	return sub.kept == 0;
}

/* one member of "properties" (never stops the walk) */
static const char *
gemini_write_property(const char *key, const AigJson *value, void *arg)
{
	SchemaCtx  *cx = (SchemaCtx *) arg;

	if (gemini_free_object(cx, value))
		return NULL;
	aig_jw_key(cx->w, key);
	gemini_write_schema(cx, value);
	return NULL;
}

/* "required": the names of s's required members that were written */
static void
gemini_write_required(SchemaCtx *cx, const AigJson *s)
{
	const AigJson *req = aig_jget(s, "required");
	const AigJson *props = aig_jget(s, "properties");
	int			mark = aig_jw_mark(cx->w);
	bool		any = false;

	aig_jw_key(cx->w, "required");
	aig_jw_array_begin(cx->w);
	for (int i = 0; i < aig_jlength(req); i++)
	{
		const AigJson *name = aig_jelem(req, i);
		char	   *n = aig_jstring(name, NULL);
		const AigJson *prop = n != NULL ? aig_jget(props, n) : NULL;

		if (prop == NULL || gemini_free_object(cx, prop))
			continue;
		aig_jw_copy(cx->w, name);
		any = true;
	}
	aig_jw_array_end(cx->w);
	if (!any)
	{
		cx->w->buf.len = mark;
		cx->w->buf.data[mark] = '\0';
	}
}

/* The formats Gemini's document lists for a type (others are refused). */
static bool
gemini_format_ok(const char *type, const AigJson *format)
{
	if (strcmp(type, "NUMBER") == 0)
		return aig_jstring_eq(format, "float") || aig_jstring_eq(format, "double");
	if (strcmp(type, "INTEGER") == 0)
		return aig_jstring_eq(format, "int32") || aig_jstring_eq(format, "int64");
	if (strcmp(type, "STRING") == 0)
		return aig_jstring_eq(format, "enum") || aig_jstring_eq(format, "date-time");
	return false;
}

/* an integer member written as the document's int64 text ("3") */
static void
gemini_write_count(AigJsonWriter *w, const AigJson *s, const char *key)
{
	int64		n;

	if (aig_jint64(aig_jget(s, key), &n) && n >= 0)
		aig_jw_kstring(w, key, psprintf(INT64_FORMAT, n));
}

/*
 * Write JSON schema s as a Gemini Schema: type upper-cased (a type list or
 * an anyOf with "null" -> nullable), local $ref resolved, anyOf/oneOf/
 * allOf reduced to their first non-null member (within the bounds
 * above), a string const -> enum,
 * enum kept only when all strings (type STRING, format enum), and only the
 * members the document has (description, nullable, format, enum,
 * properties, required, items, minItems, maxItems); the rest is dropped.
 */
static void
gemini_write_schema(SchemaCtx *cx, const AigJson *s)
{
	AigJsonWriter *w = cx->w;
	bool		nullable = false;
	const char *type;
	const AigJson *v;
	int			refs = 0;

	s = gemini_resolve(cx, s, &nullable, &refs);
	if (!aig_jis(s, AIG_JSON_OBJECT) || cx->depth >= GEMINI_SCHEMA_MAX_DEPTH ||
		++cx->nodes > GEMINI_SCHEMA_MAX_NODES)
	{
		/* true, {}, an unresolvable $ref, or too deep: any text */
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "STRING");
		aig_jw_object_end(w);
		return;
	}

	cx->depth++;
	cx->refs += refs;
	type = gemini_schema_type(s, &nullable);
	if (aig_jis(aig_jget(s, "const"), AIG_JSON_STRING) ||
		gemini_all_strings(aig_jget(s, "enum")))
		type = "STRING";

	aig_jw_object_begin(w);
	aig_jw_kstring(w, "type", type);
	if (aig_jis(aig_jget(s, "description"), AIG_JSON_STRING))
	{
		aig_jw_key(w, "description");
		aig_jw_copy(w, aig_jget(s, "description"));
	}
	if (aig_jis(aig_jget(s, "nullable"), AIG_JSON_TRUE))
		nullable = true;
	if (nullable)
		aig_jw_kbool(w, "nullable", true);

	v = aig_jget(s, "const");
	if (aig_jis(v, AIG_JSON_STRING))
	{
		aig_jw_kstring(w, "format", "enum");
		aig_jw_key(w, "enum");
		aig_jw_array_begin(w);
		aig_jw_copy(w, v);
		aig_jw_array_end(w);
	}
	else if (gemini_all_strings(aig_jget(s, "enum")))
	{
		aig_jw_kstring(w, "format", "enum");
		aig_jw_key(w, "enum");
		aig_jw_copy(w, aig_jget(s, "enum"));
	}
	else if (gemini_format_ok(type, aig_jget(s, "format")))
	{
		aig_jw_key(w, "format");
		aig_jw_copy(w, aig_jget(s, "format"));
	}

	if (strcmp(type, "OBJECT") == 0)
	{
		v = aig_jget(s, "properties");
		cx->kept = 0;
		cx->kept_level = 0;
		(void) aig_jforeach_member(v, gemini_count_property, cx);
		if (cx->kept > 0)
		{
			aig_jw_key(w, "properties");
			aig_jw_object_begin(w);
			(void) aig_jforeach_member(v, gemini_write_property, cx);
			aig_jw_object_end(w);
		}
		gemini_write_required(cx, s);
	}
	else if (strcmp(type, "ARRAY") == 0)
	{
		v = aig_jget(s, "items");
		if (aig_jis(v, AIG_JSON_ARRAY))
			v = aig_jelem(v, 0);	/* a tuple: its first item's schema */
		else if (v == NULL)
			v = aig_jelem(aig_jget(s, "prefixItems"), 0);
		aig_jw_key(w, "items");
		if (gemini_free_object(cx, v))
		{
			/* free-form objects: Gemini cannot say so; any text */
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "type", "STRING");
			aig_jw_object_end(w);
		}
		else
			gemini_write_schema(cx, v);
		gemini_write_count(w, s, "minItems");
		gemini_write_count(w, s, "maxItems");
	}
	aig_jw_object_end(w);
	cx->refs -= refs;
	cx->depth--;
}

/*
 * An object schema without properties: Gemini refuses an OBJECT with none
 * as a function's parameters, so such a function leaves "parameters" out.
 */
static bool
gemini_no_parameters(const AigJson *root)
{
	SchemaCtx	cx = {NULL, root, 0, 0, 0, 0, 0};

	return !aig_jis(root, AIG_JSON_OBJECT) || gemini_free_object(&cx, root);
}

/* Write parsed JSON schema root as a Gemini Schema. */
static void
gemini_schema_from_json(AigJsonWriter *w, const AigJson *root)
{
	SchemaCtx	cx = {w, root, 0, 0, 0, 0, 0};

	gemini_write_schema(&cx, root);
}

/* ---- contents ---- */

/* {"inlineData": {...}} or {"fileData": {...}} for an image or PDF part */
static void
gemini_media_part(AigJsonWriter *w, const AigContentPart *part)
{
	aig_jw_object_begin(w);
	if (part->data_b64 != NULL)
	{
		aig_jw_key(w, "inlineData");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "mimeType", part->media_type);
		aig_jw_kstring(w, "data", part->data_b64);
		aig_jw_object_end(w);
	}
	else
	{
		aig_jw_key(w, "fileData");
		aig_jw_object_begin(w);
		if (part->media_type != NULL)
			aig_jw_kstring(w, "mimeType", part->media_type);
		aig_jw_kstring(w, "fileUri", part->url);
		aig_jw_object_end(w);
	}
	aig_jw_object_end(w);
}

/* A call's arguments as a JSON object value ({} when not an object). */
static void
gemini_write_args(AigJsonWriter *w, const char *arguments)
{
	AigJsonDoc *doc = NULL;
	char	   *err;

	if (arguments != NULL)
		doc = aig_json_parse(arguments, strlen(arguments), &err);
	if (doc != NULL && aig_jis(doc->root, AIG_JSON_OBJECT) &&
		gemini_json_ok(doc->root, 0))
		gemini_write_value(w, doc->root);
	else
	{
		aig_jw_object_begin(w);
		aig_jw_object_end(w);
	}
	aig_json_free(doc);
}

/* The parts of a user or assistant message. */
static void
gemini_message_parts(AigJsonWriter *w, const AigChatMessage *m)
{
	aig_jw_key(w, "parts");
	aig_jw_array_begin(w);
	if (m->nparts > 0)
	{
		for (int i = 0; i < m->nparts; i++)
		{
			const AigContentPart *part = &m->parts[i];

			if (part->kind == AIG_PART_TEXT)
			{
				aig_jw_object_begin(w);
				aig_jw_kstring(w, "text", part->text);
				aig_jw_object_end(w);
			}
			else
				gemini_media_part(w, part);
		}
	}
	else if (m->ntool_calls == 0 || (m->content != NULL && m->content[0] != '\0'))
	{
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "text", m->content);
		aig_jw_object_end(w);
	}
	for (int i = 0; i < m->ntool_calls; i++)
	{
		const AigToolCall *c = &m->tool_calls[i];

		const char *sig = c->id != NULL ? strstr(c->id, AIG_GEMINI_SIG_MARK) : NULL;

		/* no "id": the document's FunctionCall has none */
		aig_jw_object_begin(w);
		if (sig != NULL && sig[strlen(AIG_GEMINI_SIG_MARK)] != '\0')
			aig_jw_kstring(w, "thoughtSignature", sig + strlen(AIG_GEMINI_SIG_MARK));
		aig_jw_key(w, "functionCall");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", c->name);
		aig_jw_key(w, "args");
		gemini_write_args(w, c->arguments);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/*
 * Can v be written back as strict JSON by gemini_write_value?  No for
 * non-finite numbers (json-c reads NaN and Infinity) and past the nesting
 * bound.
 */
static bool
gemini_json_ok(const AigJson *v, int depth)
{
	if (depth > AIG_JSON_MAX_DEPTH)
		return false;
	switch (aig_jtype(v))
	{
		case AIG_JSON_NUMBER:
			return isfinite(aig_jnumber(v));
		case AIG_JSON_ARRAY:
			for (int i = 0; i < aig_jlength(v); i++)
				if (!gemini_json_ok(aig_jelem(v, i), depth + 1))
					return false;
			return true;
		case AIG_JSON_OBJECT:
			return aig_jforeach_member(v, gemini_member_ok, &depth) == NULL;
		default:
			return true;
	}
}

/* aig_jforeach_member callback of gemini_json_ok: non-NULL stops (bad) */
static const char *
gemini_member_ok(const char *key, const AigJson *value, void *arg)
{
	return gemini_json_ok(value, *(int *) arg + 1) ? NULL : key;
}

/* one member of an object, for gemini_write_value */
static const char *
gemini_write_member(const char *key, const AigJson *value, void *arg)
{
	aig_jw_key((AigJsonWriter *) arg, key);
	gemini_write_value((AigJsonWriter *) arg, value);
	return NULL;
}

/*
 * Write v (checked by gemini_json_ok) as strict JSON: numbers in their
 * shortest form (json-c keeps a number's text, which its lenient reading
 * lets be "1." or "+1"), strings escaped, containers member by member.
 */
static void
gemini_write_value(AigJsonWriter *w, const AigJson *v)
{
	int64		n;

	switch (aig_jtype(v))
	{
		case AIG_JSON_NUMBER:
			if (aig_jint64(v, &n))
				aig_jw_int(w, n);
			else
				aig_jw_double(w, aig_jnumber(v), "tool result");
			break;
		case AIG_JSON_ARRAY:
			aig_jw_array_begin(w);
			for (int i = 0; i < aig_jlength(v); i++)
				gemini_write_value(w, aig_jelem(v, i));
			aig_jw_array_end(w);
			break;
		case AIG_JSON_OBJECT:
			aig_jw_object_begin(w);
			(void) aig_jforeach_member(v, gemini_write_member, w);
			aig_jw_object_end(w);
			break;
		default:
			aig_jw_copy(w, v);	/* string, true, false, null */
			break;
	}
}

/*
 * {"functionResponse": {"name", "response": {"result": R}}}: R is the
 * tool's answer as the JSON value it is (the gateway's tool loop sends
 * results as JSON), else the answer as text.
 */
static void
gemini_function_response(AigJsonWriter *w, const AigChatMessage *m)
{
	const char *content = m->content != NULL ? m->content : "";
	AigJsonDoc *doc;
	char	   *err;

	aig_jw_object_begin(w);
	aig_jw_key(w, "functionResponse");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "name", m->name != NULL ? m->name :
				   (m->tool_call_id != NULL ? m->tool_call_id : ""));
	aig_jw_key(w, "response");
	aig_jw_object_begin(w);
	aig_jw_key(w, "result");
	doc = aig_json_parse(content, strlen(content), &err);
	if (doc != NULL && gemini_json_ok(doc->root, 0))
		gemini_write_value(w, doc->root);
	else
		aig_jw_string(w, content);
	aig_json_free(doc);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

static bool
is_role(const AigChatMessage *m, const char *role)
{
	return m->role != NULL && strcmp(m->role, role) == 0;
}

static void
gemini_contents(AigJsonWriter *w, const AigChatRequest *req)
{
	aig_jw_key(w, "contents");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (is_role(m, "system"))
			continue;
		aig_jw_object_begin(w);
		if (is_role(m, "tool"))
		{
			/* this tool message and the ones right after it, one turn */
			aig_jw_kstring(w, "role", "user");
			aig_jw_key(w, "parts");
			aig_jw_array_begin(w);
			gemini_function_response(w, m);
			while (i + 1 < req->nmessages && is_role(&req->messages[i + 1], "tool"))
				gemini_function_response(w, &req->messages[++i]);
			aig_jw_array_end(w);
		}
		else
		{
			aig_jw_kstring(w, "role", is_role(m, "assistant") ? "model" : "user");
			gemini_message_parts(w, m);
		}
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* "tools" and "toolConfig" */
static void
gemini_tools(AigJsonWriter *w, const AigGenOptions *o)
{
	const char *mode;

	if (o->ntools <= 0)
		return;
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	aig_jw_object_begin(w);
	aig_jw_key(w, "functionDeclarations");
	aig_jw_array_begin(w);
	for (int i = 0; i < o->ntools; i++)
	{
		const AigToolDef *t = &o->tools[i];
		AigJsonDoc *doc = NULL;
		char	   *err;

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", t->name);
		if (t->description != NULL)
			aig_jw_kstring(w, "description", t->description);
		if (t->parameters != NULL)
			doc = aig_json_parse(t->parameters, strlen(t->parameters), &err);
		if (doc != NULL && !gemini_no_parameters(doc->root))
		{
			aig_jw_key(w, "parameters");
			gemini_schema_from_json(w, doc->root);
		}
		aig_json_free(doc);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
	aig_jw_object_end(w);
	aig_jw_array_end(w);

	switch (o->tool_choice)
	{
		case AIG_TOOL_CHOICE_NONE:
			mode = "NONE";
			break;
		case AIG_TOOL_CHOICE_REQUIRED:
		case AIG_TOOL_CHOICE_NAMED:
			mode = "ANY";
			break;
		default:
			mode = "AUTO";
			break;
	}
	aig_jw_key(w, "toolConfig");
	aig_jw_object_begin(w);
	aig_jw_key(w, "functionCallingConfig");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "mode", mode);
	if (o->tool_choice == AIG_TOOL_CHOICE_NAMED && o->tool_choice_name != NULL)
	{
		char	   *names[1] = {o->tool_choice_name};

		aig_jw_kstring_array(w, "allowedFunctionNames", 1, names);
	}
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

void
aig_gemini_chat_body(const AigChatRequest *req, AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "topP", "maxOutputTokens",
	"stopSequences", "seed"};
	char	   *system = aig_join_system(req);
	const AigJson *schema;
	AigRespFormatKind rfkind;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;
	int			mark;

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	gemini_contents(&w, req);
	if (system != NULL)
	{
		aig_jw_key(&w, "systemInstruction");
		aig_jw_object_begin(&w);
		aig_gemini_text_parts(&w, system);
		aig_jw_object_end(&w);
	}
	gemini_tools(&w, &req->opts);

	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "generationConfig");
	aig_jw_object_begin(&w);
	aig_add_gen_options(&w, &req->opts, &keys);
	if (rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA)
	{
		aig_jw_kstring(&w, "responseMimeType", "application/json");
		if (rfkind == AIG_RF_JSON_SCHEMA && schema != NULL &&
			!gemini_no_parameters(schema))
		{
			aig_jw_key(&w, "responseSchema");
			gemini_schema_from_json(&w, schema);
		}
	}
	aig_jw_object_end_or_drop(&w, mark);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rfdoc);
}
