/*
 * functions.c — the SQL entry points: ai_complete, ai_chat, ai_embed (one
 * text or an array).  Thin: each parses and validates its arguments into a
 * normalized request, hands it to router.c, and shapes the answer.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/resowner.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/preload.h"
#include "routing/attempt.h"
#include "core/catalog.h"
#include "core/catalog_options.h"
#include "base/compat.h"
#include "governance/hooks.h"
#include "governance/policy.h"
#include "core/jsonb_util.h"
#include "routing/router.h"
#include "routing/router_internal.h"

#define OPT "option"

static const char *const known_options[] = {
	"temperature", "max_tokens", "top_p", "stop", "seed", "response_format",
	"timeout_ms", "connect_timeout_ms", "max_retries", "user", "metadata",
	"dimensions", "input_type", "concurrency", "cache",
};

/* Text of the server encoding as the UTF-8 that provider APIs speak. */
static char *
to_utf8(text *t)
{
	char	   *s = text_to_cstring(t);

	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/* A jsonb string as a NUL-terminated UTF-8 C string (always a copy). */
static char *
jsonb_string_utf8(JsonbValue *v)
{
	char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

	return pg_server_to_any(s, v->val.string.len, PG_UTF8);
}

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
					 errhint("Valid options are temperature, max_tokens, top_p, stop, seed, response_format, timeout_ms, connect_timeout_ms, max_retries, user, metadata, dimensions, input_type, concurrency and cache.")));
	}
}

static void
parse_stop(JsonbValue *v, AigGenOptions *g)
{
	if (v->type == jbvString)
	{
		g->nstop = 1;
		g->stop = palloc(sizeof(char *));
		g->stop[0] = jsonb_string_utf8(v);
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
	if (strcmp(type, "text") != 0)
	{
		char	   *s = aig_jsonb_value_to_text(v);

		g->response_format = pg_server_to_any(s, strlen(s), PG_UTF8);
	}
}

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

/* Common start of every call. */
static AigRoute *
begin_call(text *model)
{
	aig_require_preload();
	aig_catalog_ensure();
	return aig_resolve_model(model ? text_to_cstring(model) : NULL);
}

static void
add_message(AigChatRequest *req, int *cap, const char *role, char *content)
{
	if (req->nmessages >= *cap)
	{
		*cap = Max(*cap * 2, 4);
		req->messages = req->messages ?
			repalloc(req->messages, sizeof(AigChatMessage) * *cap) :
			palloc(sizeof(AigChatMessage) * *cap);
	}
	req->messages[req->nmessages].role = pstrdup(role);
	req->messages[req->nmessages].content = content;
	req->nmessages++;
}

/* "content": a string, or an array of {"type":"text","text":...} parts */
static char *
message_content(JsonbValue *cv, int idx)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (cv->type == jbvString)
		return jsonb_string_utf8(cv);
	if (cv->type != jbvBinary || !JsonContainerIsArray(cv->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d].content must be a string or an array of text parts", idx)));
	initStringInfo(&buf);
	it = JsonbIteratorInit(cv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		JsonbValue	k;
		JsonbValue *tv;

		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvBinary || !JsonContainerIsObject(e.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].content parts must be objects", idx)));
		k.type = jbvString;
		k.val.string.val = "text";
		k.val.string.len = 4;
		tv = findJsonbValueFromContainer(e.val.binary.data, JB_FOBJECT, &k);
		if (tv == NULL || tv->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].content parts must be {\"type\": \"text\", \"text\": ...}", idx),
					 errhint("Only text content is supported.")));
		appendStringInfoString(&buf, jsonb_string_utf8(tv));
	}
	return buf.data;
}

void
aig_parse_messages(Jsonb *messages, AigChatRequest *req, int *cap)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			idx = 0;

	if (!JB_ROOT_IS_ARRAY(messages) || JB_ROOT_IS_SCALAR(messages) ||
		JB_ROOT_COUNT(messages) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages must be a non-empty JSON array"),
				 errhint("For example [{\"role\": \"user\", \"content\": \"Hello\"}].")));
	it = JsonbIteratorInit(&messages->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	k;
		JsonbValue *rv;
		JsonbValue *cv;
		char	   *role;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] must be an object with role and content", idx)));
		k.type = jbvString;
		k.val.string.val = "role";
		k.val.string.len = 4;
		rv = findJsonbValueFromContainer(v.val.binary.data, JB_FOBJECT, &k);
		k.val.string.val = "content";
		k.val.string.len = 7;
		cv = findJsonbValueFromContainer(v.val.binary.data, JB_FOBJECT, &k);
		if (rv == NULL || rv->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] has no role", idx)));
		role = pnstrdup(rv->val.string.val, rv->val.string.len);
		if (strcmp(role, "developer") == 0)
			role = "system";
		if (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
			strcmp(role, "assistant") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] has unknown role \"%s\"", idx, role),
					 errhint("Roles are system, user and assistant.")));
		if (cv == NULL || cv->type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] has no content", idx)));
		add_message(req, cap, role, message_content(cv, idx));
		idx++;
	}
}

