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

#include "core/jsonb_util.h"
#include "routing/call_options.h"
#include "routing/messages.h"

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

/* A member of a jsonb object container, or NULL. */
static JsonbValue *
member(JsonbContainer *c, const char *name)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = unconstify(char *, name);
	k.val.string.len = strlen(name);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

/* Append text to buf, a newline between two parts unless white space already separates them. */
static void
append_part_text(StringInfo buf, const char *part)
{
	if (buf->len > 0 && part[0] != '\0' &&
		!isspace((unsigned char) buf->data[buf->len - 1]) &&
		!isspace((unsigned char) part[0]))
		appendStringInfoChar(buf, '\n');
	appendStringInfoString(buf, part);
}

/*
 * "content" of message m: a string, or an array of parts (text, image,
 * document).  m->content gets the joined text; m->parts every part when one
 * is not text.  A tool message's content may be any JSON value (its text).
 */
static void
message_content(JsonbValue *cv, int idx, AigChatMessage *m)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n;
	int			j = 0;
	bool		any_media = false;

	if (cv->type == jbvString)
	{
		m->content = aig_jsonb_string_utf8(cv);
		return;
	}
	if (strcmp(m->role, "tool") == 0 && !(cv->type == jbvBinary && JsonContainerIsArray(cv->val.binary.data)))
	{
		/* a tool's result given as JSON: its text */
		char	   *s = aig_jsonb_value_to_text(cv);

		m->content = pg_server_to_any(s, strlen(s), PG_UTF8);
		return;
	}
	if (cv->type != jbvBinary || !JsonContainerIsArray(cv->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d].content must be a string or an array of content parts", idx)));
	n = JsonContainerSize(cv->val.binary.data);
	m->parts = palloc0(sizeof(AigContentPart) * Max(n, 1));
	initStringInfo(&buf);
	it = JsonbIteratorInit(cv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		JsonbValue *tv;
		JsonbValue *type;
		AigContentPart *p = &m->parts[j];

		if (tok != WJB_ELEM)
			continue;
		if (!aig_jsonb_is_object(&e))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].content parts must be objects", idx)));
		type = member(e.val.binary.data, "type");
		tv = member(e.val.binary.data, "text");
		if (type != NULL && type->type == jbvString &&
			!(type->val.string.len == 4 && strncmp(type->val.string.val, "text", 4) == 0))
		{
			char	   *t = pnstrdup(type->val.string.val, type->val.string.len);

			if (strcmp(m->role, "user") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("messages[%d].content[%d]: only user messages carry images and documents", idx, j),
						 errhint("Put the image in a user message.")));
			aig_parse_content_part(&e, t, idx, j, p);
			any_media = true;
		}
		else if (tv == NULL || tv->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].content[%d] must be {\"type\": \"text\", \"text\": ...}, an image or a document", idx, j),
					 errhint("For example {\"type\": \"text\", \"text\": \"Describe this\"}, or ai_image(bytea).")));
		else
		{
			p->kind = AIG_PART_TEXT;
			p->text = aig_jsonb_string_utf8(tv);
			/* parts are separate pieces of text: never run them together */
			append_part_text(&buf, p->text);
		}
		j++;
	}
	m->content = buf.data;
	if (any_media)
		m->nparts = j;
	else
		m->parts = NULL;
}

/* Text of a tool call's "arguments": a JSON object, given as one or as JSON text. */
static char *
tool_call_arguments(JsonbValue *av, int idx, int c)
{
	Jsonb	   *jb;
	char	   *s;

	if (av == NULL || av->type == jbvNull)
		return pstrdup("{}");
	if (av->type == jbvString)
	{
		char	   *text = pnstrdup(av->val.string.val, av->val.string.len);

		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].tool_calls[%d].arguments must be a JSON object", idx, c)));
		s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	else if (aig_jsonb_is_object(av))
		s = aig_jsonb_value_to_text(av);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d].tool_calls[%d].arguments must be a JSON object", idx, c)));
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * An assistant message's "tool_calls": the gateway's {"id", "name",
 * "arguments": {...}} (as ai_chat returns them) or OpenAI's {"id", "type":
 * "function", "function": {"name", "arguments": "<JSON text>"}}.
 */
