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
 */
#include "postgres.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

static void
ollama_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
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
	aig_jw_messages(&w, "messages", req, false);
	aig_jw_kbool(&w, "stream", false);
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
	content = aig_jget(message, "content");
	if (content == NULL || aig_jis(content, AIG_JSON_NULL))
	{
		*errmsg = pstrdup("ollama response: message.content is null");
		return false;
	}
	if (!aig_jis(content, AIG_JSON_STRING))
	{
		*errmsg = pstrdup("ollama response: message.content is not a string");
		return false;
	}
	out->content = aig_jstring(content, NULL);

	reason = aig_jstr(root, "done_reason");
	if (reason != NULL)
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
	.build_chat = ollama_build_chat,
	.parse_chat = ollama_parse_chat,
	.build_embed = ollama_build_embed,
	.parse_embed = ollama_parse_embed,
	.parse_error = ollama_parse_error,
};
