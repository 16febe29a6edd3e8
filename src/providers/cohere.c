/*
 * cohere.c — the Cohere API v2 dialect (aig_dialect_cohere).
 *
 *	chat:		POST {base}/v2/chat
 *	embeddings: POST {base}/v2/embed (embedding_types ["float"])
 *	auth:		Authorization: Bearer <key>
 *
 * v2 accepts system messages inline, so messages go as given.  An OpenAI
 * response_format is mapped to Cohere's {"type":"json_object"[,
 * "json_schema": S]}.  Errors are {"id","message"}.
 *
 * Tools: tools [{"type":"function","function":{name, description,
 * parameters}}], tool_choice "REQUIRED" | "NONE" (the API has no way to
 * name one tool: a named choice sends only that tool, with "REQUIRED"; it
 * has no parallel switch either, so parallel_tool_calls false is not sent).
 * An assistant message with calls is {"role":"assistant","tool_plan":
 * <its text>,"tool_calls":[{"id","type":"function","function":{"name",
 * "arguments":"<JSON text>"}}]}; a tool message {"role":"tool",
 * "tool_call_id","content"}.  In an answer, message.tool_calls become the
 * result's calls and message.tool_plan its text when there is no other.
 * The API refuses response_format together with tools, and so does this
 * dialect, before any request.  Images are {"type":"image_url","image_url":
 * {"url": a data: URL or the image's URL}}; PDFs cannot be sent.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

#define COHERE_DEFAULT_INPUT_TYPE "search_document"

static void
cohere_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
}

/* A user message's parts: text and image_url blocks. */
static void
cohere_write_parts(AigJsonWriter *w, const AigChatMessage *m)
{
	aig_jw_key(w, "content");
	aig_jw_array_begin(w);
	for (int i = 0; i < m->nparts; i++)
	{
		const AigContentPart *part = &m->parts[i];

		if (part->kind == AIG_PART_DOCUMENT)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cohere cannot take PDF documents"),
					 errhint("Send the document's text, or use a provider that takes documents (anthropic, gemini).")));
		if (part->kind == AIG_PART_TEXT)
		{
			if (part->text == NULL || part->text[0] == '\0')
				continue;
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "type", "text");
			aig_jw_kstring(w, "text", part->text);
			aig_jw_object_end(w);
			continue;
		}
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "image_url");
		aig_jw_key(w, "image_url");
		aig_jw_object_begin(w);
		if (part->data_b64 != NULL)
			aig_jw_kstring(w, "url", psprintf("data:%s;base64,%s",
											  part->media_type ? part->media_type : "image/png",
											  part->data_b64));
		else
			aig_jw_kstring(w, "url", part->url);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* "messages": each message in v2's shape. */
static void
cohere_write_messages(AigJsonWriter *w, const AigChatRequest *req)
{
	aig_jw_key(w, "messages");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		const char *role = m->role ? m->role : "user";

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "role", role);
		if (strcmp(role, "assistant") == 0 && m->ntool_calls > 0)
		{
			if (m->content != NULL && m->content[0] != '\0')
				aig_jw_kstring(w, "tool_plan", m->content);
			aig_jw_key(w, "tool_calls");
			aig_jw_array_begin(w);
			for (int j = 0; j < m->ntool_calls; j++)
			{
				const AigToolCall *c = &m->tool_calls[j];

				aig_jw_object_begin(w);
				aig_jw_kstring(w, "id", c->id);
				aig_jw_kstring(w, "type", "function");
				aig_jw_key(w, "function");
				aig_jw_object_begin(w);
				aig_jw_kstring(w, "name", c->name);
				aig_jw_kstring(w, "arguments",
							   (c->arguments != NULL && c->arguments[0] != '\0') ?
							   c->arguments : "{}");
				aig_jw_object_end(w);
				aig_jw_object_end(w);
			}
			aig_jw_array_end(w);
		}
		else if (strcmp(role, "tool") == 0)
		{
			aig_jw_kstring(w, "tool_call_id", m->tool_call_id);
			aig_jw_kstring(w, "content", m->content);
		}
		else if (m->nparts > 0)
			cohere_write_parts(w, m);
		else
			aig_jw_kstring(w, "content", m->content);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* One entry of "tools". */
static void
cohere_write_tool(AigJsonWriter *w, const AigToolDef *t)
{
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "type", "function");
	aig_jw_key(w, "function");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "name", t->name);
	if (t->description != NULL)
		aig_jw_kstring(w, "description", t->description);
	aig_jw_key(w, "parameters");
	aig_jw_raw(w, (t->parameters != NULL && t->parameters[0] != '\0') ?
			   t->parameters : "{\"type\": \"object\"}");
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

