/*
 * json.h — reading provider bodies with json-c.
 *
 * aig_json_parse() parses a whole body with one json_tokener per backend
 * (created on first use, reset for every parse, depth capped at
 * AIG_JSON_MAX_DEPTH) and returns an AigJsonDoc: the json-c tree, owned by
 * the caller until aig_json_free().  json-c allocates with malloc, so the
 * doc is also tied to CurrentMemoryContext by a reset callback: an ERROR
 * that unwinds while a tree is alive frees it when that context is reset
 * or deleted.  Readers copy what they keep into palloc'd memory
 * (aig_jstring & co.), so nothing they return points into the tree.
 *
 * What is accepted: RFC 8259 (json-c strict mode) plus, on purpose
 * (upstreams are not always strict): NaN, Infinity and -Infinity as
 * numbers (Python's json module writes them; readers check for finite
 * values); raw control characters inside strings; invalid UTF-8 passed
 * through (callers check the text they keep).  A \u escape of NUL or of an
 * unpaired surrogate reads as U+FFFD.  A repeated key: the last one wins.
 * json-c's own leniencies in strict mode are kept too: single-quoted
 * strings and a number ending in a point ("1.").  Only white space may
 * follow the value.  With json-c 0.18, whose strict mode refuses all
 * non-ASCII text, the default mode is used: it also takes comments, a
 * trailing comma, unquoted names and leading zeros or signs in numbers,
 * and control characters in strings (json.c, choose_flags).
 *
 * Errors: "empty response body", "truncated JSON in response body" (the
 * body ends inside the value) or "malformed JSON in response body: <why>",
 * why one of "unexpected character", "invalid escape", "nesting too deep",
 * "NUL character", "trailing data".
 *
 * Accessors take NULL (an absent value) and a value of the wrong type
 * quietly, returning NULL / false / 0, so readers can chain them.  A JSON
 * null member or element is not NULL but a value of type AIG_JSON_NULL.
 */
#ifndef AIG_JSON_H
#define AIG_JSON_H

#include "postgres.h"

#include "lib/stringinfo.h"

#define AIG_JSON_MAX_DEPTH 128

/* a value of a parsed body (a json-c object; opaque to readers) */
typedef struct json_object AigJson;

typedef enum AigJsonType
{
	AIG_JSON_NULL = 1,
	AIG_JSON_FALSE,
	AIG_JSON_TRUE,
	AIG_JSON_NUMBER,
	AIG_JSON_STRING,
	AIG_JSON_ARRAY,
	AIG_JSON_OBJECT
} AigJsonType;

/* a parsed body: free with aig_json_free (or let its context go) */
typedef struct AigJsonDoc
{
	const AigJson *root;
	struct json_object *tree;	/* json-c's reference (NULL for a null) */
	bool		live;			/* not freed yet */
	MemoryContextCallback cb;	/* frees tree on a context reset */
} AigJsonDoc;

/*
 * Parse body[0..len) (need not be NUL-terminated): the doc, palloc'd in
 * CurrentMemoryContext, or NULL with *errmsg (palloc'd, see above).
 * Never ereports but for out-of-memory.
 */
extern AigJsonDoc *aig_json_parse(const char *body, size_t len,
								  char **errmsg);

/* Release doc's json-c tree and doc itself (NULL is fine). */
extern void aig_json_free(AigJsonDoc *doc);

/* Docs parsed and not yet freed in this process (tests check it is 0). */
extern int	aig_json_live_docs(void);

/* v's type, 0 for NULL (absent) */
extern AigJsonType aig_jtype(const AigJson *v);

static inline bool
aig_jis(const AigJson *v, AigJsonType type)
{
	return aig_jtype(v) == type;
}

/* a number written without fraction or exponent */
extern bool aig_jis_integer(const AigJson *v);

/* elements of an array / members of an object, 0 for anything else */
extern int	aig_jlength(const AigJson *v);

/* obj[key] (the last one when repeated), NULL when obj is not an object
 * or has no such key */
extern const AigJson *aig_jget(const AigJson *obj, const char *key);

/*
 * Call fn(name, value, arg) for each member of obj in order, stopping at the
 * first non-NULL return, which is returned (NULL: all done, or obj is not an
 * object).
 */
typedef const char *(*AigJsonMemberFn) (const char *name, const AigJson *value, void *arg);
extern const char *aig_jforeach_member(const AigJson *obj, AigJsonMemberFn fn, void *arg);

/* arr[i], NULL when arr is not an array or i is out of range */
extern const AigJson *aig_jelem(const AigJson *arr, int i);

/* obj[k1][k2]..., NULL-terminated key list */
extern const AigJson *aig_jpath(const AigJson *obj,...);

/* Byte length of string value v (before any U+FFFD), 0 for a non-string. */
extern size_t aig_jstring_len(const AigJson *v);

/*
 * A string value copied into a palloc'd NUL-terminated string (*len, may
 * be NULL, gets its length), or NULL when v is not a string.
 */
extern char *aig_jstring(const AigJson *v, size_t *len);

/* Append string value v to buf; false when v is not a string. */
extern bool aig_jstring_append(const AigJson *v, StringInfo buf);

/* Does string value v equal s? */
extern bool aig_jstring_eq(const AigJson *v, const char *s);

/* aig_jstring(aig_jget(obj, key), NULL) */
extern char *aig_jstr(const AigJson *obj, const char *key);

/* A number's value (may be +-HUGE_VAL or NaN), 0 for a non-number. */
extern double aig_jnumber(const AigJson *v);

/* An integer number's value, saturated to the int64 range; false when v
 * is not an integer (no fraction, no exponent). */
extern bool aig_jint64(const AigJson *v, int64 *out);

/*
 * A token count member: obj[key] when it is a number in 0..PG_INT32_MAX
 * (a fraction is truncated), else -1 (absent, not a number, negative or
 * absurd: sums of counts must not overflow).
 */
extern int64 aig_jtokens(const AigJson *obj, const char *key);

#endif							/* AIG_JSON_H */
