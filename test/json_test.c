/*
 * test/json_test.c — unit test of the JSON helpers over json-c
 * (src/transport/json.c) and the request-body writer
 * (src/transport/json_body.c): what is accepted and refused (with which
 * message), how strings and numbers read, null vs absent, the lifetime of
 * parsed docs (freed, or freed by the context reset), and what the writer
 * produces (separators, number format, copies).  Built and run by
 * test/json_test.sh, linked with json-c and test/fuzz/fuzz_support.c
 * (palloc over malloc, reset callbacks, escape_json's stand-in; an ereport
 * aborts).  Prints one line per failed check; exit status 1 when any
 * failed.
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/json.h"
#include "transport/json_body.h"
#include "fuzz_support.h"

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond, ...) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			failures++; \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

static const AigJson *
parse(const char *text, char **err)
{
	AigJsonDoc *doc;

	*err = NULL;
	doc = aig_json_parse(text, strlen(text), err);
	/* freed by fuzz_arena_reset's callbacks, as a context reset would */
	return doc ? doc->root : NULL;
}

/* text must parse */
static const AigJson *
ok(const char *text)
{
	char	   *err;
	const AigJson *v = parse(text, &err);

	CHECK(v != NULL, "expected %s to parse, got: %s", text, err ? err : "?");
	return v;
}

/* text must be refused with exactly this message */
static void
refused(const char *text, const char *msg)
{
	char	   *err;
	const AigJson *v = parse(text, &err);

	CHECK(v == NULL && err != NULL && strcmp(err, msg) == 0,
		  "expected %s to be refused with \"%s\", got %s", text, msg,
		  v ? "a value" : err);
}

static void
test_accept_refuse(void)
{
	const char *valid[] = {
		"{}", "[]", "0", "-0", "1.5e-3", "-2E+10", "\"\"", "true", "false", "null",
		" \t\r\n{ \"a\" : [ 1 , { } , [ ] ] } \n", "[\"\\u00e9\\ud83d\\ude00\"]",
		"NaN", "[Infinity,-Infinity]", "\"a\x01b\"", "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]",
		/* json-c's leniencies in strict mode, kept: harmless */
		"{'a':1}", "[1.]",
	};

	for (int i = 0; i < lengthof(valid); i++)
		(void) ok(valid[i]);

	refused("", "empty response body");
	refused("   ", "truncated JSON in response body");
	refused("{\"a\":", "truncated JSON in response body");
	refused("{\"a\":[1,2", "truncated JSON in response body");
	refused("{\"a\":\"abc", "truncated JSON in response body");
	refused("{\"a\":tr", "truncated JSON in response body");
	refused("[1.", "truncated JSON in response body");
	refused("[1e", "truncated JSON in response body");
	refused("[-", "truncated JSON in response body");
	refused("[1", "truncated JSON in response body");
	refused("[\"\\u12", "truncated JSON in response body");
	refused("<html>", "malformed JSON in response body: unexpected character");
	refused("{\"a\" 1}", "malformed JSON in response body: unexpected character");
	refused("[1,]", "malformed JSON in response body: unexpected character");
	refused("{\"a\":1,}", "malformed JSON in response body: unexpected character");
	refused("[01]", "malformed JSON in response body: unexpected character");
	refused("[.5]", "malformed JSON in response body: unexpected character");
	refused("[+1]", "malformed JSON in response body: unexpected character");
	refused("[nan]", "malformed JSON in response body: unexpected character");
	refused("[trUe]", "malformed JSON in response body: unexpected character");
	refused("{} x", "malformed JSON in response body: trailing data");
	refused("{}{}", "malformed JSON in response body: trailing data");
	refused("[\"\\x\"]", "malformed JSON in response body: invalid escape");
	refused("[\"\\u12g4\"]", "malformed JSON in response body: invalid escape");
	refused("[1 2]", "malformed JSON in response body: unexpected character");
	refused("{a:1}", "malformed JSON in response body: unexpected character");
	refused("[t]", "malformed JSON in response body: unexpected character");
	refused("/*c*/{}", "malformed JSON in response body: unexpected character");
	refused("12 x", "malformed JSON in response body: trailing data");
	refused("null x", "malformed JSON in response body: trailing data");

	/* a NUL byte in the body (it has an explicit length): in a string,
	 * between values, and after the value */
	{
		char	   *err;
		const char	body[] = "[\"a\0b\"]";
		const char	body2[] = "[1,\0 2]";
		const char	body3[] = "{}\0";

		CHECK(aig_json_parse(body, sizeof(body) - 1, &err) == NULL &&
			  strcmp(err, "malformed JSON in response body: NUL character") == 0,
			  "NUL in a string: %s", err ? err : "accepted");
		CHECK(aig_json_parse(body2, sizeof(body2) - 1, &err) == NULL &&
			  strcmp(err, "malformed JSON in response body: NUL character") == 0,
			  "NUL between values: %s", err ? err : "accepted");
		CHECK(aig_json_parse(body3, sizeof(body3) - 1, &err) == NULL &&
			  strcmp(err, "malformed JSON in response body: trailing data") == 0,
			  "NUL after the value: %s", err ? err : "accepted");
	}

	/* nesting: AIG_JSON_MAX_DEPTH is fine, one more is not */
	{
		StringInfoData deep;

		initStringInfo(&deep);
		for (int i = 0; i < AIG_JSON_MAX_DEPTH; i++)
			appendStringInfoChar(&deep, '[');
		for (int i = 0; i < AIG_JSON_MAX_DEPTH; i++)
			appendStringInfoChar(&deep, ']');
		(void) ok(deep.data);
		resetStringInfo(&deep);
		for (int i = 0; i <= AIG_JSON_MAX_DEPTH; i++)
			appendStringInfoChar(&deep, '[');
		for (int i = 0; i <= AIG_JSON_MAX_DEPTH; i++)
			appendStringInfoChar(&deep, ']');
		refused(deep.data, "malformed JSON in response body: nesting too deep");
	}
}

