/*
 * jsonb_util.h — reading options out of jsonb values (route, provider and
 * call options) without deforming whole documents.
 */
#ifndef AIG_JSONB_UTIL_H
#define AIG_JSONB_UTIL_H

#include "postgres.h"
#include "utils/jsonb.h"

/* The value of key in a jsonb object, or NULL when absent / not an object. */
extern JsonbValue *aig_jsonb_get(Jsonb *jb, const char *key);

/* Typed getters: return false when absent; ereport 22023 on a wrong type. */
extern bool aig_jsonb_get_int(Jsonb *jb, const char *key, const char *what,
							  int64 min, int64 max, int64 *out);
extern bool aig_jsonb_get_number(Jsonb *jb, const char *key, const char *what,
								 double min, double max, double *out);
extern char *aig_jsonb_get_string(Jsonb *jb, const char *key, const char *what);

/*
 * The strings of a jsonb array value (palloc'd copies, *n of them), or NULL
 * when v is not an array of strings.
 */
extern char **aig_jsonb_string_array(JsonbValue *v, int *n);

/* Member name of an object value, or NULL when v is not an object or has none. */
extern JsonbValue *aig_jsonb_member(JsonbValue *v, const char *name);

/* Is v an object value? */
extern bool aig_jsonb_is_object(JsonbValue *v);

/* A string value as a NUL-terminated UTF-8 C string (always a copy). */
extern char *aig_jsonb_string_utf8(JsonbValue *v);

/* Text of a JsonbValue (scalar strings unquoted, containers as JSON). */
extern char *aig_jsonb_value_to_text(JsonbValue *v);

#endif							/* AIG_JSONB_UTIL_H */
