/*
 * structured.c — is a structured answer what response_format asked for?
 *
 * A call with response_format json_object or json_schema (ai_extract, or
 * ai_chat with the option) gets an answer the provider was asked to shape;
 * before the call accepts it, the answer must be JSON (PostgreSQL's own
 * grammar, so it always casts to jsonb) of the schema: its type, the
 * required members of each object, no members beyond the properties where
 * additionalProperties is false, enum values, array items, and one branch
 * of anyOf/oneOf.  A miss is a failed attempt (UP005): retried, then the
 * next target, like any other failure, without charging the breaker.
 *
 * A single surrounding Markdown code fence (```json ... ```) is taken off:
 * models add one even when asked for JSON, and the JSON inside is the answer.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include <math.h>

#include "mb/pg_wchar.h"

#include "base/compat.h"
#include "routing/attempt.h"
#include "transport/json.h"

#define SCHEMA_MAX_DEPTH 32
#define ITEMS_CHECKED 10000

/*
 * A member name as it may appear in a message: at most 64 bytes (cut on a
 * character boundary), control characters (and, outside UTF-8 databases,
 * every non-ASCII byte) shown as '?'.  Names come from the provider's answer.
 */
static char *
shown_name(const char *name)
{
	size_t		len = strlen(name);
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	char	   *out;

	if (len > 64)
	{
		len = 64;
		/* UTF-8: never cut inside a character (continuation bytes are 10xxxxxx) */
		while (utf8 && len > 0 && ((unsigned char) name[len] & 0xC0) == 0x80)
			len--;
	}
	out = pnstrdup(name, len);
	for (char *c = out; *c; c++)
		if ((unsigned char) *c < 0x20 || *c == 0x7f || (!utf8 && (unsigned char) *c >= 0x80))
			*c = '?';
	return out;
}

static const char *check_value(const AigJson *schema, const AigJson *v, const char *path, int depth);

/* Does v have the JSON-schema type name t ("integer" is a number without a fraction)? */
static bool
has_type(const AigJson *v, const char *t)
{
	AigJsonType jt = aig_jtype(v);

	if (pg_strcasecmp(t, "object") == 0)
		return jt == AIG_JSON_OBJECT;
	if (pg_strcasecmp(t, "array") == 0)
		return jt == AIG_JSON_ARRAY;
	if (pg_strcasecmp(t, "string") == 0)
		return jt == AIG_JSON_STRING;
	if (pg_strcasecmp(t, "number") == 0)
		return jt == AIG_JSON_NUMBER;
	if (pg_strcasecmp(t, "integer") == 0)
		return jt == AIG_JSON_NUMBER && (aig_jis_integer(v) || aig_jnumber(v) == floor(aig_jnumber(v)));
	if (pg_strcasecmp(t, "boolean") == 0)
		return jt == AIG_JSON_TRUE || jt == AIG_JSON_FALSE;
	if (pg_strcasecmp(t, "null") == 0)
		return jt == AIG_JSON_NULL;
	return true;				/* a type we do not know: not ours to refuse */
}

/* The schema's "type" (a string or a list of them) admits v? */
static const char *
check_type(const AigJson *schema, const AigJson *v, const char *path)
{
	const AigJson *t = aig_jget(schema, "type");

	if (aig_jis(t, AIG_JSON_STRING))
	{
		char	   *name = aig_jstring(t, NULL);

		if (!has_type(v, name))
			return psprintf("%s is not of type %s", path, shown_name(name));
	}
	else if (aig_jis(t, AIG_JSON_ARRAY))
	{
		for (int i = 0; i < aig_jlength(t); i++)
		{
			char	   *name = aig_jstring(aig_jelem(t, i), NULL);

			if (name == NULL || has_type(v, name))
				return NULL;
		}
		return psprintf("%s is of none of the schema's types", path);
	}
	return NULL;
}

/* Scalars equal (strings, numbers, booleans, null); containers never match an enum here. */
static bool
scalar_equal(const AigJson *a, const AigJson *b)
{
	AigJsonType ta = aig_jtype(a);

	if (ta != aig_jtype(b))
		return false;
	switch (ta)
	{
		case AIG_JSON_STRING:
			{
				char	   *sa = aig_jstring(a, NULL);
				char	   *sb = aig_jstring(b, NULL);

				return strcmp(sa, sb) == 0;
			}
		case AIG_JSON_NUMBER:
			return aig_jnumber(a) == aig_jnumber(b);
		case AIG_JSON_NULL:
		case AIG_JSON_TRUE:
		case AIG_JSON_FALSE:
			return true;
		default:
			return false;
	}
}

typedef struct MemberCheck
{
	const AigJson *props;
	bool		closed;			/* additionalProperties: false */
	const char *path;
	int			depth;
} MemberCheck;

/* One member of an object against its property schema. */
static const char *
check_member(const char *name, const AigJson *value, void *arg)
{
	MemberCheck *mc = (MemberCheck *) arg;
	const AigJson *sub = aig_jget(mc->props, name);

	if (sub != NULL)
		return check_value(sub, value, psprintf("%s.%s", mc->path, shown_name(name)), mc->depth + 1);
	if (mc->closed)
		return psprintf("%s has member \"%s\", which the schema does not allow", mc->path,
						shown_name(name));
	return NULL;
}