static void
expect_string(const AigJson *v, const char *want, size_t want_len)
{
	size_t		len;
	char	   *s = aig_jstring(v, &len);

	CHECK(s != NULL && len == want_len && memcmp(s, want, len) == 0 &&
		  s[len] == '\0', "string reads as \"%s\" (%zu bytes), want \"%s\"",
		  s ? s : "(null)", s ? len : 0, want);
}

static void
test_strings(void)
{
	const AigJson *a = ok("[\"plain\",\"a\\nb\\t\\\"q\\\"\\\\ \\/\","
						  "\"\\u00e9\\u20ac\",\"\\ud83d\\ude00\","
						  "\"\\ud800x\",\"\\udc00\",\"a\\u0000b\",\"\\ud800\\u0041\"]");

	expect_string(aig_jelem(a, 0), "plain", 5);
	expect_string(aig_jelem(a, 1), "a\nb\t\"q\"\\ /", 10);
	expect_string(aig_jelem(a, 2), "\xc3\xa9\xe2\x82\xac", 5);
	expect_string(aig_jelem(a, 3), "\xf0\x9f\x98\x80", 4);
	/* unpaired surrogates and NUL become U+FFFD */
	expect_string(aig_jelem(a, 4), "\xef\xbf\xbdx", 4);
	expect_string(aig_jelem(a, 5), "\xef\xbf\xbd", 3);
	expect_string(aig_jelem(a, 6), "a\xef\xbf\xbd" "b", 5);
	expect_string(aig_jelem(a, 7), "\xef\xbf\xbd" "A", 4);

	/* many escapes in one long string: read in linear time (a quadratic
	 * scan would take minutes here), every escape decoded */
	{
		StringInfoData big;
		int			n = 1000000;
		size_t		len;
		char	   *out;
		const AigJson *v;

		initStringInfo(&big);
		appendStringInfoString(&big, "[\"");
		for (int i = 0; i < n; i++)
			appendStringInfoString(&big, i > 0 ? "\\n" : "\\\"");
		appendStringInfoString(&big, "\"]");
		v = aig_jelem(ok(big.data), 0);
		out = aig_jstring(v, &len);
		CHECK(out != NULL && len == (size_t) n && out[0] == '"' && out[1] == '\n' &&
			  out[n - 1] == '\n', "long escaped string: %zu bytes", out ? len : 0);
	}

	CHECK(aig_jstring_eq(aig_jelem(a, 0), "plain"), "aig_jstring_eq plain");
	CHECK(!aig_jstring_eq(aig_jelem(a, 0), "plai"), "aig_jstring_eq prefix");
	CHECK(aig_jstring_eq(aig_jelem(a, 2), "\xc3\xa9\xe2\x82\xac"), "aig_jstring_eq escaped");
	CHECK(aig_jstring(aig_jelem(a, 8), NULL) == NULL, "past the end is NULL");

	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, ">");
		CHECK(aig_jstring_append(aig_jelem(a, 1), &buf) &&
			  strcmp(buf.data, ">a\nb\t\"q\"\\ /") == 0, "aig_jstring_append: %s", buf.data);
		CHECK(!aig_jstring_append(a, &buf), "aig_jstring_append of an array");
	}
}