static bool
has_system_message(const AigChatRequest *req)
{
	for (int i = 0; i < req->nmessages; i++)
		if (strcmp(req->messages[i].role, "system") == 0)
			return true;
	return false;
}

static void
json_key(StringInfo buf, const char *key, bool first)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
}

static void
json_str_or_null(StringInfo buf, const char *s)
{
	if (s)
		escape_json(buf, s);
	else
		appendStringInfoString(buf, "null");
}

static void
json_int_or_null(StringInfo buf, int64 v)
{
	if (v >= 0)
		appendStringInfo(buf, INT64_FORMAT, v);
	else
		appendStringInfoString(buf, "null");
}

/* The normalized ai_chat object of DESIGN.md. */
Jsonb *
aig_chat_result_jsonb(const AigChatResult *res, const AigCallInfo *info)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	json_key(&buf, "content", true);
	escape_json(&buf, res->content);
	json_key(&buf, "model", false);
	json_str_or_null(&buf, res->model ? res->model : info->target->model);
	json_key(&buf, "provider", false);
	escape_json(&buf, info->target->provider->name);
	json_key(&buf, "route", false);
	if (info->route->name && info->route->version > 0)
	{
		char	   *pinned = psprintf("%s@%d", info->route->name, info->route->version);

		escape_json(&buf, pinned);
	}
	else
		json_str_or_null(&buf, info->route->name);
	json_key(&buf, "target", false);
	{
		char	   *target = psprintf("%s/%s", info->target->provider->name, info->target->model);

		escape_json(&buf, target);
	}
	json_key(&buf, "finish_reason", false);
	json_str_or_null(&buf, res->finish_reason);
	json_key(&buf, "usage", false);
	appendStringInfoChar(&buf, '{');
	json_key(&buf, "input_tokens", true);
	json_int_or_null(&buf, res->input_tokens);
	json_key(&buf, "output_tokens", false);
	json_int_or_null(&buf, res->output_tokens);
	appendStringInfoChar(&buf, '}');
	json_key(&buf, "cost_usd", false);
	if (info->has_cost)
		appendStringInfo(&buf, "%.12g", info->cost_usd);
	else
		appendStringInfoString(&buf, "null");
	json_key(&buf, "latency_ms", false);
	appendStringInfo(&buf, "%.3f", info->latency_ms);
	json_key(&buf, "attempts", false);
	appendStringInfo(&buf, "%d", info->attempts);
	json_key(&buf, "cached", false);
	appendStringInfoString(&buf, info->cache_hit ? "true" : "false");
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

static void
init_chat_request(AigChatRequest *req, const AigCallOptions *co)
{
	memset(req, 0, sizeof(*req));
	req->opts = co->gen;
}

/* The normalized request a request hook sees: {"route","messages","options"}. */
static Jsonb *
request_jsonb(const AigRoute *route, const AigChatRequest *req, Jsonb *opts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"route\":");
	json_str_or_null(&buf, route->name);
	appendStringInfoString(&buf, ",\"messages\":");
	appendStringInfoString(&buf, aig_r_messages_json(req));
	appendStringInfoString(&buf, ",\"options\":");
	appendStringInfoString(&buf, opts ? JsonbToCString(NULL, &opts->root, VARSIZE(opts)) : "{}");
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* Run the route's request hook, if any: it may rewrite messages and options. */
static void
apply_request_hook(AigRoute *route, AigChatRequest *req, AigCallOptions *co, Jsonb *opts)
{
	Jsonb	   *out;
	JsonbValue *m;
	JsonbValue *o;
	int			cap = 0;

	if (route->request_hook_name == NULL)
		return;
	out = aig_call_hook(aig_route_hook_refresh(route, true), "request_hook", route->name,
						request_jsonb(route, req, opts));
	m = aig_jsonb_get(out, "messages");
	o = aig_jsonb_get(out, "options");
	if (m == NULL || m->type != jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_hook of route \"%s\" returned no messages array", route->name),
				 errhint("Return the document given, with \"messages\" and optionally \"options\" changed.")));
	aig_parse_call_options(o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL, co);
	init_chat_request(req, co);
	aig_parse_messages(JsonbValueToJsonb(m), req, &cap);
}