/* An object's required members, property schemas and additionalProperties false. */
static const char *
check_object(const AigJson *schema, const AigJson *v, const char *path, int depth)
{
	const AigJson *req = aig_jget(schema, "required");
	MemberCheck mc;

	for (int i = 0; i < aig_jlength(req); i++)
	{
		char	   *name = aig_jstring(aig_jelem(req, i), NULL);

		if (name != NULL && aig_jget(v, name) == NULL)
			return psprintf("%s has no member \"%s\"", path, shown_name(name));
	}
	mc.props = aig_jget(schema, "properties");
	mc.closed = aig_jis(aig_jget(schema, "additionalProperties"), AIG_JSON_FALSE);
	mc.path = path;
	mc.depth = depth;
	return aig_jforeach_member(v, check_member, &mc);
}

/* v against one schema; NULL when it fits, else why not (path names the spot). */
static const char *
check_value(const AigJson *schema, const AigJson *v, const char *path, int depth)
{
	const char *why;
	const AigJson *e;
	const AigJson *any;

	if (!aig_jis(schema, AIG_JSON_OBJECT) || depth > SCHEMA_MAX_DEPTH)
		return NULL;
	if ((why = check_type(schema, v, path)) != NULL)
		return why;
	e = aig_jget(schema, "enum");
	if (aig_jis(e, AIG_JSON_ARRAY))
	{
		bool		found = false;

		for (int i = 0; i < aig_jlength(e) && !found; i++)
			found = scalar_equal(aig_jelem(e, i), v);
		if (!found)
			return psprintf("%s is not one of the schema's enum values", path);
	}
	any = aig_jget(schema, "anyOf");
	if (any == NULL)
		any = aig_jget(schema, "oneOf");
	if (aig_jis(any, AIG_JSON_ARRAY) && aig_jlength(any) > 0)
	{
		bool		one = false;

		for (int i = 0; i < aig_jlength(any) && !one; i++)
			one = check_value(aig_jelem(any, i), v, path, depth + 1) == NULL;
		if (!one)
			return psprintf("%s matches none of the schema's alternatives", path);
	}
	if (aig_jis(v, AIG_JSON_OBJECT))
		return check_object(schema, v, path, depth);
	if (aig_jis(v, AIG_JSON_ARRAY))
	{
		const AigJson *items = aig_jget(schema, "items");
		const AigJson *min = aig_jget(schema, "minItems");
		const AigJson *max = aig_jget(schema, "maxItems");
		int			n = aig_jlength(v);

		if (aig_jis(min, AIG_JSON_NUMBER) && n < aig_jnumber(min))
			return psprintf("%s has %d items, fewer than minItems", path, n);
		if (aig_jis(max, AIG_JSON_NUMBER) && n > aig_jnumber(max))
			return psprintf("%s has %d items, more than maxItems", path, n);
		for (int i = 0; i < n && i < ITEMS_CHECKED && items != NULL; i++)
			if ((why = check_value(items, aig_jelem(v, i), psprintf("%s[%d]", path, i),
								   depth + 1)) != NULL)
				return why;
	}
	return NULL;
}

/* content without one surrounding ``` fence (and its language tag), or as it is. */
static char *
strip_fence(char *content)
{
	char	   *s = content;
	char	   *end;

	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	if (strncmp(s, "```", 3) != 0)
		return content;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
		end--;
	if (end - s < 6 || strncmp(end - 3, "```", 3) != 0)
		return content;
	s = strchr(s, '\n');
	if (s == NULL || s >= end - 3)
		return content;
	return pnstrdup(s + 1, (end - 3) - (s + 1));
}

/*
 * Is *content what response_format (JSON text, UTF-8) asked for?  NULL when
 * it is (*content may lose a surrounding code fence), else why not.
 */
char *
aig_check_structured_answer(const char *response_format, char **content)
{
	AigJsonDoc *rf;
	AigJsonDoc *answer;
	char	   *text = strip_fence(*content);
	char	   *err = NULL;
	const char *why = NULL;
	const char *type;
	JsonLexContext *lex;

	rf = aig_json_parse(response_format, strlen(response_format), &err);
	if (rf == NULL)
		return NULL;			/* validated when the call began */
	type = aig_jstr(rf->root, "type");
	if (type == NULL || strcmp(type, "text") == 0)
	{
		aig_json_free(rf);
		return NULL;
	}
	/* PostgreSQL's JSON grammar: what passes here casts to jsonb */
	lex = aig_json_lex_new(text, strlen(text), GetDatabaseEncoding());
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		aig_json_free(rf);
		return pstrdup("the answer is not JSON");
	}
	answer = aig_json_parse(text, strlen(text), &err);
	if (answer == NULL)
	{
		aig_json_free(rf);
		return pstrdup("the answer is not JSON");
	}
	if (strcmp(type, "json_object") == 0)
		why = aig_jis(answer->root, AIG_JSON_OBJECT) ? NULL : "the answer is not a JSON object";
	else
		why = check_value(aig_jpath(rf->root, "json_schema", "schema", NULL), answer->root,
						  "$", 0);
	why = why ? pstrdup(why) : NULL;
	aig_json_free(answer);
	aig_json_free(rf);
	if (why == NULL)
		*content = text;
	return (char *) why;
}
