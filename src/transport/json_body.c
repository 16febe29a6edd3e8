/*
 * json_body.c — the JSON writer of request bodies (see json_body.h):
 * separators, escape_json for strings, shortest round-trip doubles, and
 * copies of values parsed with json-c.
 */
#include "postgres.h"

#include <math.h>

#include <json-c/json.h>

#include "common/shortest_dec.h"
#include "utils/errcodes.h"
#include "utils/json.h"

#include "transport/json_body.h"

void
aig_jw_init(AigJsonWriter *w)
{
	initStringInfo(&w->buf);
}

/* a comma when a value or member came before at this level */
static inline void
separate(AigJsonWriter *w)
{
	if (w->buf.len > 0)
	{
		char		last = w->buf.data[w->buf.len - 1];

		if (last != '{' && last != '[' && last != ':')
			appendStringInfoCharMacro(&w->buf, ',');
	}
}

void
aig_jw_object_begin(AigJsonWriter *w)
{
	separate(w);
	appendStringInfoCharMacro(&w->buf, '{');
}

void
aig_jw_object_end(AigJsonWriter *w)
{
	appendStringInfoCharMacro(&w->buf, '}');
}

void
aig_jw_array_begin(AigJsonWriter *w)
{
	separate(w);
	appendStringInfoCharMacro(&w->buf, '[');
}

void
aig_jw_array_end(AigJsonWriter *w)
{
	appendStringInfoCharMacro(&w->buf, ']');
}

void
aig_jw_key(AigJsonWriter *w, const char *key)
{
	separate(w);
	escape_json(&w->buf, key);
	appendStringInfoCharMacro(&w->buf, ':');
}

void
aig_jw_string(AigJsonWriter *w, const char *s)
{
	separate(w);
	escape_json(&w->buf, s ? s : "");
}

void
aig_jw_int(AigJsonWriter *w, int64 v)
{
	char		digits[24];
	int			n = 0;
	uint64		u = v < 0 ? -(uint64) v : (uint64) v;

	separate(w);
	do
	{
		digits[n++] = (char) ('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		appendStringInfoCharMacro(&w->buf, '-');
	while (n > 0)
		appendStringInfoCharMacro(&w->buf, digits[--n]);
}

void
aig_jw_double(AigJsonWriter *w, double v, const char *what)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];
	int			len;

	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a finite number", what)));
	/* as float8out: 0.7, 0.1, 1e-07, 1e+21 (all valid JSON numbers) */
	len = double_to_shortest_decimal_buf(v, buf);
	separate(w);
	appendBinaryStringInfo(&w->buf, buf, len);
}

void
aig_jw_bool(AigJsonWriter *w, bool v)
{
	separate(w);
	appendStringInfoString(&w->buf, v ? "true" : "false");
}

/* v in jsonb's output layout (see json_body.h); depth is bounded by the
 * parser's AIG_JSON_MAX_DEPTH */
static void
copy_value(StringInfo buf, const AigJson *v)
{
	struct json_object *o = (struct json_object *) unconstify(AigJson *, v);

	switch (aig_jtype(v))
	{
		case AIG_JSON_TRUE:
			appendStringInfoString(buf, "true");
			break;
		case AIG_JSON_FALSE:
			appendStringInfoString(buf, "false");
			break;
		case AIG_JSON_NUMBER:
			/* json-c writes a fraction as it was read, an integer in full */
			appendStringInfoString(buf,
								   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			break;
		case AIG_JSON_STRING:
			{
				char	   *s = aig_jstring(v, NULL);

				escape_json(buf, s);
				pfree(s);
			}
			break;
		case AIG_JSON_ARRAY:
			appendStringInfoCharMacro(buf, '[');
			for (int i = 0; i < aig_jlength(v); i++)
			{
				if (i > 0)
					appendStringInfoString(buf, ", ");
				copy_value(buf, aig_jelem(v, i));
			}
			appendStringInfoCharMacro(buf, ']');
			break;
		case AIG_JSON_OBJECT:
			{
				struct json_object_iterator it = json_object_iter_begin(o);
				struct json_object_iterator end = json_object_iter_end(o);
				bool		first = true;

				appendStringInfoCharMacro(buf, '{');
				while (!json_object_iter_equal(&it, &end))
				{
					const char *key = json_object_iter_peek_name(&it);
					const AigJson *val = json_object_iter_peek_value(&it);

					if (!first)
						appendStringInfoString(buf, ", ");
					first = false;
					escape_json(buf, key);
					appendStringInfoString(buf, ": ");
					copy_value(buf, val);
					json_object_iter_next(&it);
				}
				appendStringInfoCharMacro(buf, '}');
			}
			break;
		default:				/* absent or null */
			appendStringInfoString(buf, "null");
			break;
	}
}

void
aig_jw_copy(AigJsonWriter *w, const AigJson *v)
{
	separate(w);
	copy_value(&w->buf, v);
}

void
aig_jw_raw(AigJsonWriter *w, const char *json)
{
	separate(w);
	appendStringInfoString(&w->buf, json);
}

void
aig_jw_kstring(AigJsonWriter *w, const char *key, const char *s)
{
	aig_jw_key(w, key);
	aig_jw_string(w, s);
}

void
aig_jw_kint(AigJsonWriter *w, const char *key, int64 v)
{
	aig_jw_key(w, key);
	aig_jw_int(w, v);
}

void
aig_jw_kbool(AigJsonWriter *w, const char *key, bool v)
{
	aig_jw_key(w, key);
	aig_jw_bool(w, v);
}

void
aig_jw_kstring_array(AigJsonWriter *w, const char *key, int n,
					 char *const *items)
{
	aig_jw_key(w, key);
	aig_jw_array_begin(w);
	for (int i = 0; i < n; i++)
		aig_jw_string(w, items[i]);
	aig_jw_array_end(w);
}

void
aig_jw_object_end_or_drop(AigJsonWriter *w, int mark)
{
	if (w->buf.len > mark && w->buf.data[w->buf.len - 1] == '{')
	{
		w->buf.len = mark;
		w->buf.data[mark] = '\0';
	}
	else
		aig_jw_object_end(w);
}
