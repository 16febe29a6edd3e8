/*
 * gemini_schema.c — JSON schemas (tool parameters, response_format
 * json_schema) translated into the schema Gemini takes.
 *
 * The API document the gateway is checked against (revision 20241016) takes
 * an OpenAPI 3.0 subset in "parameters" and "responseSchema": type as
 * "OBJECT", "STRING", ...; format, description, nullable, enum (strings),
 * properties, required, items, minItems/maxItems (int64 text); no
 * additionalProperties, $schema, $ref, anyOf, ...  The API refuses unknown
 * members and an OBJECT without properties, so a schema is rewritten into
 * that subset (aig_gemini_write_schema) rather than copied.
 */
#include "postgres.h"

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
bool
aig_gemini_no_parameters(const AigJson *root)
{
	SchemaCtx	cx = {NULL, root, 0, 0, 0, 0, 0};

	return !aig_jis(root, AIG_JSON_OBJECT) || gemini_free_object(&cx, root);
}

/* Write parsed JSON schema root as a Gemini Schema. */
void
aig_gemini_write_schema(AigJsonWriter *w, const AigJson *root)
{
	SchemaCtx	cx = {w, root, 0, 0, 0, 0, 0};

	gemini_write_schema(&cx, root);
}
