/*
 * json.c — provider bodies read with json-c (see json.h for what is
 * accepted and the error messages).
 *
 * One json_tokener per backend, made on first use and reset before every
 * parse: strict mode (RFC 8259 but for the leniencies json.h lists; see
 * choose_flags for json-c 0.18) with trailing characters allowed, so that "trailing data" is told apart from
 * other errors here.  json-c reads a body of known length; a top-level
 * number or literal is only complete once json-c sees what follows it, so
 * when the body ends with json-c still waiting for more, one NUL byte is
 * fed: it completes such a value, and anything still open is "truncated".
 * After a failed parse the tokener is freed and the next parse makes a new
 * one (json_tokener_reset does not clear all of json-c 0.16's state).
 *
 * Lifetime: a parsed tree belongs to an AigJsonDoc palloc'd in the
 * caller's memory context, with a reset callback on that context.  The
 * caller frees the tree with aig_json_free; if an ERROR unwinds first, the
 * context's reset or deletion frees it.  The doc itself is left to the
 * context (the callback list points at it).
 *
 * A JSON null member or element is a NULL pointer in json-c; readers see
 * a marker value of type AIG_JSON_NULL instead, so that "absent" (NULL)
 * and "null" stay different, as the dialects' messages need.
 */
#include "postgres.h"

#include <limits.h>
#include <stdarg.h>

#include <json-c/json.h>

#include "utils/memutils.h"

#include "transport/json.h"

/* what aig_jget / aig_jelem return for a JSON null (never dereferenced) */
static const char null_marker;
#define JNULL ((const AigJson *) &null_marker)

/* json-c's accessors take non-const objects; they do not change them */
#define JC(v) ((struct json_object *) unconstify(AigJson *, (v)))

static struct json_tokener *tokener = NULL;
static int	tokener_flags = -1;		/* chosen on first use */
static int	live_docs = 0;

/*
 * The tokener's flags: strict mode, unless this json-c's strict mode refuses
 * UTF-8 text.  json-c 0.18 (Debian 13's) compares string bytes with a signed
 * char in strict mode and refuses every byte above 0x7F (json-c issues 875
 * and 892), which would make every non-ASCII answer "malformed"; there the
 * tokener runs in its default mode, which adds json-c's older leniencies
 * (json.h).  One probe per backend decides.
 */