/* Route the call; the result object after the response hook, if any. */
static Jsonb *
run_chat(AigRoute *route, AigChatRequest *req, AigCallOptions *co, Jsonb *opts,
		 AigChatResult *res, bool need_jsonb)
{
	AigCallInfo info;
	Jsonb	   *out;
	AigRedaction *map;

	apply_request_hook(route, req, co, opts);
	map = aig_policy_apply_chat(route, req);
	aig_route_chat(route, req, co, res, &info);
	if (map)
		res->content = aig_unredact(map, res->content);
	if (!need_jsonb && route->response_hook_name == NULL)
		return NULL;
	out = aig_chat_result_jsonb(res, &info);
	if (route->response_hook_name != NULL)
		out = aig_call_hook(aig_route_hook_refresh(route, false), "response_hook",
							route->name, out);
	return out;
}

/*
 * ai_complete(prompt text, model text, system_prompt text, options jsonb)
 * RETURNS text
 */
PG_FUNCTION_INFO_V1(aig_complete);
Datum
aig_complete(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigChatRequest req;
	AigChatResult res;
	AigRoute   *route;
	Jsonb	   *opts;
	Jsonb	   *out;
	int			cap = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	aig_parse_call_options(opts, &co);
	init_chat_request(&req, &co);
	if (!PG_ARGISNULL(2))
		add_message(&req, &cap, "system", to_utf8(PG_GETARG_TEXT_PP(2)));
	else if (route->system_prompt)
		add_message(&req, &cap, "system", route->system_prompt);
	add_message(&req, &cap, "user", to_utf8(PG_GETARG_TEXT_PP(0)));

	out = run_chat(route, &req, &co, opts, &res, false);
	if (out != NULL)
	{
		/* the response hook had the last word */
		JsonbValue *c = aig_jsonb_get(out, "content");

		if (c == NULL || c->type == jbvNull)
			PG_RETURN_NULL();
		if (c->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("response_hook of route \"%s\" returned a non-string content",
							route->name)));
		PG_RETURN_TEXT_P(cstring_to_text_with_len(c->val.string.val, c->val.string.len));
	}
	PG_RETURN_TEXT_P(cstring_to_text(res.content));
}

/* ai_chat(messages jsonb, model text, options jsonb) RETURNS jsonb */
PG_FUNCTION_INFO_V1(aig_chat);
Datum
aig_chat(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigChatRequest req;
	AigChatResult res;
	AigRoute   *route;
	Jsonb	   *opts;
	int			cap = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	aig_parse_call_options(opts, &co);
	init_chat_request(&req, &co);
	aig_parse_messages(PG_GETARG_JSONB_P(0), &req, &cap);
	if (route->system_prompt && !has_system_message(&req))
	{
		/* the route's system prompt goes first */
		add_message(&req, &cap, "system", route->system_prompt);
		memmove(&req.messages[1], &req.messages[0],
				sizeof(AigChatMessage) * (req.nmessages - 1));
		req.messages[0].role = "system";
		req.messages[0].content = route->system_prompt;
	}

	PG_RETURN_JSONB_P(run_chat(route, &req, &co, opts, &res, true));
}

static void
init_embed_request(AigEmbedRequest *req, const AigCallOptions *co)
{
	memset(req, 0, sizeof(*req));
	req->dimensions = co->dimensions;
	req->input_type = co->input_type;
}

