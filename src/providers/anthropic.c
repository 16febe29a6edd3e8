/*
 * anthropic.c — the Anthropic Messages API dialect (aig_dialect_anthropic).
 *
 *	chat:		POST {base}/v1/messages
 *	auth:		x-api-key: <key>, anthropic-version: <api_version|2023-06-01>
 *	embeddings: none (Anthropic has no embeddings API)
 *
 * System messages go to the top-level "system" field (joined by a blank
 * line); max_tokens is mandatory in this API, so a default is always sent.
 * seed has no equivalent and is ignored.
 *
 * Tools: tools [{"name","description","input_schema"}], tool_choice
 * {"type":"auto"|"any"|"tool"|"none"} (+ disable_parallel_tool_use when
 * parallel_tool_calls is false).  An assistant message with calls becomes
 * content blocks [text?, {"type":"tool_use","id","name","input"}...]; a run
 * of tool messages becomes ONE user message of tool_result blocks (the API
 * wants user and assistant turns to alternate), joined by the user message
 * that directly follows it, if any.  Images and PDFs are image/document
 * blocks with a base64 or url source.
 *
 * Structured output: the API has no response_format, so a json_schema (or
 * json_object) format is asked for by a forced tool, AIG_SO_TOOL, whose
 * input_schema is the schema; its tool_use block is read back as the
 * answer's text (parse_chat has no request, so it goes by the name; the
 * option parser refuses user tools named "aig_*").  With the caller's own
 * tools, AIG_SO_TOOL is offered beside them and tool_choice becomes "any":
 * the model either calls one of the caller's tools (the answer is then
 * those calls, the AIG_SO_TOOL block of the same turn is dropped) or gives
 * its final answer through AIG_SO_TOOL; a named tool_choice stays, "none"
 * forces AIG_SO_TOOL.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

#define ANTHROPIC_DEFAULT_MAX_TOKENS 1024
#define AIG_SO_TOOL "aig_structured_output"

/* An id as the API's pattern ^[a-zA-Z0-9_-]+$ wants it (others -> '_'). */
static char *
anthropic_id(const char *id)
{
	char	   *out;

	if (id == NULL || *id == '\0')
		return pstrdup("call_0");
	out = pstrdup(id);
	for (char *c = out; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			*c = '_';
	return out;
}

/* A source object: base64 data (with its media type) or a URL. */
static void
anthropic_write_source(AigJsonWriter *w, const AigContentPart *part)
{
	aig_jw_key(w, "source");
	aig_jw_object_begin(w);
	if (part->data_b64 != NULL)
	{
		aig_jw_kstring(w, "type", "base64");
		aig_jw_kstring(w, "media_type",
					   part->kind == AIG_PART_DOCUMENT ? "application/pdf" :
					   part->media_type);
		aig_jw_kstring(w, "data", part->data_b64);
	}
	else
	{
		aig_jw_kstring(w, "type", "url");
		aig_jw_kstring(w, "url", part->url);
	}
	aig_jw_object_end(w);
}

/* One content part as a block (empty text parts are left out: the API
 * refuses empty text blocks). */
static void
anthropic_write_part(AigJsonWriter *w, const AigContentPart *part)
{
	switch (part->kind)
	{
		case AIG_PART_TEXT:
			if (part->text == NULL || part->text[0] == '\0')
				return;
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "type", "text");
			aig_jw_kstring(w, "text", part->text);
			aig_jw_object_end(w);
			break;
		case AIG_PART_IMAGE:
		case AIG_PART_DOCUMENT:
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "type",
						   part->kind == AIG_PART_IMAGE ? "image" : "document");
			anthropic_write_source(w, part);
			aig_jw_object_end(w);
			break;
	}
}

/* The blocks of a user message (its parts, or its text as one block). */
static void
anthropic_write_user_blocks(AigJsonWriter *w, const AigChatMessage *m)
{
	if (m->nparts > 0)
	{
		for (int i = 0; i < m->nparts; i++)
			anthropic_write_part(w, &m->parts[i]);
	}
	else if (m->content != NULL && m->content[0] != '\0')
	{
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "text");
		aig_jw_kstring(w, "text", m->content);
		aig_jw_object_end(w);
	}
}