static int
choose_flags(void)
{
	struct json_tokener *probe = json_tokener_new();
	struct json_object *value;
	int			flags = JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS;

	if (probe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	json_tokener_set_flags(probe, JSON_TOKENER_STRICT);
	value = json_tokener_parse_ex(probe, "\"\xc3\xa9\"", 4);
	if (value == NULL)
		flags = JSON_TOKENER_ALLOW_TRAILING_CHARS;
	json_object_put(value);
	json_tokener_free(probe);
	return flags;
}

/* The backend's tokener, made on first use (ereports when out of memory). */
static struct json_tokener *
get_tokener(void)
{
	if (tokener == NULL)
	{
		tokener = json_tokener_new_ex(AIG_JSON_MAX_DEPTH);
		if (tokener == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		if (tokener_flags < 0)
			tokener_flags = choose_flags();
		json_tokener_set_flags(tokener, tokener_flags);
	}
	json_tokener_reset(tokener);
	return tokener;
}

/* Put doc's tree if it still holds one. */
static void
release(AigJsonDoc *doc)
{
	if (doc->tree != NULL)
		json_object_put(doc->tree);
	doc->tree = NULL;
	doc->root = NULL;
	if (doc->live)
	{
		doc->live = false;
		live_docs--;
	}
}

/* The memory context callback: an ERROR unwound past the doc's owner. */
static void
doc_reset_callback(void *arg)
{
	release((AigJsonDoc *) arg);
}

static bool
all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

AigJsonDoc *
aig_json_parse(const char *body, size_t len, char **message)
{
	struct json_tokener *tok;
	struct json_object *tree;
	enum json_tokener_error jerr;
	size_t		end;
	const char *why = NULL;
	bool		truncated = false;
	AigJsonDoc *doc;

	*message = NULL;
	if (body == NULL || len == 0)
	{
		*message = pstrdup("empty response body");
		return NULL;
	}
	if (len > (size_t) INT_MAX - 1)
	{
		*message = pstrdup("malformed JSON in response body: body too long");
		return NULL;
	}
	/* everything that may ereport comes before the tree exists */
	doc = (AigJsonDoc *) palloc0(sizeof(AigJsonDoc));
	tok = get_tokener();

	tree = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue)
	{
		/* the end of the body: completes a top-level number or literal */
		tree = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
		if (jerr == json_tokener_error_parse_eof ||
			jerr == json_tokener_continue)
			truncated = true;
	}
	else if (jerr == json_tokener_error_parse_eof)
		why = "NUL character";	/* json-c stops at a NUL byte */

	if (jerr == json_tokener_success && !all_space(body + end, len - end))
	{
		json_object_put(tree);
		tree = NULL;
		why = "trailing data";
	}
	else if (jerr == json_tokener_success)
	{
		doc->tree = tree;
		doc->root = tree != NULL ? tree : JNULL;
		doc->cb.func = doc_reset_callback;
		doc->cb.arg = doc;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, &doc->cb);
		doc->live = true;
		live_docs++;
		return doc;
	}
	else if (!truncated && why == NULL)
	{
		if (jerr == json_tokener_error_depth)
			why = "nesting too deep";
		else if (jerr == json_tokener_error_parse_string)
			why = "invalid escape";
		else
			why = "unexpected character";
	}
	/*
	 * json-c returns no tree on an error.  The tokener goes too: a reset
	 * leaves some of its state (a pending \uD8xx surrogate would turn the
	 * next body's first \u escape into U+FFFD), and failures are rare.
	 */
	json_tokener_free(tokener);
	tokener = NULL;
	pfree(doc);
	if (truncated)
		*message = pstrdup("truncated JSON in response body");
	else
		*message = psprintf("malformed JSON in response body: %s", why);
	return NULL;
}

void
aig_json_free(AigJsonDoc *doc)
{
	if (doc != NULL)
		release(doc);
}

int
aig_json_live_docs(void)
{
	return live_docs;
}

/* ---------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------
 */

AigJsonType
aig_jtype(const AigJson *v)
{
	if (v == NULL)
		return (AigJsonType) 0;
	if (v == JNULL)
		return AIG_JSON_NULL;
	switch (json_object_get_type(v))
	{
		case json_type_boolean:
			return json_object_get_boolean(v) ? AIG_JSON_TRUE : AIG_JSON_FALSE;
		case json_type_double:
		case json_type_int:
			return AIG_JSON_NUMBER;
		case json_type_string:
			return AIG_JSON_STRING;
		case json_type_array:
			return AIG_JSON_ARRAY;
		case json_type_object:
			return AIG_JSON_OBJECT;
		case json_type_null:
			break;
	}
	return AIG_JSON_NULL;
}

bool
aig_jis_integer(const AigJson *v)
{
	return v != NULL && v != JNULL && json_object_get_type(v) == json_type_int;
}

int
aig_jlength(const AigJson *v)
{
	switch (aig_jtype(v))
	{
		case AIG_JSON_ARRAY:
			return (int) json_object_array_length(v);
		case AIG_JSON_OBJECT:
			return json_object_object_length(v);
		default:
			return 0;
	}
}

const char *
aig_jforeach_member(const AigJson *obj, AigJsonMemberFn fn, void *arg)
{
	struct json_object_iterator it;
	struct json_object_iterator end;

	if (aig_jtype(obj) != AIG_JSON_OBJECT)
		return NULL;
	it = json_object_iter_begin((struct json_object *) obj);
	end = json_object_iter_end((struct json_object *) obj);
	while (!json_object_iter_equal(&it, &end))
	{
		const char *r = fn(json_object_iter_peek_name(&it),
						   json_object_iter_peek_value(&it), arg);

		if (r != NULL)
			return r;
		json_object_iter_next(&it);
	}
	return NULL;
}

