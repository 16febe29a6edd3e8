/*
 * fuzz_json.c — libFuzzer target for the JSON reader and writer
 * (src/transport/json_read.c, src/transport/json_write.c), checked against json-c.
 *
 * The input is a body, passed in a buffer of exactly its length.  For each
 * one it checks:
 *
 *	- differential: aig_json_parse() accepts exactly what json-c accepts in
 *	  strict mode (JSON_TOKENER_STRICT, only white space after the value),
 *	  with the differences json_read.h documents: raw control characters
 *	  in strings (kept; json-c strict refuses them) and nesting deeper than
 *	  AIG_JSON_MAX_DEPTH (refused), and json-c's own leniencies (numbers
 *	  with a leading zero or ending in a point, single-quoted keys: refused,
 *	  as RFC 8259 says);
 *	- when both accept, the two trees are the same: types, number values
 *	  (integers saturated), strings byte for byte after unescaping (but
 *	  where the reader documents U+FFFD: \u0000 and unpaired surrogates),
 *	  members (a repeated key: the last one) and elements;
 *	- a document cut short is reported as truncated ("truncated JSON"),
 *	  never as malformed;
 *	- round trip: the tree written back with the writer (strings unescaped
 *	  and escaped again) parses to the same tree;
 *	- the node invariants (sizes, counts, spans inside the body) and no
 *	  read outside the body, leak (json-c objects) or undefined behaviour.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "transport/json_read.h"
#include "transport/json_write.h"
#include "fuzz_support.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* does the raw text of string node v hold an escape the reader turns into
 * U+FFFD (\u0000, a surrogate without its pair)?  Then only its length
 * bounds are compared. */
static bool
has_replaced_escape(const AigJson *v)
{
	const char *p = v->p;
	const char *end = v->p + v->len;

	if (!(v->flags & AIG_JSON_ESCAPED))
		return false;
	while (p < end)
	{
		if (*p == '\\' && p + 1 < end)
		{
			if (p[1] == 'u')	/* the parser checked the 4 hex digits */
			{
				char		hex[5] = {p[2], p[3], p[4], p[5], '\0'};
				unsigned	cp = (unsigned) strtoul(hex, NULL, 16);

				if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
					return true;
				p += 6;
			}
			else
				p += 2;
		}
		else
			p++;
	}
	return false;
}

static void check_same(const AigJson *v, json_object *o);

static void
check_string(const AigJson *v, const char *s, size_t slen, const char *what)
{
	size_t		len;
	char	   *mine = aig_jstring(v, &len);

	FUZZ_CHECK(mine != NULL, what, "aig_jstring gave NULL for a string");
	FUZZ_CHECK(mine[len] == '\0', what, "not NUL-terminated");
	if (has_replaced_escape(v))
		return;
	FUZZ_CHECK(len == slen && memcmp(mine, s, len) == 0, what,
			   "unescaped string differs from json-c's");
	FUZZ_CHECK(aig_jstring_eq(v, mine) == (strlen(mine) == len), what,
			   "aig_jstring_eq disagrees with aig_jstring");
}