/* An assistant message that made calls: [text?, tool_use...]. */
static void
anthropic_write_assistant_calls(AigJsonWriter *w, const AigChatMessage *m)
{
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "role", "assistant");
	aig_jw_key(w, "content");
	aig_jw_array_begin(w);
	if (m->content != NULL && m->content[0] != '\0')
	{
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "text");
		aig_jw_kstring(w, "text", m->content);
		aig_jw_object_end(w);
	}
	for (int i = 0; i < m->ntool_calls; i++)
	{
		const AigToolCall *c = &m->tool_calls[i];

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "tool_use");
		aig_jw_kstring(w, "id", anthropic_id(c->id));
		aig_jw_kstring(w, "name", c->name);
		aig_jw_key(w, "input");
		aig_jw_raw(w, (c->arguments != NULL && c->arguments[0] != '\0') ?
				   c->arguments : "{}");
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
	aig_jw_object_end(w);
}

/*
 * messages[i..] starting with a tool message: the run of tool messages as
 * one user message of tool_result blocks, with the user message right after
 * the run (if any) in it too.  Returns the index of the last message used.
 */
static int
anthropic_write_tool_results(AigJsonWriter *w, const AigChatRequest *req, int i)
{
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "role", "user");
	aig_jw_key(w, "content");
	aig_jw_array_begin(w);
	for (; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (m->role == NULL || strcmp(m->role, "tool") != 0)
			break;
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "tool_result");
		aig_jw_kstring(w, "tool_use_id", anthropic_id(m->tool_call_id));
		if (m->content != NULL && m->content[0] != '\0')
			aig_jw_kstring(w, "content", m->content);
		aig_jw_object_end(w);
	}
	if (i < req->nmessages && req->messages[i].role != NULL &&
		strcmp(req->messages[i].role, "user") == 0)
		anthropic_write_user_blocks(w, &req->messages[i]);
	else
		i--;
	aig_jw_array_end(w);
	aig_jw_object_end(w);
	return i;
}

/* "messages": every non-system message in the API's shape. */
static void
anthropic_write_messages(AigJsonWriter *w, const AigChatRequest *req)
{
	aig_jw_key(w, "messages");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		const char *role = m->role ? m->role : "user";

		if (strcmp(role, "system") == 0)
			continue;
		if (strcmp(role, "tool") == 0)
		{
			i = anthropic_write_tool_results(w, req, i);
			continue;
		}
		if (strcmp(role, "assistant") == 0 && m->ntool_calls > 0)
		{
			anthropic_write_assistant_calls(w, m);
			continue;
		}
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "role", role);
		if (m->nparts > 0)
		{
			aig_jw_key(w, "content");
			aig_jw_array_begin(w);
			anthropic_write_user_blocks(w, m);
			aig_jw_array_end(w);
		}
		else
			aig_jw_kstring(w, "content", m->content);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* One entry of "tools". */
static void
anthropic_write_tool(AigJsonWriter *w, const char *name, const char *description,
					 const char *schema_text, const AigJson *schema)
{
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "name", name);
	if (description != NULL)
		aig_jw_kstring(w, "description", description);
	aig_jw_key(w, "input_schema");
	if (schema != NULL)
		aig_jw_copy(w, schema);
	else
		aig_jw_raw(w, (schema_text != NULL && schema_text[0] != '\0') ?
				   schema_text : "{\"type\": \"object\"}");
	aig_jw_object_end(w);
}

/* "tool_choice": {"type": type[, "name": name][, disable_parallel_tool_use]} */
static void
anthropic_write_choice(AigJsonWriter *w, const char *type, const char *name,
					   bool no_parallel)
{
	aig_jw_key(w, "tool_choice");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "type", type);
	if (name != NULL)
		aig_jw_kstring(w, "name", name);
	if (no_parallel && strcmp(type, "none") != 0)
		aig_jw_kbool(w, "disable_parallel_tool_use", true);
	aig_jw_object_end(w);
}

/*
 * "tools" and "tool_choice": the caller's tools, and AIG_SO_TOOL when a
 * JSON answer is asked for (structured; schema NULL: any object).
 */