const AigJson *
aig_jget(const AigJson *obj, const char *key)
{
	struct json_object *v;

	if (!aig_jis(obj, AIG_JSON_OBJECT) ||
		!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v != NULL ? v : JNULL;
}

const AigJson *
aig_jelem(const AigJson *arr, int i)
{
	struct json_object *v;

	if (!aig_jis(arr, AIG_JSON_ARRAY) || i < 0 ||
		(size_t) i >= json_object_array_length(arr))
		return NULL;
	v = json_object_array_get_idx(arr, (size_t) i);
	return v != NULL ? v : JNULL;
}

const AigJson *
aig_jpath(const AigJson *obj,...)
{
	va_list		ap;
	const char *key;

	va_start(ap, obj);
	while (obj != NULL && (key = va_arg(ap, const char *)) != NULL)
		obj = aig_jget(obj, key);
	va_end(ap);
	return obj;
}

size_t
aig_jstring_len(const AigJson *v)
{
	if (!aig_jis(v, AIG_JSON_STRING))
		return 0;
	return (size_t) json_object_get_string_len(v);
}

/* Append string value v (a string) to buf, NUL bytes as U+FFFD. */
static void
append_string(const AigJson *v, StringInfo buf)
{
	const char *s = json_object_get_string(JC(v));
	size_t		len = (size_t) json_object_get_string_len(v);
	const char *nul;

	while ((nul = memchr(s, '\0', len)) != NULL)
	{
		appendBinaryStringInfo(buf, s, nul - s);
		appendBinaryStringInfo(buf, "\xEF\xBF\xBD", 3);
		len -= nul - s + 1;
		s = nul + 1;
	}
	appendBinaryStringInfo(buf, s, len);
}

char *
aig_jstring(const AigJson *v, size_t *len)
{
	const char *s;
	size_t		n;
	char	   *out;

	if (!aig_jis(v, AIG_JSON_STRING))
		return NULL;
	s = json_object_get_string(JC(v));
	n = (size_t) json_object_get_string_len(v);
	if (memchr(s, '\0', n) != NULL)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		append_string(v, &buf);
		if (len)
			*len = buf.len;
		return buf.data;
	}
	out = palloc(n + 1);
	memcpy(out, s, n);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

bool
aig_jstring_append(const AigJson *v, StringInfo buf)
{
	if (!aig_jis(v, AIG_JSON_STRING))
		return false;
	append_string(v, buf);
	return true;
}

bool
aig_jstring_eq(const AigJson *v, const char *s)
{
	const char *t;
	size_t		n;
	size_t		slen = strlen(s);

	if (!aig_jis(v, AIG_JSON_STRING))
		return false;
	t = json_object_get_string(JC(v));
	n = (size_t) json_object_get_string_len(v);
	if (memchr(t, '\0', n) != NULL)
	{
		size_t		clen;
		char	   *c = aig_jstring(v, &clen);
		bool		eq = (clen == slen && memcmp(c, s, slen) == 0);

		pfree(c);
		return eq;
	}
	return n == slen && memcmp(t, s, slen) == 0;
}

char *
aig_jstr(const AigJson *obj, const char *key)
{
	return aig_jstring(aig_jget(obj, key), NULL);
}

double
aig_jnumber(const AigJson *v)
{
	if (!aig_jis(v, AIG_JSON_NUMBER))
		return 0;
	return json_object_get_double(v);
}

bool
aig_jint64(const AigJson *v, int64 *out)
{
	if (!aig_jis_integer(v))
		return false;
	/* json-c saturates at INT64_MIN / UINT64_MAX, and INT64_MAX here */
	*out = (int64) json_object_get_int64(v);
	return true;
}

int64
aig_jtokens(const AigJson *obj, const char *key)
{
	const AigJson *v = aig_jget(obj, key);
	int64		n;

	if (aig_jint64(v, &n))
		return (n >= 0 && n <= PG_INT32_MAX) ? n : -1;
	if (aig_jis(v, AIG_JSON_NUMBER))
	{
		double		d = aig_jnumber(v);

		if (!(d >= 0 && d <= (double) PG_INT32_MAX))	/* NaN fails too */
			return -1;
		return (int64) d;
	}
	return -1;
}