static void
test_numbers(void)
{
	const AigJson *a = ok("[0,-0,42,-7,1.5,2e3,9223372036854775807,"
						  "9223372036854775808,-9223372036854775809,1e400,NaN,"
						  "-Infinity,Infinity,\"5\"]");
	int64		n;

	CHECK(aig_jint64(aig_jelem(a, 0), &n) && n == 0, "0");
	CHECK(aig_jint64(aig_jelem(a, 1), &n) && n == 0, "-0");
	CHECK(aig_jint64(aig_jelem(a, 2), &n) && n == 42, "42");
	CHECK(aig_jint64(aig_jelem(a, 3), &n) && n == -7, "-7");
	CHECK(!aig_jint64(aig_jelem(a, 4), &n), "1.5 is not an integer");
	CHECK(!aig_jint64(aig_jelem(a, 5), &n), "2e3 is not an integer");
	CHECK(aig_jnumber(aig_jelem(a, 5)) == 2000.0, "2e3 = 2000");
	CHECK(aig_jint64(aig_jelem(a, 6), &n) && n == PG_INT64_MAX, "int64 max");
	CHECK(aig_jint64(aig_jelem(a, 7), &n) && n == PG_INT64_MAX, "saturates up");
	CHECK(aig_jint64(aig_jelem(a, 8), &n) && n == PG_INT64_MIN, "saturates down");
	CHECK(isinf(aig_jnumber(aig_jelem(a, 9))), "1e400 is infinite");
	CHECK(isnan(aig_jnumber(aig_jelem(a, 10))), "NaN");
	CHECK(isinf(aig_jnumber(aig_jelem(a, 11))) && aig_jnumber(aig_jelem(a, 11)) < 0,
		  "-Infinity");
	CHECK(!aig_jint64(aig_jelem(a, 13), &n) && aig_jnumber(aig_jelem(a, 13)) == 0,
		  "a string is not a number");

	/* token counts: 0..INT32_MAX, else -1 */
	{
		const AigJson *u = ok("{\"a\":12,\"b\":-1,\"c\":3000000000,\"d\":7.9,"
							  "\"e\":NaN,\"f\":\"9\",\"g\":1e9}");

		CHECK(aig_jtokens(u, "a") == 12, "tokens 12");
		CHECK(aig_jtokens(u, "b") == -1, "tokens negative");
		CHECK(aig_jtokens(u, "c") == -1, "tokens too large");
		CHECK(aig_jtokens(u, "d") == 7, "tokens fraction truncated");
		CHECK(aig_jtokens(u, "e") == -1, "tokens NaN");
		CHECK(aig_jtokens(u, "f") == -1, "tokens string");
		CHECK(aig_jtokens(u, "g") == 1000000000, "tokens 1e9");
		CHECK(aig_jtokens(u, "missing") == -1, "tokens missing");
		CHECK(aig_jtokens(NULL, "a") == -1, "tokens of NULL");
	}
}