static void
anthropic_write_tools(AigJsonWriter *w, const AigGenOptions *o, bool structured,
					  const AigJson *schema)
{
	bool		no_parallel = !o->parallel_tool_calls;

	if (o->ntools == 0 && !structured)
		return;
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	for (int i = 0; i < o->ntools; i++)
		anthropic_write_tool(w, o->tools[i].name, o->tools[i].description,
							 o->tools[i].parameters, NULL);
	if (structured)
		anthropic_write_tool(w, AIG_SO_TOOL,
							 "Give your final answer as this tool's input.",
							 NULL, schema);
	aig_jw_array_end(w);

	if (structured && o->ntools == 0)
		anthropic_write_choice(w, "tool", AIG_SO_TOOL, false);
	else if (structured)
	{
		switch (o->tool_choice)
		{
			case AIG_TOOL_CHOICE_AUTO:
			case AIG_TOOL_CHOICE_REQUIRED:
				anthropic_write_choice(w, "any", NULL, no_parallel);
				break;
			case AIG_TOOL_CHOICE_NAMED:
				anthropic_write_choice(w, "tool", o->tool_choice_name, no_parallel);
				break;
			case AIG_TOOL_CHOICE_NONE:
				anthropic_write_choice(w, "tool", AIG_SO_TOOL, false);
				break;
		}
	}
	else
	{
		switch (o->tool_choice)
		{
			case AIG_TOOL_CHOICE_AUTO:
				if (no_parallel)
					anthropic_write_choice(w, "auto", NULL, true);
				break;
			case AIG_TOOL_CHOICE_REQUIRED:
				anthropic_write_choice(w, "any", NULL, no_parallel);
				break;
			case AIG_TOOL_CHOICE_NAMED:
				anthropic_write_choice(w, "tool", o->tool_choice_name, no_parallel);
				break;
			case AIG_TOOL_CHOICE_NONE:
				anthropic_write_choice(w, "none", NULL, false);
				break;
		}
	}
}

static void
anthropic_build_chat(const AigProvider *p, const AigChatRequest *req,
					 AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "top_p", NULL, "stop_sequences", NULL};
	char	   *system = aig_join_system(req);
	int			max_tokens;
	AigRespFormatKind rfkind;
	const AigJson *schema;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;

	aig_http_request_init(out);
	out->url = aig_url(p, "/v1/messages");
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "x-api-key", NULL, p->api_key);
	aig_add_header_value(out, "anthropic-version", NULL,
						 p->api_version ? p->api_version :
						 ANTHROPIC_DEFAULT_VERSION);

	if (req->opts.max_tokens >= 0)
		max_tokens = req->opts.max_tokens;
	else if (p->default_max_tokens > 0)
		max_tokens = p->default_max_tokens;
	else
		max_tokens = ANTHROPIC_DEFAULT_MAX_TOKENS;

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	aig_jw_kint(&w, "max_tokens", max_tokens);
	if (system != NULL)
		aig_jw_kstring(&w, "system", system);
	anthropic_write_messages(&w, req);
	aig_add_gen_options(&w, &req->opts, &keys);
	anthropic_write_tools(&w, &req->opts,
						  rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA,
						  rfkind == AIG_RF_JSON_SCHEMA ? schema : NULL);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rfdoc);
}

/*
 * The tool_use blocks of content: the caller's calls into out->tool_calls,
 * the input of an AIG_SO_TOOL block into *structured (JSON text).
 */