static void
message_tool_calls(JsonbValue *tcv, int idx, AigChatMessage *m)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n;

	if (tcv->type != jbvBinary || !JsonContainerIsArray(tcv->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d].tool_calls must be an array", idx)));
	n = JsonContainerSize(tcv->val.binary.data);
	m->tool_calls = palloc0(sizeof(AigToolCall) * Max(n, 1));
	it = JsonbIteratorInit(tcv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		AigToolCall *tc = &m->tool_calls[m->ntool_calls];
		JsonbValue *fn;
		JsonbValue *idv;
		JsonbValue *nv;

		if (tok != WJB_ELEM)
			continue;
		if (!aig_jsonb_is_object(&e))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].tool_calls[%d] must be an object", idx, m->ntool_calls)));
		fn = member(e.val.binary.data, "function");
		if (!aig_jsonb_is_object(fn))
			fn = &e;
		idv = member(e.val.binary.data, "id");
		nv = member(fn->val.binary.data, "name");
		if (idv == NULL || idv->type != jbvString || idv->val.string.len == 0 ||
			nv == NULL || nv->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].tool_calls[%d] needs an \"id\" and a \"name\"", idx, m->ntool_calls),
					 errhint("Pass back the tool_calls of the ai_chat result as they are.")));
		tc->id = aig_jsonb_string_utf8(idv);
		if (strlen(tc->id) > 256)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d].tool_calls[%d].id is longer than 256 bytes", idx, m->ntool_calls)));
		tc->name = aig_jsonb_string_utf8(nv);
		aig_check_tool_name(tc->name, "tool call of");
		tc->arguments = tool_call_arguments(member(fn->val.binary.data, "arguments"), idx,
											m->ntool_calls);
		m->ntool_calls++;
	}
	if (m->ntool_calls == 0)
		m->tool_calls = NULL;
}

/* The name of the earlier assistant tool call with this id, or NULL. */
static char *
name_of_call(const AigChatRequest *req, const char *id)
{
	for (int i = req->nmessages - 1; i >= 0; i--)
		for (int c = 0; c < req->messages[i].ntool_calls; c++)
			if (strcmp(req->messages[i].tool_calls[c].id, id) == 0)
				return req->messages[i].tool_calls[c].name;
	return NULL;
}

/* A tool message's tool_call_id and name (the name from the call it answers when not given). */
static void
message_tool_result(JsonbContainer *obj, int idx, const AigChatRequest *req, AigChatMessage *m)
{
	JsonbValue *idv = member(obj, "tool_call_id");
	JsonbValue *nv = member(obj, "name");

	if (idv == NULL || idv->type != jbvString || idv->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] of role tool needs a \"tool_call_id\"", idx),
				 errhint("Give the id of the assistant's tool call this message answers.")));
	m->tool_call_id = aig_jsonb_string_utf8(idv);
	if (nv != NULL && nv->type == jbvString)
		m->name = aig_jsonb_string_utf8(nv);
	else
		m->name = name_of_call(req, m->tool_call_id);
	if (m->name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] answers tool call \"%.80s\", which no earlier assistant message made", idx,
						m->tool_call_id),
				 errhint("Put the assistant message with its tool_calls before the tool results, or give the tool's \"name\".")));
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
		JsonbValue *rv;
		JsonbValue *cv;
		JsonbValue *tcv;
		char	   *role;
		AigChatMessage *m;

		if (tok != WJB_ELEM)
			continue;
		if (!aig_jsonb_is_object(&v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] must be an object with role and content", idx)));
		rv = member(v.val.binary.data, "role");
		cv = member(v.val.binary.data, "content");
		tcv = member(v.val.binary.data, "tool_calls");
		if (rv == NULL || rv->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] has no role", idx)));
		role = pnstrdup(rv->val.string.val, rv->val.string.len);
		if (strcmp(role, "developer") == 0)
			role = "system";
		if (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
			strcmp(role, "assistant") != 0 && strcmp(role, "tool") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d] has unknown role \"%s\"", idx, role),
					 errhint("Roles are system, user, assistant and tool.")));
		if (tcv != NULL && tcv->type != jbvNull && strcmp(role, "assistant") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("messages[%d]: only assistant messages carry tool_calls", idx)));
		aig_add_message(req, cap, role, NULL);
		m = &req->messages[req->nmessages - 1];
		if (tcv != NULL && tcv->type != jbvNull)
			message_tool_calls(tcv, idx, m);
		if (cv == NULL || cv->type == jbvNull)
		{
			if (m->ntool_calls == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("messages[%d] has no content", idx)));
			m->content = pstrdup("");
		}
		else
			message_content(cv, idx, m);
		if (strcmp(role, "tool") == 0)
			message_tool_result(v.val.binary.data, idx, req, m);
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