static void
check_same(const AigJson *v, json_object *o)
{
	switch (json_object_get_type(o))
	{
		case json_type_null:
			FUZZ_CHECK(v->type == AIG_JSON_NULL, "type", "json-c null");
			break;
		case json_type_boolean:
			FUZZ_CHECK(v->type == (json_object_get_boolean(o) ? AIG_JSON_TRUE : AIG_JSON_FALSE),
					   "type", "json-c boolean");
			break;
		case json_type_double:
			{
				double		d = json_object_get_double(o);
				double		mine = aig_jnumber(v);

				FUZZ_CHECK(v->type == AIG_JSON_NUMBER, "type", "json-c double");
				FUZZ_CHECK(!(v->flags & AIG_JSON_INTEGER), "number",
						   "integer flag on a json-c double");
				FUZZ_CHECK(mine == d || (isnan(mine) && isnan(d)), "number",
						   "double value differs");
				break;
			}
		case json_type_int:
			{
				int64		mine;

				FUZZ_CHECK(v->type == AIG_JSON_NUMBER, "type", "json-c int");
				FUZZ_CHECK(aig_jint64(v, &mine), "number",
						   "json-c int is not an integer here");
				if (json_object_get_int64(o) == INT64_MAX)
					FUZZ_CHECK(mine == INT64_MAX, "number", "saturation differs");
				else
					FUZZ_CHECK(mine == json_object_get_int64(o), "number",
							   "int value differs");
				break;
			}
		case json_type_string:
			FUZZ_CHECK(v->type == AIG_JSON_STRING, "type", "json-c string");
			check_string(v, json_object_get_string(o),
						 (size_t) json_object_get_string_len(o), "string");
			break;
		case json_type_array:
			{
				const AigJson *e = aig_jfirst(v);
				size_t		n = json_object_array_length(o);

				FUZZ_CHECK(v->type == AIG_JSON_ARRAY, "type", "json-c array");
				FUZZ_CHECK((size_t) v->count == n, "array", "length differs");
				for (size_t i = 0; i < n; i++, e = aig_jnext(e))
				{
					FUZZ_CHECK(aig_jelem(v, (int) i) == e, "array",
							   "aig_jelem disagrees with aig_jnext");
					check_same(e, json_object_array_get_idx(o, i));
				}
				break;
			}
		case json_type_object:
			{
				const AigJson *k = v + 1;
				int			distinct = 0;
				bool		all_keys = true;

				FUZZ_CHECK(v->type == AIG_JSON_OBJECT, "type", "json-c object");
				/* json-c cuts a key at a \u0000 (it may then collide with
				 * another) and keeps unpaired surrogates its own way: the
				 * members of such an object are not compared */
				for (int i = 0; i < v->count; i++)
				{
					if (has_replaced_escape(k))
						all_keys = false;
					k = k + 1 + (k + 1)->size;
				}
				k = v + 1;
				for (int i = 0; i < v->count; i++)
				{
					const AigJson *val = k + 1;
					char	   *key = aig_jstring(k, NULL);
					json_object *ov = NULL;

					FUZZ_CHECK(k->type == AIG_JSON_STRING, "object", "key not a string");
					if (all_keys)
					{
						FUZZ_CHECK(json_object_object_get_ex(o, key, &ov), "object",
								   "key missing in json-c's object");
						/* the last of a repeated key: what aig_jget finds */
						if (aig_jget(v, key) == val)
						{
							distinct++;
							check_same(val, ov);
						}
					}
					k = val + val->size;
				}
				if (all_keys)
					FUZZ_CHECK(distinct == json_object_object_length(o), "object",
							   "number of distinct keys differs");
				break;
			}
	}
}

/* the node invariants of json_read.h */
static void
check_nodes(const AigJson *v, const char *body, size_t len)
{
	FUZZ_CHECK(v->size >= 1, "node", "size < 1");
	FUZZ_CHECK(v->p >= body && v->p + v->len <= body + len, "node",
			   "span outside the body");
	if (v->type == AIG_JSON_ARRAY || v->type == AIG_JSON_OBJECT)
	{
		const AigJson *c = v + 1;
		int			n = v->type == AIG_JSON_OBJECT ? 2 * v->count : v->count;
		int			total = 1;

		for (int i = 0; i < n; i++)
		{
			check_nodes(c, body, len);
			total += c->size;
			c += c->size;
		}
		FUZZ_CHECK(total == v->size, "node", "size is not the subtree's");
	}
	else
		FUZZ_CHECK(v->size == 1, "node", "scalar with size != 1");
}