/* "tools" and "tool_choice" (see the header comment). */
static void
cohere_write_tools(AigJsonWriter *w, const AigGenOptions *o)
{
	bool		named = o->tool_choice == AIG_TOOL_CHOICE_NAMED &&
		o->tool_choice_name != NULL;

	if (o->ntools == 0)
		return;
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	for (int i = 0; i < o->ntools; i++)
		if (!named || strcmp(o->tools[i].name, o->tool_choice_name) == 0)
			cohere_write_tool(w, &o->tools[i]);
	aig_jw_array_end(w);
	if (named || o->tool_choice == AIG_TOOL_CHOICE_REQUIRED)
		aig_jw_kstring(w, "tool_choice", "REQUIRED");
	else if (o->tool_choice == AIG_TOOL_CHOICE_NONE)
		aig_jw_kstring(w, "tool_choice", "NONE");
}

static void
cohere_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "p", "max_tokens", "stop_sequences", "seed"};
	const AigJson *schema;
	AigRespFormatKind rfkind;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;
	bool		json_format;

	aig_http_request_init(out);
	out->url = aig_url(p, "/v2/chat");
	cohere_headers(p, out);

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	json_format = rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA;
	if (json_format && req->opts.ntools > 0)
	{
		aig_json_free(rfdoc);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cohere cannot combine response_format with tools"),
				 errhint("Cohere's chat API refuses the two together: ask for the JSON answer in a call without tools.")));
	}
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	cohere_write_messages(&w, req);
	aig_add_gen_options(&w, &req->opts, &keys);
	cohere_write_tools(&w, &req->opts);
	if (json_format)
	{
		aig_jw_key(&w, "response_format");
		aig_jw_object_begin(&w);
		aig_jw_kstring(&w, "type", "json_object");
		if (rfkind == AIG_RF_JSON_SCHEMA && schema != NULL)
		{
			aig_jw_key(&w, "json_schema");
			aig_jw_copy(&w, schema);
		}
		aig_jw_object_end(&w);
	}
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rfdoc);
}

/*
 * message.tool_calls into out->tool_calls: ids and names checked
 * (aig_tool_name_ok), each call's arguments (a string of JSON text) a JSON
 * object in strict JSON ("" or none counts as {}).
 */
static bool
cohere_read_tool_calls(const AigJson *calls, AigChatResult *out, char **errmsg)
{
	int			n;

	if (calls == NULL || aig_jis(calls, AIG_JSON_NULL))
		return true;
	if (!aig_jis(calls, AIG_JSON_ARRAY))
	{
		*errmsg = pstrdup("cohere response: message.tool_calls is not an array");
		return false;
	}
	n = aig_jlength(calls);
	if (n == 0)
		return true;
	out->tool_calls = palloc0(sizeof(AigToolCall) * n);
	for (int i = 0; i < n; i++)
	{
		const AigJson *call = aig_jelem(calls, i);
		const AigJson *fn = aig_jget(call, "function");
		AigToolCall *tc = &out->tool_calls[i];
		char	   *why = NULL;

		tc->id = aig_jstr(call, "id");
		tc->name = aig_jstr(fn, "name");
		if (!aig_tool_name_ok(tc->id) || !aig_tool_name_ok(tc->name))
		{
			*errmsg = psprintf("cohere response: message.tool_calls[%d] has no usable id or function.name", i);
			return false;
		}
		if (aig_jget(fn, "arguments") == NULL || aig_jis(aig_jget(fn, "arguments"), AIG_JSON_NULL))
		{
			tc->arguments = pstrdup("{}");	/* a call without arguments */
			out->ntool_calls++;
			continue;
		}
		if (!aig_jis(aig_jget(fn, "arguments"), AIG_JSON_STRING))
		{
			*errmsg = psprintf("cohere response: message.tool_calls[%d].function.arguments is not a string", i);
			return false;
		}
		tc->arguments = aig_tool_arguments_from_value(aig_jget(fn, "arguments"), &why);
		if (tc->arguments == NULL)
		{
			*errmsg = psprintf("cohere response: message.tool_calls[%d].function.arguments %s", i, why);
			return false;
		}
		out->ntool_calls++;
	}
	return true;
}

