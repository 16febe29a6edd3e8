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
 */
#include "postgres.h"

#include "lib/stringinfo.h"

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

static void
cohere_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "p", "max_tokens", "stop_sequences", "seed"};
	const AigJson *schema;
	AigRespFormatKind rfkind;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;

	aig_http_request_init(out);
	out->url = aig_url(p, "/v2/chat");
	cohere_headers(p, out);

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	aig_jw_messages(&w, "messages", req, false);
	aig_add_gen_options(&w, &req->opts, &keys);
	if (rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA)
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
	finish = aig_jstr(root, "finish_reason");
	if (nparts == 0 && finish != NULL && strcmp(finish, "MAX_TOKENS") == 0)
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
	.build_chat = cohere_build_chat,
	.parse_chat = cohere_parse_chat,
	.build_embed = cohere_build_embed,
	.parse_embed = cohere_parse_embed,
	.parse_error = cohere_parse_error,
};