static ArrayType *
vector_array(const float4 *v, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Float4GetDatum(v[i]);
	return construct_array(elems, n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

/* ai_embed(input text, model text, options jsonb) RETURNS real[] */
PG_FUNCTION_INFO_V1(aig_embed);
Datum
aig_embed(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigEmbedRequest req;
	AigEmbedResult res;
	AigCallInfo info;
	AigRoute   *route;
	char	   *input;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	aig_parse_call_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &co);
	init_embed_request(&req, &co);
	input = to_utf8(PG_GETARG_TEXT_PP(0));
	req.ninputs = 1;
	req.inputs = &input;
	aig_policy_apply_embed(route, &req);
	aig_route_embed(route, &req, &co, &res, &info);
	PG_RETURN_ARRAYTYPE_P(vector_array(res.vectors[0], res.ndims[0]));
}

/*
 * ai_embed(inputs text[], model text, options jsonb)
 * RETURNS TABLE(ordinality int, embedding real[])
 *
 * NULL elements yield a NULL embedding and are not sent.
 */
PG_FUNCTION_INFO_V1(aig_embed_many);
Datum
aig_embed_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigCallOptions co;
	AigEmbedRequest req;
	AigEmbedResult res;
	AigCallInfo info;
	AigRoute   *route;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int		   *slot;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	aig_parse_call_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &co);
	init_embed_request(&req, &co);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	req.inputs = palloc(sizeof(char *) * Max(nelems, 1));
	slot = palloc(sizeof(int) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		slot[i] = -1;
		if (!nulls[i])
		{
			slot[i] = req.ninputs;
			req.inputs[req.ninputs++] = to_utf8(DatumGetTextPP(elems[i]));
		}
	}
	if (req.ninputs > 0)
	{
		aig_policy_apply_embed(route, &req);
		aig_route_embed(route, &req, &co, &res, &info);
	}

	for (int i = 0; i < nelems; i++)
	{
		Datum		values[2];
		bool		isnull[2] = {false, false};

		values[0] = Int32GetDatum(i + 1);
		if (slot[i] < 0)
		{
			values[1] = (Datum) 0;
			isnull[1] = true;
		}
		else
			values[1] = PointerGetDatum(vector_array(res.vectors[slot[i]],
													 res.ndims[slot[i]]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}

/*
 * Per-item preparation of a batch: request hook and route policy, in a
 * subtransaction so that one item's hook error or blocked prompt becomes
 * that item's error, not the statement's.
 */
static bool
prepare_batch_item(AigRoute *route, AigBatchItem *it, Jsonb *opts, AigRedaction **map)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	*map = NULL;
	if (route->request_hook_name == NULL && route->ndeny == 0 &&
		route->redact_pii == AIG_REDACT_OFF)
		return true;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		apply_request_hook(route, it->req, it->co, opts);
		*map = aig_policy_apply_chat(route, it->req);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (ed->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(ed);
		it->error = ed->message;
		it->req = NULL;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * ai_complete_batch(prompts text[], model text, system_prompt text, options jsonb)
 * RETURNS TABLE(ordinality int, completion text, error text)
 *
 * Every prompt is a call of its own (routing, retries, quotas, audit), all
 * run concurrently (batch.c).  A NULL prompt gives a row of NULLs.
 */
PG_FUNCTION_INFO_V1(aig_complete_batch);
Datum
aig_complete_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigCallOptions co;
	AigRoute   *route;
	Jsonb	   *opts;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	AigBatchItem *items;
	AigRedaction **maps;
	char	   *system = NULL;
	int			concurrency;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	aig_parse_call_options(opts, &co);
	if (!PG_ARGISNULL(2))
		system = to_utf8(PG_GETARG_TEXT_PP(2));
	else if (route->system_prompt)
		system = route->system_prompt;
	concurrency = co.concurrency > 0 ? co.concurrency : aig_batch_concurrency;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	items = palloc0(sizeof(AigBatchItem) * Max(n, 1));
	maps = palloc0(sizeof(AigRedaction *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		AigChatRequest *req;
		int			cap = 0;

		if (nulls[i])
			continue;
		items[i].co = palloc(sizeof(AigCallOptions));
		*items[i].co = co;
		req = palloc(sizeof(AigChatRequest));
		init_chat_request(req, &co);
		if (system)
			add_message(req, &cap, "system", system);
		add_message(req, &cap, "user", to_utf8(DatumGetTextPP(elems[i])));
		items[i].req = req;
		prepare_batch_item(route, &items[i], opts, &maps[i]);
	}

	aig_route_chat_batch(route, items, n, concurrency);

	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		isnull[3] = {false, true, true};

		values[0] = Int32GetDatum(i + 1);
		if (items[i].ok)
		{
			char	   *content = items[i].result.content;

			if (maps[i])
				content = aig_unredact(maps[i], content);
			values[1] = CStringGetTextDatum(content);
			isnull[1] = false;
		}
		else if (items[i].error)
		{
			values[2] = CStringGetTextDatum(items[i].error);
			isnull[2] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