static void
test_values(void)
{
	const AigJson *o = ok("{\"a\":{\"x\":[1,2,{\"y\":null}]},\"b\":true,\"a\":\"last\","
						  "\"k\\u0065y\":5,\"n\":null,\"f\":false}");
	const AigJson *x = aig_jpath(ok("{\"a\":{\"x\":[1,null,{\"y\":null}]}}"),
								 "a", "x", (char *) NULL);

	CHECK(aig_jis(o, AIG_JSON_OBJECT) && aig_jlength(o) == 5,
		  "object members %d", aig_jlength(o));
	/* a repeated key: the last one */
	CHECK(aig_jstring_eq(aig_jget(o, "a"), "last"), "last key wins");
	CHECK(aig_jis(aig_jget(o, "b"), AIG_JSON_TRUE), "b is true");
	CHECK(aig_jis(aig_jget(o, "f"), AIG_JSON_FALSE), "f is false");
	CHECK(aig_jget(o, "c") == NULL, "missing key");
	/* null is a value, not absence */
	CHECK(aig_jget(o, "n") != NULL && aig_jis(aig_jget(o, "n"), AIG_JSON_NULL),
		  "null member");
	CHECK(aig_jget(aig_jget(o, "n"), "x") == NULL && aig_jlength(aig_jget(o, "n")) == 0 &&
		  aig_jstring(aig_jget(o, "n"), NULL) == NULL && aig_jnumber(aig_jget(o, "n")) == 0,
		  "accessors on null");
	CHECK(aig_jget(aig_jget(o, "b"), "x") == NULL, "get on a non-object");
	/* an escaped key matches its unescaped text */
	CHECK(aig_jis(aig_jget(o, "key"), AIG_JSON_NUMBER), "escaped key");
	CHECK(aig_jis(x, AIG_JSON_ARRAY) && aig_jlength(x) == 3, "path, array length");
	CHECK(aig_jis(aig_jelem(x, 1), AIG_JSON_NULL), "null element");
	CHECK(aig_jis(aig_jget(aig_jelem(x, 2), "y"), AIG_JSON_NULL), "nested null");
	CHECK(aig_jelem(x, 3) == NULL && aig_jelem(x, -1) == NULL, "elem out of range");
	CHECK(aig_jelem(ok("[]"), 0) == NULL, "first of an empty array");
	CHECK(aig_jlength(ok("5")) == 0, "length of a scalar");
	CHECK(aig_jis(ok("null"), AIG_JSON_NULL), "a null document");
	CHECK(aig_jtype(NULL) == 0 && !aig_jis(NULL, AIG_JSON_NULL), "absent");
}

/* docs: freed explicitly, or by the reset callback after an "ERROR" */
static void
test_lifetime(void)
{
	char	   *err;
	AigJsonDoc *d1;
	AigJsonDoc *d2;

	fuzz_arena_reset();
	CHECK(aig_json_live_docs() == 0, "no docs before");
	d1 = aig_json_parse("{\"a\":[1,2,3]}", 13, &err);
	d2 = aig_json_parse("[\"x\"]", 5, &err);
	CHECK(d1 != NULL && d2 != NULL && aig_json_live_docs() == 2, "two docs live");
	aig_json_free(d1);
	aig_json_free(d1);			/* twice is harmless */
	CHECK(aig_json_live_docs() == 1, "one freed");
	CHECK(aig_json_parse("[1", 2, &err) == NULL && aig_json_live_docs() == 1,
		  "a refused body leaves no doc");
	/* a body cut inside a surrogate pair leaves nothing for the next one
	 * (json-c's reset keeps the pending surrogate: json.c drops the
	 * tokener after a failure) */
	CHECK(aig_json_parse("[\"\\ud83d\\u00", 12, &err) == NULL, "cut in a surrogate pair");
	expect_string(aig_jelem(ok("[\"\\u001f\"]"), 0), "\x1f", 1);
	/* d2 is left to the "context reset" (LeakSanitizer checks the tree) */
	fuzz_arena_reset();
	CHECK(aig_json_live_docs() == 0, "reset callback freed the doc");
}

