/*
 * call_options.c — validation of a call's options jsonb (call_options.h):
 * unknown keys are refused, every value is checked for type and range, and
 * strings are converted to the UTF-8 the providers speak.
 */
#include "postgres.h"

#include <limits.h>

#include "mb/pg_wchar.h"
#include "utils/jsonb.h"

#include "core/jsonb_util.h"
#include "routing/call_options.h"

#define OPT "option"

static const char *const known_options[] = {
	"temperature", "max_tokens", "top_p", "stop", "seed", "response_format",
	"timeout_ms", "connect_timeout_ms", "max_retries", "user", "metadata",
	"dimensions", "input_type", "concurrency", "cache",
	"tools", "tool_choice", "parallel_tool_calls", "batch",
};

/* 22023 unless opts is an object of known option names. */
static void
reject_unknown_options(Jsonb *opts)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(opts) || JB_ROOT_IS_SCALAR(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	it = JsonbIteratorInit(&opts->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < lengthof(known_options); i++)
			if (strlen(known_options[i]) == (size_t) v.val.string.len &&
				strncmp(known_options[i], v.val.string.val, v.val.string.len) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%.*s\"", v.val.string.len, v.val.string.val),
					 errhint("Valid options are temperature, max_tokens, top_p, stop, seed, response_format, timeout_ms, connect_timeout_ms, max_retries, user, metadata, dimensions, input_type, concurrency, cache, tools, tool_choice, parallel_tool_calls and batch.")));
	}
}

/* options.stop: a string or up to 16 strings. */
static void
parse_stop(JsonbValue *v, AigGenOptions *g)
{
	if (v->type == jbvString)
	{
		g->nstop = 1;
		g->stop = palloc(sizeof(char *));
		g->stop[0] = aig_jsonb_string_utf8(v);
		return;
	}
	g->stop = aig_jsonb_string_array(v, &g->nstop);
	if (g->stop != NULL)
	{
		for (int i = 0; i < g->nstop; i++)
			g->stop[i] = pg_server_to_any(g->stop[i], strlen(g->stop[i]), PG_UTF8);
		if (g->nstop > 16)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"stop\" has %d sequences; at most 16 are allowed", g->nstop)));
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"stop\" must be a string or an array of strings")));
}

/* The member name of a jsonb object container, or NULL. */
static JsonbValue *
object_member(JsonbContainer *c, const char *name)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = unconstify(char *, name);
	k.val.string.len = strlen(name);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

/*
 * response_format json_schema: {"json_schema": {"name": ..., "schema": {...}}}
 * as OpenAI and Azure document it (name required: 1-64 of [A-Za-z0-9_-];
 * schema, when given, an object).
 */
static void
check_json_schema(JsonbValue *rf)
{
	JsonbValue *js = object_member(rf->val.binary.data, "json_schema");
	JsonbValue *name = NULL;
	JsonbValue *schema = NULL;
	bool		name_ok = false;

	if (js != NULL && js->type == jbvBinary && JsonContainerIsObject(js->val.binary.data))
	{
		name = object_member(js->val.binary.data, "name");
		schema = object_member(js->val.binary.data, "schema");
	}
	if (name != NULL && name->type == jbvString &&
		name->val.string.len >= 1 && name->val.string.len <= 64)
	{
		name_ok = true;
		for (int i = 0; i < name->val.string.len; i++)
		{
			char		c = name->val.string.val[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '_' || c == '-'))
				name_ok = false;
		}
	}
	if (!name_ok ||
		(schema != NULL && !(schema->type == jbvBinary &&
							 JsonContainerIsObject(schema->val.binary.data))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"response_format\" of type json_schema needs \"json_schema\": {\"name\": ..., \"schema\": {...}}"),
				 errdetail("The name is 1 to 64 letters, digits, underscores or hyphens; the schema, when given, a JSON object."),
				 errhint("For example {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"answer\", \"schema\": {\"type\": \"object\"}}}.")));
}

