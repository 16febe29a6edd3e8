/*
 * jsonc_util.h — small helpers over json-c used by the dialects.
 *
 * json-c allocates with malloc, outside PostgreSQL's memory contexts: every
 * object obtained here must be released with json_object_put() on every
 * path (PG_TRY/PG_FINALLY in the caller).  The getters return pointers into
 * the json-c object (not copies): pstrdup them before the put.
 */
#ifndef AIG_JSONC_UTIL_H
#define AIG_JSONC_UTIL_H

#include "postgres.h"
#include <json-c/json.h>

/* Parse a body; NULL and *errmsg (palloc'd) when it is not one JSON value. */
extern json_object *aig_json_parse(const char *body, size_t len, char **errmsg);

/* Serialize (compact, slashes unescaped) into a palloc'd string. */
extern char *aig_json_to_pstring(json_object *obj, size_t *len);

/* Path lookup: aig_json_path(obj, "usage", "prompt_tokens", NULL). */
extern json_object *aig_json_path(json_object *obj,...);

/* String value or NULL (also NULL when not a string). */
extern const char *aig_json_str(json_object *obj, const char *key);

/*
 * A count (token usage): the value when it is a number in [0, INT32_MAX]
 * (a double is truncated), else -1 (missing, not a number, negative, NaN,
 * or too large to be a real count).
 */
extern int64 aig_json_int(json_object *obj, const char *key);

#endif							/* AIG_JSONC_UTIL_H */
