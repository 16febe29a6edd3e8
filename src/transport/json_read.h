/*
 * json_read.h — the JSON reader the dialects parse provider bodies with.
 *
 * aig_json_parse() checks a whole body against RFC 8259 in one pass and
 * records every value as a node of one flat palloc'd array, in document
 * order: a container is followed by its contents (an object's members as
 * key node, value node pairs), and a node's `size` is the number of nodes
 * of its subtree, so the next sibling of v is v + v->size.  Nothing is
 * copied or decoded while parsing: a node points into the body, and a
 * string is unescaped only when a reader asks for it (aig_json_string).
 * So a body costs one allocation and one pass, values nobody reads cost
 * nothing more, and everything lives in CurrentMemoryContext: no
 * PG_TRY is needed to free it, pfree(root) or a context reset does.
 *
 * The body must stay alive while its nodes are used.
 *
 * Leniency, on purpose (upstreams are not always strict, and these match
 * what json-c accepted before): NaN, Infinity and -Infinity are numbers
 * (Python's json module writes them; readers check for finite values);
 * raw control characters other than NUL inside strings are kept; invalid UTF-8 is passed through (callers check
 * the text they keep); a \u escape of NUL or of an unpaired surrogate
 * decodes to U+FFFD.  A duplicated key: the last one wins.  Nesting deeper
 * than AIG_JSON_MAX_DEPTH is an error.
 *
 * Accessors take NULL (an absent value) and a value of the wrong type
 * quietly, returning NULL / false / 0, so readers can chain them.
 */
#ifndef AIG_JSON_READ_H
#define AIG_JSON_READ_H

#include "postgres.h"

#include "lib/stringinfo.h"

#define AIG_JSON_MAX_DEPTH 128

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

/* node flags */
#define AIG_JSON_ESCAPED	0x01	/* string holds backslash escapes */
#define AIG_JSON_INTEGER	0x02	/* number without fraction or exponent */

typedef struct AigJson
{
	const char *p;				/* string: after the opening quote; other
								 * types: first character */
	int32		len;			/* string: bytes between the quotes; number
								 * and literal: token length; containers:
								 * through the closing bracket */
	int32		size;			/* nodes in this subtree, itself included */
	int32		count;			/* array elements / object members */
	uint8		type;			/* AigJsonType */
	uint8		flags;
} AigJson;

/*
 * Parse body[0..len) (need not be NUL-terminated): the root node, or NULL
 * with *errmsg ("empty response body", "truncated JSON in response body",
 * "malformed JSON in response body: <why>").  Only white space may follow
 * the value.  Never ereports but for out-of-memory.
 */
extern const AigJson *aig_json_parse(const char *body, size_t len,
									 char **errmsg);

static inline bool
aig_jis(const AigJson *v, AigJsonType type)
{
	return v != NULL && v->type == type;
}

static inline bool
aig_jis_integer(const AigJson *v)
{
	return v != NULL && v->type == AIG_JSON_NUMBER &&
		(v->flags & AIG_JSON_INTEGER) != 0;
}

/* elements of an array / members of an object, 0 for anything else */
static inline int
aig_jlength(const AigJson *v)
{
	return (v != NULL && (v->type == AIG_JSON_ARRAY ||
						  v->type == AIG_JSON_OBJECT)) ? v->count : 0;
}

/* the value after v among its siblings (v must not be the last one) */
static inline const AigJson *
aig_jnext(const AigJson *v)
{
	return v + v->size;
}

/* first element of a non-empty array, else NULL; go on with aig_jnext */
static inline const AigJson *
aig_jfirst(const AigJson *arr)
{
	return (aig_jis(arr, AIG_JSON_ARRAY) && arr->count > 0) ? arr + 1 : NULL;
}

/* obj[key] (the last one when repeated), NULL when obj is not an object
 * or has no such key */
extern const AigJson *aig_jget(const AigJson *obj, const char *key);

/* arr[i], NULL when arr is not an array or i is out of range; O(i) */
extern const AigJson *aig_jelem(const AigJson *arr, int i);

/* obj[k1][k2]..., NULL-terminated key list */
extern const AigJson *aig_jpath(const AigJson *obj,...);

/*
 * A string value unescaped into a palloc'd NUL-terminated copy (*len, may
 * be NULL, gets its length), or NULL when v is not a string.
 */
extern char *aig_jstring(const AigJson *v, size_t *len);

/* Append string value v, unescaped, to buf; false when v is not a string. */
extern bool aig_jstring_append(const AigJson *v, StringInfo buf);

/* Does string value v equal s?  (no allocation when v has no escapes) */
extern bool aig_jstring_eq(const AigJson *v, const char *s);

/* aig_jstring(aig_jget(obj, key), NULL) */
extern char *aig_jstr(const AigJson *obj, const char *key);

/* A number's value (strtod: may be +-HUGE_VAL), 0 for a non-number. */
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

#endif							/* AIG_JSON_READ_H */
