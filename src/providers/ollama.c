/*
 * ollama.c — the Ollama native API dialect (aig_dialect_ollama).
 *
 *	chat:		POST {base}/api/chat  (stream false)
 *	embeddings: POST {base}/api/embed
 *	auth:		Authorization: Bearer <key>, only when a key is set (a proxy
 *				in front of Ollama)
 *
 * Sampling options go in "options" (num_predict = max_tokens); an OpenAI
 * response_format becomes "format": "json" or the JSON schema itself.
 * Errors are {"error": "<text>"}.
 *
 * Tools as OpenAI's "tools" (no tool_choice: see ollama_build_chat); calls
 * come back with arguments as an object and without ids; images go as
 * base64 in the message's "images" (no URLs, no PDFs).
 */
#include "postgres.h"

#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

static void
ollama_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
}

/*
 * "messages": text as today; a user message's images as "images": [b64...]
 * (bytes only: the API takes no URLs and no PDFs); an assistant's calls as
 * "tool_calls": [{"function": {"name", "arguments": {object}}}] (no ids);
 * a tool result as {"role": "tool", "content", "tool_name"}.
 */
static void
ollama_jw_messages(AigJsonWriter *w, const AigChatRequest *req)
{
	aig_jw_key(w, "messages");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		bool		is_tool = m->role && strcmp(m->role, "tool") == 0;
		bool		has_calls = m->ntool_calls > 0 && m->role &&
			strcmp(m->role, "assistant") == 0;
		bool		any_image = false;

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "role", m->role);
		aig_jw_kstring(w, "content", m->content);
		for (int j = 0; j < m->nparts; j++)
		{
			const AigContentPart *part = &m->parts[j];

			if (part->kind == AIG_PART_TEXT)
				continue;
			if (part->kind != AIG_PART_IMAGE || part->data_b64 == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("the Ollama API takes images only as data, and no documents"),
						 errhint("Pass the image's bytes (a \"data\" part); send a PDF to a provider that takes documents.")));
			if (!any_image)
			{
				aig_jw_key(w, "images");
				aig_jw_array_begin(w);
				any_image = true;
			}
			aig_jw_string(w, part->data_b64);
		}
		if (any_image)
			aig_jw_array_end(w);
		if (has_calls)
		{
			aig_jw_key(w, "tool_calls");
			aig_jw_array_begin(w);
			for (int j = 0; j < m->ntool_calls; j++)
			{
				aig_jw_object_begin(w);
				aig_jw_key(w, "function");
				aig_jw_object_begin(w);
				aig_jw_kstring(w, "name", m->tool_calls[j].name);
				aig_jw_key(w, "arguments");
				aig_jw_raw(w, m->tool_calls[j].arguments ?
						   m->tool_calls[j].arguments : "{}");
				aig_jw_object_end(w);
				aig_jw_object_end(w);
			}
			aig_jw_array_end(w);
		}
		if (is_tool && m->name != NULL)
			aig_jw_kstring(w, "tool_name", m->name);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

static void
ollama_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "top_p", "num_predict", "stop", "seed"};
	const AigJson *schema;
	AigRespFormatKind rfkind;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;
	int			mark;

	aig_http_request_init(out);
	out->url = aig_url(p, "/api/chat");
	ollama_headers(p, out);

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	ollama_jw_messages(&w, req);
	aig_jw_kbool(&w, "stream", false);
	/*
	 * No tool_choice in this API: "none" sends no tools, a named tool is
	 * the only one sent; "required" cannot be enforced (sent as auto).
	 */
	if (req->opts.ntools > 0 && req->opts.tool_choice != AIG_TOOL_CHOICE_NONE)
		aig_jw_function_tools(&w, &req->opts,
							  req->opts.tool_choice == AIG_TOOL_CHOICE_NAMED ?
							  req->opts.tool_choice_name : NULL);
	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "options");
	aig_jw_object_begin(&w);
	aig_add_gen_options(&w, &req->opts, &keys);
	aig_jw_object_end_or_drop(&w, mark);
	if (rfkind == AIG_RF_JSON_SCHEMA && schema != NULL)
	{
		aig_jw_key(&w, "format");
		aig_jw_copy(&w, schema);
	}
	else if (rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA)
		aig_jw_kstring(&w, "format", "json");
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rfdoc);
}

/* {"error": "..."} inside a 200 body */
static bool
ollama_body_error(const AigJson *root, char **errmsg)
{
	char	   *e = aig_jstr(root, "error");

	if (e == NULL)
		return false;
	*errmsg = psprintf("ollama response: error: %s",
					   aig_body_excerpt(e, strlen(e), 500));
	return true;
}

/*
 * message.tool_calls: [{"function": {"name", "arguments": {object}}}],
 * maybe with "id" (newer servers); ids "call_<n>" are made when absent.
 */
