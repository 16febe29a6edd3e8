/*
 * messages.c — the chat request and answer as JSON: parsing a messages
 * array into the normalized request, the messages as JSON text (request
 * hook, audit, shadow copies), the document a request hook sees and the
 * normalized ai_chat result object.
 */
#include "postgres.h"

#include <ctype.h>

#include <math.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "routing/messages.h"

/* A jsonb string as a NUL-terminated UTF-8 C string (always a copy). */
static char *
jsonb_string_utf8(JsonbValue *v)
{
	char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

	return pg_server_to_any(s, v->val.string.len, PG_UTF8);
}

/* Append a message (role copied, content kept), growing the array as needed. */
void
aig_add_message(AigChatRequest *req, int *cap, const char *role, char *content)
{
	if (req->nmessages >= *cap)
	{
		*cap = Max(*cap * 2, 4);
		req->messages = req->messages ?
			repalloc(req->messages, sizeof(AigChatMessage) * *cap) :
			palloc(sizeof(AigChatMessage) * *cap);
	}
	memset(&req->messages[req->nmessages], 0, sizeof(AigChatMessage));
	req->messages[req->nmessages].role = pstrdup(role);
	req->messages[req->nmessages].content = content;
	req->nmessages++;
}

/* "content": a string, or an array of {"type":"text","text":...} parts (a newline between two
 * parts unless white space already separates them) */
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
		char	   *part;

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
		/* parts are separate pieces of text: never run them together */
		part = jsonb_string_utf8(tv);
		if (buf.len > 0 && part[0] != '\0' &&
			!isspace((unsigned char) buf.data[buf.len - 1]) &&
			!isspace((unsigned char) part[0]))
			appendStringInfoChar(&buf, '\n');
		appendStringInfoString(&buf, part);
	}
	return buf.data;
}

/* Parse a messages array (22023 on a bad one), appending to req. */
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
		aig_add_message(req, cap, role, message_content(cv, idx));
		idx++;
	}
}

/* Put a system message first (the route's system prompt). */
void
aig_prepend_system(AigChatRequest *req, int *cap, char *content)
{
	aig_add_message(req, cap, "system", content);
	memmove(&req->messages[1], &req->messages[0],
			sizeof(AigChatMessage) * (req->nmessages - 1));
	memset(&req->messages[0], 0, sizeof(AigChatMessage));
	req->messages[0].role = "system";
	req->messages[0].content = content;
}

/* Does the request carry a system message? */
bool
aig_has_system_message(const AigChatRequest *req)
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
	if (info->has_cost && isfinite(info->cost_usd))	/* JSON has no NaN */
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

/* The messages as the JSON array of the request hook, audit and shadow copies. */
char *
aig_messages_json(const AigChatRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < req->nmessages; i++)
	{
		const char *c = req->messages[i].content;

		appendStringInfoString(&buf, i ? ",{\"role\":" : "{\"role\":");
		escape_json(&buf, req->messages[i].role);
		appendStringInfoString(&buf, ",\"content\":");
		escape_json(&buf, pg_any_to_server(c, strlen(c), PG_UTF8));
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * The normalized request a request hook sees: {"route","messages","options",
 * "role"}; role is the calling role (the hook itself runs as its owner).
 */
Jsonb *
aig_chat_request_jsonb(const AigRoute *route, const AigChatRequest *req, Jsonb *opts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"route\":");
	json_str_or_null(&buf, route->name);
	appendStringInfoString(&buf, ",\"messages\":");
	appendStringInfoString(&buf, aig_messages_json(req));
	appendStringInfoString(&buf, ",\"options\":");
	appendStringInfoString(&buf, opts ? JsonbToCString(NULL, &opts->root, VARSIZE(opts)) : "{}");
	appendStringInfoString(&buf, ",\"role\":");
	escape_json(&buf, GetUserNameFromId(GetUserId(), false));
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