/* write v back with the writer */
static void
write_value(AigJsonWriter *w, const AigJson *v)
{
	switch (v->type)
	{
		case AIG_JSON_STRING:
			{
				char	   *s = aig_jstring(v, NULL);

				aig_jw_string(w, s);
				break;
			}
		case AIG_JSON_ARRAY:
			{
				const AigJson *e = aig_jfirst(v);

				aig_jw_array_begin(w);
				for (int i = 0; i < v->count; i++, e = aig_jnext(e))
					write_value(w, e);
				aig_jw_array_end(w);
				break;
			}
		case AIG_JSON_OBJECT:
			{
				const AigJson *k = v + 1;

				aig_jw_object_begin(w);
				for (int i = 0; i < v->count; i++)
				{
					aig_jw_key(w, aig_jstring(k, NULL));
					write_value(w, k + 1);
					k = k + 1 + (k + 1)->size;
				}
				aig_jw_object_end(w);
				break;
			}
		default:
			aig_jw_copy(w, v);
			break;
	}
}

/* same tree, comparing strings as strlen-cut C strings (the writer takes
 * C strings: an unescaped NUL cannot survive, and the reader maps \u0000
 * to U+FFFD anyway) */
static void
check_round_trip(const AigJson *a, const AigJson *b)
{
	FUZZ_CHECK(a->type == b->type, "round trip", "type differs");
	FUZZ_CHECK(a->count == b->count, "round trip", "count differs");
	if (a->type == AIG_JSON_STRING)
	{
		char	   *sa = aig_jstring(a, NULL);
		char	   *sb = aig_jstring(b, NULL);

		FUZZ_CHECK(strcmp(sa, sb) == 0, "round trip", "string differs");
	}
	else if (a->type == AIG_JSON_NUMBER)
		FUZZ_CHECK(a->len == b->len && memcmp(a->p, b->p, a->len) == 0,
				   "round trip", "number differs");
	else if (a->type == AIG_JSON_ARRAY || a->type == AIG_JSON_OBJECT)
	{
		const AigJson *ca = a + 1;
		const AigJson *cb = b + 1;
		int			n = a->type == AIG_JSON_OBJECT ? 2 * a->count : a->count;

		for (int i = 0; i < n; i++)
		{
			check_round_trip(ca, cb);
			ca += ca->size;
			cb += cb->size;
		}
	}
}

/* any raw control character (not NUL) inside a string? json-c strict
 * refuses those, the reader keeps them */
static bool
raw_control_in_string(const char *s, size_t len)
{
	bool		in = false;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (in && c == '\\')
			i++;
		else if (c == '"')
			in = !in;
		else if (in && c > 0 && c < 0x20)
			return true;
	}
	return false;
}

/* json-c strict: one value followed by white space only?  (*obj: the
 * value; a JSON null is json-c's NULL) */
static bool
jsonc_parse(const char *body, size_t size, json_object **obj,
			enum json_tokener_error *jerr)
{
	json_tokener *tok = json_tokener_new_ex(4 * AIG_JSON_MAX_DEPTH);
	bool		ok;

	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*obj = size > 0 ? json_tokener_parse_ex(tok, body, (int) size) : NULL;
	*jerr = size > 0 ? json_tokener_get_error(tok) : json_tokener_continue;
	ok = (*jerr == json_tokener_success);
	for (size_t i = ok ? json_tokener_get_parse_end(tok) : size; i < size; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' &&
			body[i] != '\r')
		{
			ok = false;
			break;
		}
	if (!ok && *obj != NULL)
	{
		json_object_put(*obj);
		*obj = NULL;
	}
	json_tokener_free(tok);
	return ok;
}

/*
 * What json-c takes even in strict mode and RFC 8259 does not, outside
 * strings: a number with a leading zero ("01", "-01.5": json-c checks
 * non-negative integers only) or without digits on both sides of its point ("1.", "-.5"),
 * and a single-quoted object key.
 */