static void
expect_body(AigJsonWriter *w, const char *want)
{
	CHECK(strcmp(w->buf.data, want) == 0, "wrote %s, want %s", w->buf.data, want);
}

static void
test_writer(void)
{
	AigJsonWriter w;
	char	   *items[] = {"a", "b\"c"};
	int			mark;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "s", "q\"b\\s/\n\t\x01\x1f\x7f\xc3\xa9");
	aig_jw_kint(&w, "i", -9223372036854775807LL - 1);
	aig_jw_kint(&w, "z", 0);
	aig_jw_key(&w, "d");
	aig_jw_double(&w, 0.7, "d");
	aig_jw_key(&w, "e");
	aig_jw_double(&w, 1.0 / 3.0, "e");
	aig_jw_kbool(&w, "t", true);
	aig_jw_kstring_array(&w, "arr", 2, items);
	aig_jw_kstring(&w, "null", NULL);
	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "empty");
	aig_jw_object_begin(&w);
	aig_jw_object_end_or_drop(&w, mark);
	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "kept");
	aig_jw_object_begin(&w);
	aig_jw_kint(&w, "n", 1);
	aig_jw_object_end_or_drop(&w, mark);
	aig_jw_key(&w, "copy");
	aig_jw_copy(&w, ok(" {\"x\":[1,\"\\u00e9\\n\",2.50,-0.0,1e5,null,{}],\"y\":{\"z\":false}} "));
	aig_jw_key(&w, "list");
	aig_jw_array_begin(&w);
	aig_jw_object_begin(&w);
	aig_jw_object_end(&w);
	aig_jw_array_begin(&w);
	aig_jw_array_end(&w);
	aig_jw_copy(&w, aig_jelem(ok("[\"str\"]"), 0));
	aig_jw_array_end(&w);
	aig_jw_object_end(&w);
	expect_body(&w, "{\"s\":\"q\\\"b\\\\s/\\n\\t\\u0001\\u001f\x7f\xc3\xa9\","
				"\"i\":-9223372036854775808,\"z\":0,\"d\":0.7,"
				"\"e\":0.3333333333333333,\"t\":true,\"arr\":[\"a\",\"b\\\"c\"],"
				"\"null\":\"\",\"kept\":{\"n\":1},"
				"\"copy\":{\"x\": [1, \"\xc3\xa9\\n\", 2.50, -0.0, 1e5, null, {}], \"y\": {\"z\": false}},"
				"\"list\":[{},[],\"str\"]}");
	/* and it reads back */
	(void) ok(w.buf.data);

	/* an optional member dropped first in an object leaves no comma */
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "o");
	aig_jw_object_begin(&w);
	aig_jw_object_end_or_drop(&w, mark);
	aig_jw_kint(&w, "a", 1);
	aig_jw_object_end(&w);
	expect_body(&w, "{\"a\":1}");

	/* doubles: float8out's shortest round-trip text, valid JSON numbers */
	{
		const double vals[] = {0.1, 0.5, 1.0, -2.25, 1e-7, 1e21, 123456.789,
		0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0};
		const char *want = "[0.1,0.5,1,-2.25,1e-07,1e+21,123456.789,"
			"0.30000000000000004,5e-324,1.7976931348623157e+308,-0]";

		aig_jw_init(&w);
		aig_jw_array_begin(&w);
		for (int i = 0; i < lengthof(vals); i++)
			aig_jw_double(&w, vals[i], "x");
		aig_jw_array_end(&w);
		expect_body(&w, want);
		/* each reads back as the same double */
		{
			const AigJson *a = ok(w.buf.data);

			for (int i = 0; i < lengthof(vals); i++)
				CHECK(aig_jnumber(aig_jelem(a, i)) == vals[i],
					  "double %d reads back", i);
		}
	}
}

int
main(void)
{
	test_accept_refuse();
	test_strings();
	test_numbers();
	test_values();
	test_lifetime();
	test_writer();
	fuzz_arena_reset();
	printf("json_test: %d checks, %d failed\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
