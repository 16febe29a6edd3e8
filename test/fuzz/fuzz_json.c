/*
 * fuzz_json.c — libFuzzer target for the JSON helpers over json-c
 * (src/transport/json.c) and the request-body writer
 * (src/transport/json_body.c).
 *
 * The input is a body, passed in a buffer of exactly its length.  For each
 * one it checks the contract of json.h:
 *
 *	- aig_json_parse() either returns a doc with a root, or NULL with one
 *	  of the documented messages ("empty response body", "truncated JSON
 *	  in response body", "malformed JSON in response body: <why>" with why
 *	  one of json.h's list), and never ereports (fuzz_support.c aborts);
 *	- an accepted body whose value is a container, cut in the middle of
 *	  its value, is refused as truncated (never as malformed);
 *	- every accessor on every value of the tree: strings are NUL-free and
 *	  as long as they say, lengths match the elements reachable, token
 *	  counts are -1 or in [0, INT32_MAX];
 *	- round trip: the tree written back with aig_jw_copy (strings through
 *	  escape_json, numbers as json-c read them) parses to the same tree;
 *	- lifetime: a doc freed with aig_json_free, or left to the context
 *	  reset (every other input, as when an ERROR unwinds), leaves no doc
 *	  live and nothing malloc'd behind (LeakSanitizer sees json-c's
 *	  objects).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "transport/json.h"
#include "transport/json_body.h"
#include "fuzz_support.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const reasons[] = {
	"unexpected character", "invalid escape", "nesting too deep",
	"NUL character", "trailing data", "body too long"
};

static void
check_refusal(const char *msg)
{
	static const char prefix[] = "malformed JSON in response body: ";

	FUZZ_CHECK(msg != NULL, "refusal", "no message");
	if (strcmp(msg, "empty response body") == 0 ||
		strcmp(msg, "truncated JSON in response body") == 0)
		return;
	FUZZ_CHECK(strncmp(msg, prefix, sizeof(prefix) - 1) == 0, "refusal", msg);
	for (int i = 0; i < lengthof(reasons); i++)
		if (strcmp(msg + sizeof(prefix) - 1, reasons[i]) == 0)
			return;
	fuzz_fail("refusal: unknown reason", msg);
}

/* every accessor on v and below */
static void
walk(const AigJson *v, int depth)
{
	AigJsonType t = aig_jtype(v);
	int64		n;

	FUZZ_CHECK(depth <= AIG_JSON_MAX_DEPTH + 1, "walk", "deeper than the limit");
	FUZZ_CHECK(t >= AIG_JSON_NULL && t <= AIG_JSON_OBJECT, "walk", "bad type");
	if (t == AIG_JSON_STRING)
	{
		size_t		len;
		char	   *s = aig_jstring(v, &len);

		FUZZ_CHECK(s != NULL && strlen(s) == len, "string", "holds a NUL");
		FUZZ_CHECK(len >= aig_jstring_len(v), "string", "shorter than its bytes");
		FUZZ_CHECK(aig_jstring_eq(v, s), "string", "not equal to its copy");
	}
	else
		FUZZ_CHECK(aig_jstring(v, NULL) == NULL, "non-string", "reads as a string");
	if (t == AIG_JSON_NUMBER)
		(void) aig_jnumber(v);
	FUZZ_CHECK(!aig_jint64(v, &n) || t == AIG_JSON_NUMBER, "int64", "non-number");
	if (t == AIG_JSON_ARRAY)
	{
		for (int i = 0; i < aig_jlength(v); i++)
		{
			const AigJson *e = aig_jelem(v, i);

			FUZZ_CHECK(e != NULL, "array", "element missing");
			walk(e, depth + 1);
		}
		FUZZ_CHECK(aig_jelem(v, aig_jlength(v)) == NULL, "array", "past the end");
	}
	else if (t == AIG_JSON_OBJECT)
	{
		n = aig_jtokens(v, "a");
		FUZZ_CHECK(n == -1 || (n >= 0 && n <= INT32_MAX), "tokens", "out of range");
		(void) aig_jpath(v, "a", "b", (char *) NULL);
	}
	else
		FUZZ_CHECK(aig_jlength(v) == 0, "scalar", "has a length");
}