static bool
anthropic_read_tool_uses(const AigJson *content, AigChatResult *out,
						 char **structured, char **errmsg)
{
	int			n = aig_jlength(content);

	*structured = NULL;
	for (int i = 0; i < n; i++)
	{
		const AigJson *block = aig_jelem(content, i);
		const AigJson *input;
		char	   *id;
		char	   *name;
		char	   *args;
		char	   *why = NULL;

		if (!aig_jstring_eq(aig_jget(block, "type"), "tool_use"))
			continue;
		id = aig_jstr(block, "id");
		name = aig_jstr(block, "name");
		input = aig_jget(block, "input");
		if (!aig_tool_name_ok(id) || !aig_tool_name_ok(name))
		{
			*errmsg = psprintf("anthropic response: content[%d] is a tool_use without a usable id or name", i);
			return false;
		}
		if (input != NULL && !aig_jis(input, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("anthropic response: content[%d].input is not an object", i);
			return false;
		}
		args = input != NULL ? aig_tool_arguments_from_value(input, &why) : pstrdup("{}");
		if (args == NULL)
		{
			*errmsg = psprintf("anthropic response: content[%d].input %s", i, why);
			return false;
		}
		if (strcmp(name, AIG_SO_TOOL) == 0)
		{
			if (*structured == NULL)
				*structured = args;
			continue;
		}
		if (out->tool_calls == NULL)
			out->tool_calls = palloc0(sizeof(AigToolCall) * n);
		out->tool_calls[out->ntool_calls].id = id;
		out->tool_calls[out->ntool_calls].name = name;
		out->tool_calls[out->ntool_calls].arguments = args;
		out->ntool_calls++;
	}
	return true;
}

static bool
anthropic_read_chat(const AigJson *root, const char *label, void *arg,
					char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *content;
	const AigJson *usage;
	StringInfoData buf;
	int			nparts;
	char	   *stop_reason;
	char	   *structured;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("anthropic response is not a JSON object");
		return false;
	}
	content = aig_jget(root, "content");
	if (content == NULL || aig_jis(content, AIG_JSON_NULL))
	{
		char	   *emsg = aig_jstr(aig_jget(root, "error"), "message");

		*errmsg = emsg ?
			psprintf("anthropic response has no content: %s",
					 aig_body_excerpt(emsg, strlen(emsg), 500)) :
			pstrdup("anthropic response has no content");
		return false;
	}
	initStringInfo(&buf);
	nparts = aig_join_text_parts(content, true, false, &buf,
								 "anthropic response: content", errmsg);
	if (nparts < 0)
		return false;
	if (!anthropic_read_tool_uses(content, out, &structured, errmsg))
		return false;
	stop_reason = aig_jstr(root, "stop_reason");
	if (stop_reason != NULL && strcmp(stop_reason, "refusal") == 0)
	{
		/* documented: a refusal, whatever (partial) text came before it */
		out->ntool_calls = 0;
		out->tool_calls = NULL;
		aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_anthropic, stop_reason, NULL);
	}
	else if (out->ntool_calls > 0)
	{
		/* the caller's calls (an AIG_SO_TOOL block beside them is dropped) */
		out->content = buf.data;
		out->finish_reason = pstrdup("tool_calls");
	}
	else if (structured != NULL)
	{
		/* the forced structured-output tool: its input is the answer */
		out->content = structured;
		out->finish_reason = pstrdup("stop");
	}
	else if (nparts == 0 && stop_reason != NULL && strcmp(stop_reason, "max_tokens") == 0)
		aig_chat_no_answer(out, AIG_ANSWER_NO_TEXT_LIMIT, aig_finish_anthropic,
						   stop_reason, NULL);
	else if (nparts == 0)
	{
		*errmsg = pstrdup("anthropic response has no text content");
		return false;
	}
	else
	{
		out->content = buf.data;
		out->finish_reason = aig_finish_reason(aig_finish_anthropic, stop_reason);
	}
	out->model = aig_jstr(root, "model");
	usage = aig_jget(root, "usage");
	out->input_tokens = aig_jtokens(usage, "input_tokens");
	out->output_tokens = aig_jtokens(usage, "output_tokens");
	return true;
}

static bool
anthropic_parse_chat(const char *body, size_t len, AigChatResult *out,
					 char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, anthropic_read_chat, "anthropic", out,
						  errmsg);
}

/*
 * {"type":"error","error":{"type":"overloaded_error","message":...}}: an
 * overload (HTTP 529) is transient.
 */
static void
anthropic_refine_error(const AigJson *root, long http_status,
					   AigUpstreamError *out)
{
	char	   *type = aig_jstr(aig_jget(root, "error"), "type");

	if (type == NULL)
		return;
	if (strcmp(type, "overloaded_error") == 0)
	{
		out->sqlerrcode = ERRCODE_SYSTEM_ERROR;
		out->retryable = true;
	}
	else if (strcmp(type, "rate_limit_error") == 0)
	{
		out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		out->retryable = true;
	}
}

static void
anthropic_parse_error(long http_status, const char *body, size_t len,
					  AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out,
							anthropic_refine_error);
}

/* Anthropic's document: temperature and top_p from 0 to 1 */
static const AigOptionLimits anthropic_limits = {
	.temperature_max = 1,
	.top_p_min = 0,
	.top_p_max = 1,
};

const AigDialect aig_dialect_anthropic = {
	.kind = "anthropic",
	.default_base_url = "https://api.anthropic.com",
	.max_embed_batch = 0,
	.limits = &anthropic_limits,
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_DOCUMENTS | AIG_CAP_JSON_SCHEMA,
	/* 5 MB, which the API counts on the base64 text: 3/4 of it decoded */
	.max_image_kb = 3840,
	.build_chat = anthropic_build_chat,
	.parse_chat = anthropic_parse_chat,
	.build_embed = NULL,
	.parse_embed = NULL,
	.parse_error = anthropic_parse_error,
};
