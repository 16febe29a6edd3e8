/*
 * json_write.c — the JSON writer of request bodies (see json_write.h).
 */
#include "postgres.h"

#include <math.h>

#include "utils/errcodes.h"

#include "transport/json_write.h"

/* bytes that need an escape in a JSON string: 1 = \uXXXX, else the letter */
static const char escape_of[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 'b', 't', 'n', 1, 'f', 'r', 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
	/* the rest: 0 */
};

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

static void
put_string(StringInfo buf, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *run = p;

	appendStringInfoCharMacro(buf, '"');
	for (;; p++)
	{
		char		e;

		if (*p == '\0')
			break;
		e = escape_of[*p];
		if (e == 0)
			continue;
		if (p > run)
			appendBinaryStringInfo(buf, (const char *) run, p - run);
		if (e == 1)
		{
			static const char hex[] = "0123456789abcdef";
			char		u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};

			appendBinaryStringInfo(buf, u, sizeof(u));
		}
		else
		{
			char		esc[2] = {'\\', e};

			appendBinaryStringInfo(buf, esc, 2);
		}
		run = p + 1;
	}
	if (p > run)
		appendBinaryStringInfo(buf, (const char *) run, p - run);
	appendStringInfoCharMacro(buf, '"');
}

void
aig_jw_key(AigJsonWriter *w, const char *key)
{
	separate(w);
	put_string(&w->buf, key);
	appendStringInfoCharMacro(&w->buf, ':');
}

void
aig_jw_string(AigJsonWriter *w, const char *s)
{
	separate(w);
	put_string(&w->buf, s ? s : "");
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
	char		buf[64];

	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a finite number", what)));
	/* the shortest of these that reads back as v: 0.7, not 0.69999... */
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	separate(w);
	appendStringInfoString(&w->buf, buf);
}

void
aig_jw_bool(AigJsonWriter *w, bool v)
{
	separate(w);
	appendStringInfoString(&w->buf, v ? "true" : "false");
}

void
aig_jw_copy(AigJsonWriter *w, const AigJson *v)
{
	separate(w);
	if (v == NULL)
		appendStringInfoString(&w->buf, "null");
	else if (v->type == AIG_JSON_STRING)
		appendBinaryStringInfo(&w->buf, v->p - 1, v->len + 2);	/* quotes */
	else
		appendBinaryStringInfo(&w->buf, v->p, v->len);
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