/* a and b are the same tree (strings compared as read) */
static bool
same(const AigJson *a, const AigJson *b)
{
	AigJsonType t = aig_jtype(a);

	if (t != aig_jtype(b))
	{
		fprintf(stderr, "types differ: %d %d\n", (int) t, (int) aig_jtype(b));
		return false;
	}
	switch (t)
	{
		case AIG_JSON_NUMBER:
			{
				double		x = aig_jnumber(a);
				double		y = aig_jnumber(b);

				if ((isnan(x) && isnan(y)) || x == y)
					return true;
				fprintf(stderr, "numbers differ: %.17g %.17g\n", x, y);
				return false;
			}
		case AIG_JSON_STRING:
			{
				size_t		la;
				size_t		lb;
				char	   *sa = aig_jstring(a, &la);
				char	   *sb = aig_jstring(b, &lb);

				if (la == lb && memcmp(sa, sb, la) == 0)
					return true;
				fprintf(stderr, "strings differ: %zu [%s] %zu [%s]\n", la, sa, lb, sb);
				return false;
			}
		case AIG_JSON_ARRAY:
			if (aig_jlength(a) != aig_jlength(b))
				return false;
			for (int i = 0; i < aig_jlength(a); i++)
				if (!same(aig_jelem(a, i), aig_jelem(b, i)))
					return false;
			return true;
		case AIG_JSON_OBJECT:
			{
				/* same keys (json-c's order), same values */
				struct json_object *oa = (struct json_object *) unconstify(AigJson *, a);
				struct json_object_iterator it = json_object_iter_begin(oa);
				struct json_object_iterator end = json_object_iter_end(oa);

				if (aig_jlength(a) != aig_jlength(b))
					return false;
				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
				{
					const char *key = json_object_iter_peek_name(&it);

					if (!same(aig_jget(a, key), aig_jget(b, key)))
						return false;
				}
				return true;
			}
		default:
			return true;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long runs = 0;
	char	   *body;
	char	   *msg = NULL;
	AigJsonDoc *doc;

	/* exactly size bytes (malloc(0) may give NULL: keep one byte) */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);

	doc = aig_json_parse(body, size, &msg);
	if (doc == NULL)
		check_refusal(msg);
	else
	{
		const AigJson *root = doc->root;
		size_t		start = 0;

		FUZZ_CHECK(root != NULL && msg == NULL, "accepted", "no root or a message");
		walk(root, 0);

		/* a container cut in the middle: truncated */
		while (start < size && strchr(" \t\r\n", body[start]) != NULL)
			start++;
		if (aig_jis(root, AIG_JSON_ARRAY) || aig_jis(root, AIG_JSON_OBJECT))
		{
			size_t		end = size;
			size_t		cut;
			AigJsonDoc *part;

			while (end > start && strchr(" \t\r\n", body[end - 1]) != NULL)
				end--;
			cut = start + (end - start) / 2;
			if (cut > start)
			{
				part = aig_json_parse(body, cut, &msg);
				FUZZ_CHECK(part == NULL && msg != NULL &&
						   strcmp(msg, "truncated JSON in response body") == 0,
						   "cut container", msg ? msg : "accepted");
			}
		}

		/* round trip through the writer (after the cut's failed parse: the
		 * tokener must not carry anything over) */
		{
			AigJsonWriter w;
			char	   *err = NULL;
			AigJsonDoc *again;

			aig_jw_init(&w);
			aig_jw_copy(&w, root);
			again = aig_json_parse(w.buf.data, w.buf.len, &err);
			FUZZ_CHECK(again != NULL, "round trip: refused", err);
			FUZZ_CHECK(same(root, again->root), "round trip", w.buf.data);
			aig_json_free(again);
		}

		/* every other accepted body is left to the reset callback */
		if (runs++ % 2 == 0)
		{
			aig_json_free(doc);
			FUZZ_CHECK(aig_json_live_docs() == 0, "free", "a doc is still live");
		}
	}
	free(body);
	fuzz_arena_reset();
	FUZZ_CHECK(aig_json_live_docs() == 0, "reset", "a doc is still live");
	return 0;
}