/* Text (UTF-8) as a JSON string in the server encoding. */
static void
json_utf8(StringInfo buf, const char *s)
{
	escape_json(buf, pg_any_to_server(s, strlen(s), PG_UTF8));
}

/* [{"id","name","arguments": {...}}]: arguments are JSON object text already checked. */
static void
append_tool_calls(StringInfo buf, int n, const AigToolCall *calls)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		const char *args = calls[i].arguments ? calls[i].arguments : "{}";

		if (i > 0)
			appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, "{\"id\":");
		json_utf8(buf, calls[i].id);
		appendStringInfoString(buf, ",\"name\":");
		json_utf8(buf, calls[i].name);
		appendStringInfoString(buf, ",\"arguments\":");
		appendStringInfoString(buf, pg_any_to_server(args, strlen(args), PG_UTF8));
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

/* A content part as the gateway's part object (bytes elided unless with_data). */
static void
append_part(StringInfo buf, const AigContentPart *p, bool with_data)
{
	if (p->kind == AIG_PART_TEXT)
	{
		appendStringInfoString(buf, "{\"type\":\"text\",\"text\":");
		json_utf8(buf, p->text);
		appendStringInfoChar(buf, '}');
		return;
	}
	appendStringInfo(buf, "{\"type\":\"%s\"", p->kind == AIG_PART_DOCUMENT ? "document" : "image");
	if (p->media_type)
	{
		appendStringInfoString(buf, ",\"media_type\":");
		escape_json(buf, p->media_type);
	}
	if (p->url)
	{
		appendStringInfoString(buf, ",\"url\":");
		json_utf8(buf, p->url);
	}
	else if (with_data)
	{
		appendStringInfoString(buf, ",\"data\":");
		escape_json(buf, p->data_b64);
	}
	else
		appendStringInfo(buf, ",\"bytes\":%zu", p->nbytes);
	appendStringInfoChar(buf, '}');
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
	if (res->ntool_calls > 0)
	{
		json_key(&buf, "tool_calls", false);
		append_tool_calls(&buf, res->ntool_calls, res->tool_calls);
	}
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

/*
 * The messages as a JSON array in the shape aig_parse_messages reads back:
 * for the request hook and shadow copies (with_data: image bytes included),
 * and for the audit log (without: each image or document as its type, media
 * type and size).
 */
char *
aig_messages_json_ex(const AigChatRequest *req, bool with_data)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		appendStringInfoString(&buf, i ? ",{\"role\":" : "{\"role\":");
		escape_json(&buf, m->role);
		appendStringInfoString(&buf, ",\"content\":");
		if (m->nparts > 0)
		{
			appendStringInfoChar(&buf, '[');
			for (int j = 0; j < m->nparts; j++)
			{
				if (j > 0)
					appendStringInfoChar(&buf, ',');
				append_part(&buf, &m->parts[j], with_data);
			}
			appendStringInfoChar(&buf, ']');
		}
		else
			json_utf8(&buf, m->content ? m->content : "");
		if (m->ntool_calls > 0)
		{
			appendStringInfoString(&buf, ",\"tool_calls\":");
			append_tool_calls(&buf, m->ntool_calls, m->tool_calls);
		}
		if (m->tool_call_id)
		{
			appendStringInfoString(&buf, ",\"tool_call_id\":");
			json_utf8(&buf, m->tool_call_id);
		}
		if (m->name)
		{
			appendStringInfoString(&buf, ",\"name\":");
			json_utf8(&buf, m->name);
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* The messages with their bytes (request hook, shadow copies). */
char *
aig_messages_json(const AigChatRequest *req)
{
	return aig_messages_json_ex(req, true);
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