static bool
cohere_read_chat(const AigJson *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *message;
	const AigJson *content;
	const AigJson *usage;
	StringInfoData buf;
	int			nparts;
	char	   *finish;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("cohere response is not a JSON object");
		return false;
	}
	message = aig_jget(root, "message");
	if (!aig_jis(message, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("cohere response: message is missing or not an object");
		return false;
	}
	content = aig_jget(message, "content");
	initStringInfo(&buf);
	nparts = 0;
	if (content != NULL && !aig_jis(content, AIG_JSON_NULL))
		nparts = aig_join_text_parts(content, true, false, &buf,
									 "cohere response: message.content", errmsg);
	if (nparts < 0)
		return false;
	if (!cohere_read_tool_calls(aig_jget(message, "tool_calls"), out, errmsg))
		return false;
	finish = aig_jstr(root, "finish_reason");
	if (out->ntool_calls > 0)
	{
		char	   *plan = aig_jstr(message, "tool_plan");

		out->content = (nparts == 0 && plan != NULL) ? plan : buf.data;
		out->finish_reason = pstrdup("tool_calls");
	}
	else if (nparts == 0 && finish != NULL && strcmp(finish, "MAX_TOKENS") == 0)
		aig_chat_no_answer(out, AIG_ANSWER_NO_TEXT_LIMIT, aig_finish_cohere, finish, NULL);
	else if (nparts == 0 && finish != NULL && strcmp(finish, "ERROR_TOXIC") == 0)
		aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_cohere, finish, NULL);
	else if (nparts == 0)
	{
		*errmsg = pstrdup("cohere response has no text content");
		return false;
	}
	else
	{
		out->content = buf.data;
		out->finish_reason = aig_finish_reason(aig_finish_cohere, finish);
	}
	out->model = aig_jstr(root, "model");

	usage = aig_jget(root, "usage");
	out->input_tokens = aig_jtokens(aig_jget(usage, "tokens"), "input_tokens");
	out->output_tokens = aig_jtokens(aig_jget(usage, "tokens"), "output_tokens");
	if (out->input_tokens < 0)
		out->input_tokens = aig_jtokens(aig_jget(usage, "billed_units"),
										 "input_tokens");
	if (out->output_tokens < 0)
		out->output_tokens = aig_jtokens(aig_jget(usage, "billed_units"),
										  "output_tokens");
	return true;
}

static bool
cohere_parse_chat(const char *body, size_t len, AigChatResult *out,
				  char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, cohere_read_chat, "cohere", out, errmsg);
}

static void
cohere_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				   AigHttpRequest *out)
{
	AigJsonWriter w;
	char	   *float_type[] = {"float"};

	aig_http_request_init(out);
	out->url = aig_url(p, "/v2/embed");
	cohere_headers(p, out);

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	aig_jw_kstring_array(&w, "texts", req->ninputs, req->inputs);
	aig_jw_kstring(&w, "input_type",
				   req->input_type ? req->input_type :
				   COHERE_DEFAULT_INPUT_TYPE);
	aig_jw_kstring_array(&w, "embedding_types", 1, float_type);
	if (req->dimensions > 0)
		aig_jw_kint(&w, "output_dimension", req->dimensions);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
}

static bool
cohere_read_embed(const AigJson *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	const AigJson *emb;
	const AigJson *list;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("cohere response is not a JSON object");
		return false;
	}
	emb = aig_jget(root, "embeddings");
	if (emb == NULL)
	{
		*errmsg = pstrdup("cohere response has no embeddings");
		return false;
	}
	if (aig_jis(emb, AIG_JSON_OBJECT))
	{
		list = aig_jget(emb, "float");
		if (list == NULL)
		{
			*errmsg = pstrdup("cohere response has no embeddings.float");
			return false;
		}
	}
	else
		list = emb;				/* v1 shape "embeddings": [[...]] */
	if (!aig_read_vector_list(list, out, "cohere response", errmsg))
		return false;
	out->input_tokens = aig_jtokens(aig_jpath(root, "meta", "billed_units",
												   (char *) NULL),
									 "input_tokens");
	return true;
}

static bool
cohere_parse_embed(const char *body, size_t len, AigEmbedResult *out,
				   char **errmsg)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	return aig_parse_body(body, len, cohere_read_embed, "cohere", out, errmsg);
}

static void
cohere_parse_error(long http_status, const char *body, size_t len,
				   AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, NULL);
}

/* Cohere's v2 document: temperature 0-1, p 0.01-0.99, seed >= 0, up to 5 stop sequences */
static const AigInputType cohere_input_types[] = {
	{"query", "search_query"},
	{"document", "search_document"},
	{"classification", "classification"},
	{"clustering", "clustering"},
	{"search_query", "search_query"},
	{"search_document", "search_document"},
	{"image", "image"},
	{NULL, NULL},
};

static const AigOptionLimits cohere_limits = {
	.max_stop = 5,
	.temperature_max = 1,
	.top_p_min = 0.01,
	.top_p_max = 0.99,
	.seed_unsigned = true,
	.input_types = cohere_input_types,
};

const AigDialect aig_dialect_cohere = {
	.kind = "cohere",
	.default_base_url = "https://api.cohere.com",
	.max_embed_batch = 96,
	.limits = &cohere_limits,
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_JSON_SCHEMA,
	/* Cohere's vision document: at most 20 MB per image */
	.max_image_kb = 20480,
	.build_chat = cohere_build_chat,
	.parse_chat = cohere_parse_chat,
	.build_embed = cohere_build_embed,
	.parse_embed = cohere_parse_embed,
	.parse_error = cohere_parse_error,
};
