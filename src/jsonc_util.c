/*
 * jsonc_util.c — json-c helpers for the dialects (see jsonc_util.h for the
 * ownership rules).
 */
#include "postgres.h"

#include <limits.h>
#include <stdarg.h>

#include "jsonc_util.h"

json_object *
aig_json_parse(const char *body, size_t len, char **errmsg)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t		consumed;

	*errmsg = NULL;
	if (body == NULL || len == 0)
	{
		*errmsg = pstrdup("empty response body");
		return NULL;
	}
	if (len > INT_MAX)
	{
		*errmsg = pstrdup("response body too large to parse");
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
	{
		*errmsg = pstrdup("out of memory in json parser");
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (jerr == json_tokener_continue)
	{
		if (obj)
			json_object_put(obj);
		*errmsg = pstrdup("truncated JSON in response body");
		return NULL;
	}
	if (jerr != json_tokener_success || obj == NULL)
	{
		if (obj)
			json_object_put(obj);
		*errmsg = psprintf("malformed JSON in response body: %s",
						   json_tokener_error_desc(jerr));
		return NULL;
	}
	/* only whitespace may follow the value */
	for (size_t i = consumed; i < len; i++)
	{
		char		c = body[i];

		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
		{
			json_object_put(obj);
			*errmsg = pstrdup("malformed JSON in response body: trailing data");
			return NULL;
		}
	}
	return obj;
}

char *
aig_json_to_pstring(json_object *obj, size_t *len)
{
	size_t		l;
	const char *s;

	s = json_object_to_json_string_length(obj,
										  JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
										  &l);
	if (s == NULL)
		elog(ERROR, "could not serialize JSON request");
	if (len)
		*len = l;
	return pnstrdup(s, l);
}

json_object *
aig_json_path(json_object *obj,...)
{
	va_list		ap;
	const char *key;

	va_start(ap, obj);
	while (obj != NULL && (key = va_arg(ap, const char *)) != NULL)
	{
		json_object *next = NULL;

		if (!json_object_is_type(obj, json_type_object) ||
			!json_object_object_get_ex(obj, key, &next))
			obj = NULL;
		else
			obj = next;
	}
	va_end(ap);
	return obj;
}

const char *
aig_json_str(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
		!json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64
aig_json_int(json_object *obj, const char *key)
{
	json_object *v = NULL;
	int64		n;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
		!json_object_object_get_ex(obj, key, &v))
		return -1;
	if (json_object_is_type(v, json_type_int))
		n = json_object_get_int64(v);	/* saturates at INT64_MAX */
	else if (json_object_is_type(v, json_type_double))
	{
		/* not json_object_get_int64: its cast of NaN is undefined */
		double		d = json_object_get_double(v);

		if (!(d >= 0 && d <= (double) PG_INT32_MAX))	/* NaN fails too */
			return -1;
		n = (int64) d;
	}
	else
		return -1;
	/* a negative or absurd count (sums of counts must not overflow) */
	if (n < 0 || n > PG_INT32_MAX)
		return -1;
	return n;
}
