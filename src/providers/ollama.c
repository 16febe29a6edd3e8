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

#include "jsonc_util.h"
#include "provider.h"
#include "dialect_util.h"

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
	json_object *root;
	json_object *rf;
	json_object *schema;
	AigRespFormatKind rfkind;

	aig_http_request_init(out);
	out->url = aig_url(p, "/api/chat");
	ollama_headers(p, out);

	root = aig_jnew_object();
	rf = aig_response_format_parse(req->opts.response_format, &rfkind,
								   &schema);
	PG_TRY();
	{
		json_object *options;

		aig_jset_str(root, "model", req->model);
		aig_jset_messages(root, "messages", req, false);
		aig_jset_bool(root, "stream", false);
		options = aig_jset_object(root, "options");
		aig_add_gen_options(options, &req->opts, &keys);
		if (json_object_object_length(options) == 0)
			json_object_object_del(root, "options");
		if (rfkind == AIG_RF_JSON_OBJECT)
			aig_jset_str(root, "format", "json");
		else if (rfkind == AIG_RF_JSON_SCHEMA)
		{
			if (schema != NULL)
				aig_jset(root, "format", json_object_get(schema));
			else
				aig_jset_str(root, "format", "json");
		}
		aig_jbody(root, out);
	}
	PG_FINALLY();
	{
		json_object_put(root);
		if (rf != NULL)
			json_object_put(rf);
	}
	PG_END_TRY();
}

/* {"error": "..."} inside a 200 body */
static bool
ollama_body_error(json_object *root, char **errmsg)
{
	const char *e = aig_json_str(root, "error");

	if (e == NULL)
		return false;
	*errmsg = psprintf("ollama response: error: %s",
					   aig_body_excerpt(e, strlen(e), 500));
	return true;
}

static bool
ollama_read_chat(json_object *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	json_object *message;
	json_object *content;
	json_object *done;
	const char *reason;

	if (!aig_jis(root, json_type_object))
	{
		*errmsg = pstrdup("ollama response is not a JSON object");
		return false;
	}
	message = aig_jget(root, "message");
	if (message == NULL && ollama_body_error(root, errmsg))
		return false;
	if (!aig_jis(message, json_type_object))
	{
		*errmsg = pstrdup("ollama response: message is missing or not an object");
		return false;
	}
	content = aig_jget(message, "content");
	if (content == NULL || aig_jis(content, json_type_null))
	{
		*errmsg = pstrdup("ollama response: message.content is null");
		return false;
	}
	if (!aig_jis(content, json_type_string))
	{
		*errmsg = pstrdup("ollama response: message.content is not a string");
		return false;
	}
	out->content = pnstrdup(json_object_get_string(content),
							json_object_get_string_len(content));

	reason = aig_json_str(root, "done_reason");
	done = aig_jget(root, "done");
	if (reason != NULL)
		out->finish_reason = aig_finish_reason(aig_finish_ollama, reason);
	else if (aig_jis(done, json_type_boolean) && json_object_get_boolean(done))
		out->finish_reason = pstrdup("stop");
	out->model = aig_jdup_str(root, "model");
	out->input_tokens = aig_json_int(root, "prompt_eval_count");
	out->output_tokens = aig_json_int(root, "eval_count");
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
	json_object *root;

	aig_http_request_init(out);
	out->url = aig_url(p, "/api/embed");
	ollama_headers(p, out);

	root = aig_jnew_object();
	PG_TRY();
	{
		aig_jset_str(root, "model", req->model);
		aig_jset_str_array(root, "input", req->ninputs, req->inputs);
		if (req->dimensions > 0)
			aig_jset_int(root, "dimensions", req->dimensions);
		aig_jbody(root, out);
	}
	PG_FINALLY();
	{
		json_object_put(root);
	}
	PG_END_TRY();
}

static bool
ollama_read_embed(json_object *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	json_object *list;

	if (!aig_jis(root, json_type_object))
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
	out->input_tokens = aig_json_int(root, "prompt_eval_count");
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
