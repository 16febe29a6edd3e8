/*
 * json_body.h — the JSON writer the dialects build request bodies with.
 *
 * Appends straight to a palloc'd StringInfo in document order: no tree,
 * no malloc, nothing to free on an error path.  The writer puts the commas
 * in itself (a value or key after another value gets one), so a body reads
 * like the JSON it makes:
 *
 *		aig_jw_object_begin(&w);
 *		aig_jw_kstring(&w, "model", model);
 *		aig_jw_key(&w, "messages");
 *		aig_jw_array_begin(&w);
 *		...
 *		aig_jw_array_end(&w);
 *		aig_jw_object_end(&w);
 *
 * Strings are escaped by the server's escape_json ('"', '\\' and control
 * characters; '/' and non-ASCII bytes as they are: the text is UTF-8
 * already).  Doubles are written as float8out writes them with
 * extra_float_digits > 0: the shortest text that reads back as the same
 * value (common/shortest_dec.h).
 */
#ifndef AIG_JSON_BODY_H
#define AIG_JSON_BODY_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "transport/json.h"

typedef struct AigJsonWriter
{
	StringInfoData buf;
} AigJsonWriter;

extern void aig_jw_init(AigJsonWriter *w);

extern void aig_jw_object_begin(AigJsonWriter *w);
extern void aig_jw_object_end(AigJsonWriter *w);
extern void aig_jw_array_begin(AigJsonWriter *w);
extern void aig_jw_array_end(AigJsonWriter *w);

/* an object member's key; its value comes next */
extern void aig_jw_key(AigJsonWriter *w, const char *key);

/* values; a NULL string is written as "" */
extern void aig_jw_string(AigJsonWriter *w, const char *s);
extern void aig_jw_int(AigJsonWriter *w, int64 v);
/* ereports (22023, naming `what`) for NaN and infinities */
extern void aig_jw_double(AigJsonWriter *w, double v, const char *what);
extern void aig_jw_bool(AigJsonWriter *w, bool v);
/*
 * a value parsed by aig_json_parse, written back in the layout of
 * PostgreSQL's jsonb output ("k": v, ", " between items), the layout
 * options such as response_format arrive in; numbers as they were
 * written (json-c keeps a fraction's text; integers beyond the int64
 * range saturate)
 */
extern void aig_jw_copy(AigJsonWriter *w, const AigJson *v);

/*
 * a value given as JSON text the gateway produced or already validated
 * (a tool's parameters schema, a call's arguments), written as it is
 */
extern void aig_jw_raw(AigJsonWriter *w, const char *json);

/* key and value in one call */
extern void aig_jw_kstring(AigJsonWriter *w, const char *key, const char *s);
extern void aig_jw_kint(AigJsonWriter *w, const char *key, int64 v);
extern void aig_jw_kbool(AigJsonWriter *w, const char *key, bool v);
extern void aig_jw_kstring_array(AigJsonWriter *w, const char *key,
								 int n, char *const *items);

/*
 * For a member that may turn out empty: mark = aig_jw_mark(w) before its
 * key, then aig_jw_object_end_or_drop(w, mark) ends the object, or takes
 * the whole member (and its comma) back out when nothing went in it.
 */
static inline int
aig_jw_mark(AigJsonWriter *w)
{
	return w->buf.len;
}
extern void aig_jw_object_end_or_drop(AigJsonWriter *w, int mark);

#endif							/* AIG_JSON_BODY_H */