static bool
jsonc_lenient(const char *s, size_t len)
{
	bool		in = false;

	for (size_t i = 0; i < len; i++)
	{
		char		p;

		if (in && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			in = !in;
		else if (!in && s[i] == '\'')
			return true;
		else if (!in && s[i] == '.' &&
				 (i + 1 >= len || s[i + 1] < '0' || s[i + 1] > '9' ||
				  i == 0 || s[i - 1] < '0' || s[i - 1] > '9'))
			return true;		/* "1.", "-.5" */
		else if (!in && s[i] == '0' && i + 1 < len && s[i + 1] >= '0' &&
				 s[i + 1] <= '9')
		{
			p = i > 0 ? s[i - 1] : ' ';
			if (p == '-')		/* the number's sign, or an exponent's */
				p = i > 1 ? s[i - 2] : ' ';
			else if (p == '+')	/* an exponent's */
				continue;
			if (!((p >= '0' && p <= '9') || p == '.' || p == 'e' || p == 'E'))
				return true;
		}
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *body;
	char	   *errmsg = NULL;
	const AigJson *root;
	json_object *obj;
	enum json_tokener_error jerr;
	bool		jc_ok;


	/* exactly size bytes (malloc(0) may give NULL: keep one byte) */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);

	root = aig_json_parse(body, size, &errmsg);
	FUZZ_CHECK((root == NULL) == (errmsg != NULL), "parse",
			   "a result and a message, or neither");
	if (root != NULL)
		check_nodes(root, body, size);
	else
		FUZZ_CHECK(fuzz_clean_message(errmsg), "parse", "message not clean");

	/* json-c, strict, deep enough never to be the one that refuses */
	jc_ok = jsonc_parse(body, size, &obj, &jerr);
	if (!jc_ok && jerr == json_tokener_continue)
	{
		/* a number at the very end: json-c waits for what ends it */
		char	   *spaced = malloc(size + 1);
		enum json_tokener_error jerr2;

		if (spaced == NULL)
			abort();
		memcpy(spaced, body, size);
		spaced[size] = ' ';
		jc_ok = jsonc_parse(spaced, size + 1, &obj, &jerr2);
		free(spaced);
	}

	if (root != NULL && jc_ok)
		check_same(root, obj);
	else if (root != NULL)
		FUZZ_CHECK(raw_control_in_string(body, size), "differential",
				   "the reader accepts what json-c refuses");
	else if (jc_ok)
		FUZZ_CHECK(strstr(errmsg, "nesting too deep") != NULL ||
				   jsonc_lenient(body, size),
				   "differential: the reader refuses what json-c accepts", errmsg);

	/* a cut-off document is "truncated" (or, cut after a complete value,
	 * fine), never "malformed": try the cut at a few places */
	if (root != NULL && size > 1)
	{
		size_t		cuts[3] = {size - 1, size / 2, (size * 7919u + data[0]) % size};

		for (int c = 0; c < 3; c++)
		{
			char	   *e2 = NULL;
			char	   *part = malloc(cuts[c] > 0 ? cuts[c] : 1);

			if (part == NULL)
				abort();
			memcpy(part, body, cuts[c]);
			if (aig_json_parse(part, cuts[c], &e2) == NULL && cuts[c] > 0)
				FUZZ_CHECK(strcmp(e2, "truncated JSON in response body") == 0,
						   "truncation: a prefix of a document is reported as", e2);
			free(part);
		}
	}

	if (root != NULL)
	{
		AigJsonWriter w;
		const AigJson *again;
		char	   *err2 = NULL;

		aig_jw_init(&w);
		write_value(&w, root);
		again = aig_json_parse(w.buf.data, w.buf.len, &err2);
		FUZZ_CHECK(again != NULL, "round trip", err2 ? err2 : "?");
		check_round_trip(root, again);
	}

	if (obj != NULL)
		json_object_put(obj);
	free(body);
	fuzz_arena_reset();
	return 0;
}
