/*
 * jsonb_util.c — typed lookups in jsonb option objects, with the 22023
 * errors a caller gets for a wrong type or an out-of-range value.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "core/jsonb_util.h"

JsonbValue *
aig_jsonb_get(Jsonb *jb, const char *key)
{
	JsonbValue	k;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
}

static double
jsonb_number(JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

bool
aig_jsonb_get_number(Jsonb *jb, const char *key, const char *what,
					 double min, double max, double *out)
{
	JsonbValue *v = aig_jsonb_get(jb, key);
	double		d;

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be a number", what, key)));
	d = jsonb_number(v);
	if (isnan(d) || d < min || d > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is out of range", what, key),
				 errdetail("It must be between %g and %g.", min, max)));
	*out = d;
	return true;
}

bool
aig_jsonb_get_int(Jsonb *jb, const char *key, const char *what,
				  int64 min, int64 max, int64 *out)
{
	JsonbValue *v = aig_jsonb_get(jb, key);
	double		d;

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be an integer", what, key)));
	d = jsonb_number(v);
	if (isnan(d) || d != floor(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be an integer", what, key)));
	if (d < (double) min || d > (double) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is out of range", what, key),
				 errdetail("It must be between " INT64_FORMAT " and " INT64_FORMAT ".",
						   min, max)));
	*out = (int64) d;
	return true;
}

char *
aig_jsonb_get_string(Jsonb *jb, const char *key, const char *what)
{
	JsonbValue *v = aig_jsonb_get(jb, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be a string", what, key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

char **
aig_jsonb_string_array(JsonbValue *v, int *n)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	char	  **out;

	*n = 0;
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return NULL;
	out = palloc0(sizeof(char *) * Max(JsonContainerSize(v->val.binary.data), 1));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvString)
			return NULL;
		out[(*n)++] = pnstrdup(e.val.string.val, e.val.string.len);
	}
	return out;
}

char *
aig_jsonb_value_to_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNull:
			return NULL;
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			elog(ERROR, "unexpected jsonb value type %d", v->type);
	}
	return NULL;
}

JsonbValue *
aig_jsonb_member(JsonbValue *v, const char *name)
{
	JsonbValue	k;

	if (!aig_jsonb_is_object(v))
		return NULL;
	k.type = jbvString;
	k.val.string.val = unconstify(char *, name);
	k.val.string.len = strlen(name);
	return findJsonbValueFromContainer(v->val.binary.data, JB_FOBJECT, &k);
}

bool
aig_jsonb_is_object(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

char *
aig_jsonb_string_utf8(JsonbValue *v)
{
	char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

	return pg_server_to_any(s, v->val.string.len, PG_UTF8);
}