/* options.response_format: {"type": text | json_object | json_schema, ...}. */
static void
parse_response_format(JsonbValue *v, AigGenOptions *g)
{
	char	   *type = NULL;

	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		JsonbValue	k;
		JsonbValue *tv;

		k.type = jbvString;
		k.val.string.val = "type";
		k.val.string.len = 4;
		tv = findJsonbValueFromContainer(v->val.binary.data, JB_FOBJECT, &k);
		if (tv && tv->type == jbvString)
			type = pnstrdup(tv->val.string.val, tv->val.string.len);
	}
	if (type == NULL ||
		(strcmp(type, "text") != 0 && strcmp(type, "json_object") != 0 &&
		 strcmp(type, "json_schema") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"response_format\" must be an object with \"type\" text, json_object or json_schema"),
				 errhint("For example {\"type\": \"json_object\"}.")));
	if (strcmp(type, "json_schema") == 0)
		check_json_schema(v);
	if (strcmp(type, "text") != 0)
	{
		char	   *s = aig_jsonb_value_to_text(v);

		g->response_format = pg_server_to_any(s, strlen(s), PG_UTF8);
	}
}

/* Parse and validate opts into co (defaults: -1 / NULL = not given). */
void
aig_parse_call_options(Jsonb *opts, AigCallOptions *co)
{
	int64		i;
	JsonbValue *v;

	memset(co, 0, sizeof(*co));
	co->gen.max_tokens = -1;
	co->timeout_ms = -1;
	co->max_retries = -1;
	co->concurrency = -1;
	co->connect_timeout_ms = -1;
	co->dimensions = -1;
	co->cache_ttl_s = -1;
	co->gen.tool_choice = AIG_TOOL_CHOICE_AUTO;
	co->gen.parallel_tool_calls = true;
	co->raw = opts;
	/* no options, or the default '{}': nothing to look up */
	if (opts == NULL ||
		(JB_ROOT_IS_OBJECT(opts) && !JB_ROOT_IS_SCALAR(opts) && JB_ROOT_COUNT(opts) == 0))
		return;
	reject_unknown_options(opts);

	co->gen.has_temperature = aig_jsonb_get_number(opts, "temperature", OPT, 0, 2,
												   &co->gen.temperature);
	co->gen.has_top_p = aig_jsonb_get_number(opts, "top_p", OPT, 0, 1, &co->gen.top_p);
	if (aig_jsonb_get_int(opts, "max_tokens", OPT, 1, INT_MAX, &i))
		co->gen.max_tokens = (int) i;
	co->gen.has_seed = aig_jsonb_get_int(opts, "seed", OPT, PG_INT64_MIN / 2,
										 PG_INT64_MAX / 2, &co->gen.seed);
	if ((v = aig_jsonb_get(opts, "stop")) != NULL && v->type != jbvNull)
		parse_stop(v, &co->gen);
	if ((v = aig_jsonb_get(opts, "response_format")) != NULL && v->type != jbvNull)
		parse_response_format(v, &co->gen);
	aig_parse_tool_options(opts, &co->gen);
	if (aig_jsonb_get_int(opts, "timeout_ms", OPT, 1, 3600000, &i))
		co->timeout_ms = (int) i;
	if (aig_jsonb_get_int(opts, "connect_timeout_ms", OPT, 1, 600000, &i))
		co->connect_timeout_ms = (int) i;
	if (aig_jsonb_get_int(opts, "max_retries", OPT, 0, 10, &i))
		co->max_retries = (int) i;
	if (aig_jsonb_get_int(opts, "concurrency", OPT, 1, 1024, &i))
		co->concurrency = (int) i;
	if (aig_jsonb_get_int(opts, "dimensions", OPT, 1, 65536, &i))
		co->dimensions = (int) i;
	if ((v = aig_jsonb_get(opts, "cache")) != NULL && v->type != jbvNull)
	{
		if (v->type == jbvBool)
			co->cache_ttl_s = v->val.boolean ? AIG_CACHE_TTL_DEFAULT : 0;
		else if (v->type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"cache\" must be true, false or a time to live in seconds")));
		else if (aig_jsonb_get_int(opts, "cache", OPT, 0, AIG_CACHE_MAX_TTL_S, &i))
			co->cache_ttl_s = (int) i;
	}
	if ((v = aig_jsonb_get(opts, "batch")) != NULL && v->type != jbvNull)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"batch\" must be true or false")));
		co->batch = v->val.boolean;
	}
	co->input_type = aig_jsonb_get_string(opts, "input_type", OPT);
	co->user = aig_jsonb_get_string(opts, "user", OPT);
	if ((v = aig_jsonb_get(opts, "metadata")) != NULL && v->type != jbvNull)
	{
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"metadata\" must be a JSON object")));
		co->metadata = JsonbValueToJsonb(v);
	}
}