static bool
ollama_read_tool_calls(const AigJson *calls, AigChatResult *out, char **errmsg)
{
	int			n;

	if (calls == NULL || aig_jis(calls, AIG_JSON_NULL))
		return true;
	if (!aig_jis(calls, AIG_JSON_ARRAY))
	{
		*errmsg = pstrdup("ollama response: message.tool_calls is not an array");
		return false;
	}
	n = aig_jlength(calls);
	if (n == 0)
		return true;
	out->tool_calls = palloc0(sizeof(AigToolCall) * n);
	for (int i = 0; i < n; i++)
	{
		const AigJson *fn = aig_jget(aig_jelem(calls, i), "function");
		AigToolCall *tc = &out->tool_calls[i];
		char	   *why = NULL;

		if (!aig_jis(fn, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("ollama response: tool call %d has no function", i);
			return false;
		}
		tc->name = aig_jstr(fn, "name");
		if (!aig_tool_name_ok(tc->name))
		{
			*errmsg = psprintf("ollama response: tool call %d has no valid function name", i);
			return false;
		}
		tc->id = aig_jstr(aig_jelem(calls, i), "id");
		if (tc->id == NULL || !aig_tool_name_ok(tc->id))
			tc->id = psprintf("call_%d", i + 1);
		tc->arguments = aig_tool_arguments_from_value(aig_jget(fn, "arguments"),
													  &why);
		if (tc->arguments == NULL)
		{
			*errmsg = psprintf("ollama response: the arguments of tool call %d (%s) %s",
							   i, aig_body_excerpt(tc->name, strlen(tc->name), 64),
							   why);
			return false;
		}
		out->ntool_calls = i + 1;
	}
	return true;
}

static bool
ollama_read_chat(const AigJson *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *message;
	const AigJson *content;
	char	   *reason;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("ollama response is not a JSON object");
		return false;
	}
	message = aig_jget(root, "message");
	if (message == NULL && ollama_body_error(root, errmsg))
		return false;
	if (!aig_jis(message, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("ollama response: message is missing or not an object");
		return false;
	}
	if (!ollama_read_tool_calls(aig_jget(message, "tool_calls"), out, errmsg))
		return false;
	content = aig_jget(message, "content");
	if (out->ntool_calls > 0 && (content == NULL || aig_jis(content, AIG_JSON_NULL)))
		content = NULL;
	else if (content == NULL || aig_jis(content, AIG_JSON_NULL))
	{
		*errmsg = pstrdup("ollama response: message.content is null");
		return false;
	}
	if (!aig_jis(content, AIG_JSON_STRING))
	{
		*errmsg = pstrdup("ollama response: message.content is not a string");
		return false;
	}
	out->content = content ? aig_jstring(content, NULL) : pstrdup("");

	reason = aig_jstr(root, "done_reason");
	if (out->ntool_calls > 0)
		out->finish_reason = pstrdup("tool_calls");	/* Ollama says "stop" */
	else if (reason != NULL)
		out->finish_reason = aig_finish_reason(aig_finish_ollama, reason);
	else if (aig_jis(aig_jget(root, "done"), AIG_JSON_TRUE))
		out->finish_reason = pstrdup("stop");
	out->model = aig_jstr(root, "model");
	out->input_tokens = aig_jtokens(root, "prompt_eval_count");
	out->output_tokens = aig_jtokens(root, "eval_count");
	return true;
}

static bool
ollama_parse_chat(const char *body, size_t len, AigChatResult *out,
				  char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, ollama_read_chat, "ollama", out, errmsg);
}

static void
ollama_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				   AigHttpRequest *out)
{
	AigJsonWriter w;

	aig_http_request_init(out);
	out->url = aig_url(p, "/api/embed");
	ollama_headers(p, out);

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	aig_jw_kstring_array(&w, "input", req->ninputs, req->inputs);
	if (req->dimensions > 0)
		aig_jw_kint(&w, "dimensions", req->dimensions);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
}

static bool
ollama_read_embed(const AigJson *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	const AigJson *list;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("ollama response is not a JSON object");
		return false;
	}
	list = aig_jget(root, "embeddings");
	if (list == NULL)
	{
		if (!ollama_body_error(root, errmsg))
			*errmsg = pstrdup("ollama response has no embeddings");
		return false;
	}
	if (!aig_read_vector_list(list, out, "ollama response", errmsg))
		return false;
	out->input_tokens = aig_jtokens(root, "prompt_eval_count");
	return true;
}

static bool
ollama_parse_embed(const char *body, size_t len, AigEmbedResult *out,
				   char **errmsg)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	return aig_parse_body(body, len, ollama_read_embed, "ollama", out, errmsg);
}

static void
ollama_parse_error(long http_status, const char *body, size_t len,
				   AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, NULL);
}

const AigDialect aig_dialect_ollama = {
	.kind = "ollama",
	.default_base_url = "http://localhost:11434",
	.max_embed_batch = 512,
	/* tools, images as base64 bytes, "format" with a JSON schema */
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_JSON_SCHEMA,
	.build_chat = ollama_build_chat,
	.parse_chat = ollama_parse_chat,
	.build_embed = ollama_build_embed,
	.parse_embed = ollama_parse_embed,
	.parse_error = ollama_parse_error,
};
