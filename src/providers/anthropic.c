/*
 * anthropic.c — the Anthropic Messages API dialect (aig_dialect_anthropic).
 *
 *	chat:		POST {base}/v1/messages
 *	auth:		x-api-key: <key>, anthropic-version: <api_version|2023-06-01>
 *	embeddings: none (Anthropic has no embeddings API)
 *
 * System messages go to the top-level "system" field (joined by a blank
 * line); max_tokens is mandatory in this API, so a default is always sent.
 * seed and response_format have no equivalent and are ignored.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

#define ANTHROPIC_DEFAULT_VERSION "2023-06-01"
#define ANTHROPIC_DEFAULT_MAX_TOKENS 1024

static void
anthropic_build_chat(const AigProvider *p, const AigChatRequest *req,
					 AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "top_p", NULL, "stop_sequences", NULL};
	char	   *system = aig_join_system(req);
	int			max_tokens;
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

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "model", req->model);
	aig_jw_kint(&w, "max_tokens", max_tokens);
	if (system != NULL)
		aig_jw_kstring(&w, "system", system);
	aig_jw_messages(&w, "messages", req, true);
	aig_add_gen_options(&w, &req->opts, &keys);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
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
	stop_reason = aig_jstr(root, "stop_reason");
	if (stop_reason != NULL && strcmp(stop_reason, "refusal") == 0)
	{
		/* documented: a refusal, whatever (partial) text came before it */
		aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_anthropic, stop_reason, NULL);
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
	.build_chat = anthropic_build_chat,
	.parse_chat = anthropic_parse_chat,
	.build_embed = NULL,
	.parse_embed = NULL,
	.parse_error = anthropic_parse_error,
};
