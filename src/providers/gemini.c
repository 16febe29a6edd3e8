/*
 * gemini.c — the Google Gemini API (Generative Language, v1beta) dialect
 * (aig_dialect_gemini).
 *
 *	chat:		POST {base}/v1beta/models/{model}:generateContent
 *	embeddings: POST {base}/v1beta/models/{model}:batchEmbedContents
 *	auth:		x-goog-api-key: <key>
 *
 * Messages become "contents" (assistant -> role "model"), system messages
 * the "systemInstruction"; options go in "generationConfig".  Errors use
 * Google's envelope {"error":{"code","message","status","details"}}; a
 * RESOURCE_EXHAUSTED error may carry a RetryInfo delay.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "jsonc_util.h"
#include "provider.h"
#include "dialect_util.h"

/* Model name without a leading "models/", URL-escaped. */
static char *
gemini_model_path(const char *model)
{
	if (model == NULL)
		model = "";
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	return aig_url_escape(model);
}

static void
gemini_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "x-goog-api-key", NULL, p->api_key);
}

static void
gemini_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "topP", "maxOutputTokens",
	"stopSequences", "seed"};
	char	   *system = aig_join_system(req);
	json_object *root;
	json_object *rf;
	json_object *schema;
	AigRespFormatKind rfkind;

	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1beta/models/%s:generateContent",
								   gemini_model_path(req->model)));
	gemini_headers(p, out);

	root = aig_jnew_object();
	rf = aig_response_format_parse(req->opts.response_format, &rfkind,
								   &schema);
	PG_TRY();
	{
		json_object *contents = aig_jset_array(root, "contents");
		json_object *config;

		for (int i = 0; i < req->nmessages; i++)
		{
			const AigChatMessage *m = &req->messages[i];
			json_object *c;
			json_object *part;

			if (m->role != NULL && strcmp(m->role, "system") == 0)
				continue;
			c = aig_jpush_object(contents);
			aig_jset_str(c, "role",
						 (m->role != NULL && strcmp(m->role, "assistant") == 0) ?
						 "model" : "user");
			part = aig_jpush_object(aig_jset_array(c, "parts"));
			aig_jset_str(part, "text", m->content);
		}
		if (system != NULL)
		{
			json_object *si = aig_jset_object(root, "systemInstruction");
			json_object *part = aig_jpush_object(aig_jset_array(si, "parts"));

			aig_jset_str(part, "text", system);
		}

		config = aig_jset_object(root, "generationConfig");
		aig_add_gen_options(config, &req->opts, &keys);
		if (rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA)
		{
			aig_jset_str(config, "responseMimeType", "application/json");
			if (rfkind == AIG_RF_JSON_SCHEMA && schema != NULL)
				aig_jset(config, "responseJsonSchema", json_object_get(schema));
		}
		if (json_object_object_length(config) == 0)
			json_object_object_del(root, "generationConfig");
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

static bool
gemini_is_filter_reason(const char *reason)
{
	char	   *norm;

	if (reason == NULL)
		return false;
	norm = aig_finish_reason(aig_finish_gemini, reason);
	return strcmp(norm, "content_filter") == 0;
}

static bool
gemini_read_chat(json_object *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	json_object *candidates;
	json_object *cand;
	json_object *content;
	json_object *parts;
	json_object *usage;
	const char *reason;
	StringInfoData buf;
	int			nparts = 0;

	if (!aig_jis(root, json_type_object))
	{
		*errmsg = pstrdup("gemini response is not a JSON object");
		return false;
	}
	candidates = aig_jget(root, "candidates");
	if (candidates == NULL || aig_jis(candidates, json_type_null) ||
		(aig_jis(candidates, json_type_array) &&
		 json_object_array_length(candidates) == 0))
	{
		const char *block = aig_json_str(aig_jget(root, "promptFeedback"),
										 "blockReason");

		if (block != NULL)
			*errmsg = psprintf("gemini blocked the prompt (%s)",
							   aig_body_excerpt(block, strlen(block), 100));
		else
			*errmsg = pstrdup("gemini response has no candidates");
		return false;
	}
	if (!aig_jis(candidates, json_type_array))
	{
		*errmsg = pstrdup("gemini response: candidates is not an array");
		return false;
	}
	cand = json_object_array_get_idx(candidates, 0);
	if (!aig_jis(cand, json_type_object))
	{
		*errmsg = pstrdup("gemini response: candidates[0] is not an object");
		return false;
	}
	reason = aig_json_str(cand, "finishReason");

	content = aig_jget(cand, "content");
	parts = aig_jget(content, "parts");
	initStringInfo(&buf);
	if (content != NULL && !aig_jis(content, json_type_null) &&
		!aig_jis(content, json_type_object))
	{
		*errmsg = pstrdup("gemini response: candidates[0].content is not an object");
		return false;
	}
	if (parts != NULL && !aig_jis(parts, json_type_null))
	{
		nparts = aig_join_text_parts(parts, false, true, &buf,
									 "gemini response: candidates[0].content.parts",
									 errmsg);
		if (nparts < 0)
			return false;
	}
	if (nparts == 0)
	{
		/* the reason comes from the body: shown as a clean excerpt */
		char	   *shown = reason ?
			aig_body_excerpt(reason, strlen(reason), 100) : NULL;

		if (gemini_is_filter_reason(reason))
			*errmsg = psprintf("gemini blocked the response (%s)", shown);
		else if (reason != NULL)
			*errmsg = psprintf("gemini response has no text content (finish reason %s)",
							   shown);
		else
			*errmsg = pstrdup("gemini response has no text content");
		return false;
	}
	out->content = buf.data;
	out->finish_reason = aig_finish_reason(aig_finish_gemini, reason);
	out->model = aig_jdup_str(root, "modelVersion");
	usage = aig_jget(root, "usageMetadata");
	out->input_tokens = aig_json_int(usage, "promptTokenCount");
	out->output_tokens = aig_json_int(usage, "candidatesTokenCount");
	return true;
}

static bool
gemini_parse_chat(const char *body, size_t len, AigChatResult *out,
				  char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, gemini_read_chat, "gemini", out, errmsg);
}

static void
gemini_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				   AigHttpRequest *out)
{
	char	   *model = gemini_model_path(req->model);
	const char *bare = req->model ? req->model : "";
	char	   *model_ref;
	json_object *root;

	if (strncmp(bare, "models/", 7) == 0)
		bare += 7;
	model_ref = psprintf("models/%s", bare);

	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1beta/models/%s:batchEmbedContents",
								   model));
	gemini_headers(p, out);

	root = aig_jnew_object();
	PG_TRY();
	{
		json_object *requests = aig_jset_array(root, "requests");

		for (int i = 0; i < req->ninputs; i++)
		{
			json_object *r = aig_jpush_object(requests);
			json_object *content;
			json_object *part;

			aig_jset_str(r, "model", model_ref);
			content = aig_jset_object(r, "content");
			part = aig_jpush_object(aig_jset_array(content, "parts"));
			aig_jset_str(part, "text", req->inputs[i]);
			if (req->input_type != NULL)
				aig_jset_str(r, "taskType", req->input_type);
			if (req->dimensions > 0)
				aig_jset_int(r, "outputDimensionality", req->dimensions);
		}
		aig_jbody(root, out);
	}
	PG_FINALLY();
	{
		json_object_put(root);
	}
	PG_END_TRY();
}

static bool
gemini_read_embed(json_object *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	json_object *list;
	size_t		n;

	if (!aig_jis(root, json_type_object))
	{
		*errmsg = pstrdup("gemini response is not a JSON object");
		return false;
	}
	list = aig_jget(root, "embeddings");
	if (list == NULL)
	{
		*errmsg = pstrdup("gemini response has no embeddings");
		return false;
	}
	if (!aig_jis(list, json_type_array))
	{
		*errmsg = pstrdup("gemini response: embeddings is not an array");
		return false;
	}
	n = json_object_array_length(list);
	if (n > INT_MAX / sizeof(float4 *))
	{
		*errmsg = pstrdup("gemini response: too many embeddings");
		return false;
	}
	aig_embed_result_init(out, (int) n);
	for (size_t i = 0; i < n; i++)
	{
		json_object *item = json_object_array_get_idx(list, i);

		if (!aig_jis(item, json_type_object))
		{
			*errmsg = psprintf("gemini response: embeddings[%zu] is not an object",
							   i);
			return false;
		}
		if (!aig_read_vector(aig_jget(item, "values"), &out->vectors[i],
							 &out->ndims[i], "gemini response", (int) i,
							 errmsg))
			return false;
	}
	out->input_tokens = -1;
	return true;
}

static bool
gemini_parse_embed(const char *body, size_t len, AigEmbedResult *out,
				   char **errmsg)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	return aig_parse_body(body, len, gemini_read_embed, "gemini", out, errmsg);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		sl = strlen(s);
	size_t		xl = strlen(suffix);

	return sl >= xl && strcmp(s + sl - xl, suffix) == 0;
}

/* "13s", "1.5s" -> milliseconds, or -1 */
static int
gemini_parse_delay(const char *s)
{
	char	   *end;
	double		secs;

	if (s == NULL)
		return -1;
	errno = 0;
	secs = strtod(s, &end);
	if (end == s || errno != 0 || strcmp(end, "s") != 0 ||
		isnan(secs) || secs < 0)
		return -1;
	if (secs * 1000.0 >= (double) INT_MAX)
		return INT_MAX;
	return (int) ceil(secs * 1000.0);
}

static void
gemini_refine_error(json_object *root, long http_status,
					AigUpstreamError *out)
{
	json_object *e;
	json_object *details;
	const char *status;

	if (aig_jis(root, json_type_array) && json_object_array_length(root) > 0)
		root = json_object_array_get_idx(root, 0);
	e = aig_jget(root, "error");
	status = aig_json_str(e, "status");
	if (status != NULL && strcmp(status, "RESOURCE_EXHAUSTED") == 0)
	{
		out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		out->retryable = true;
	}

	details = aig_jget(e, "details");
	if (!aig_jis(details, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(details); i++)
	{
		json_object *d = json_object_array_get_idx(details, i);
		const char *type = aig_json_str(d, "@type");

		if (type == NULL)
			continue;
		if (ends_with(type, "google.rpc.RetryInfo"))
		{
			int			ms = gemini_parse_delay(aig_json_str(d, "retryDelay"));

			if (ms >= 0)
				out->retry_after_ms = ms;
		}
		else if (ends_with(type, "google.rpc.ErrorInfo"))
		{
			const char *reason = aig_json_str(d, "reason");

			/* an invalid key comes back as HTTP 400 INVALID_ARGUMENT */
			if (reason != NULL && strcmp(reason, "API_KEY_INVALID") == 0)
			{
				out->sqlerrcode = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
				out->retryable = false;
			}
		}
	}
}

static void
gemini_parse_error(long http_status, const char *body, size_t len,
				   AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, gemini_refine_error);
}

const AigDialect aig_dialect_gemini = {
	.kind = "gemini",
	.default_base_url = "https://generativelanguage.googleapis.com",
	.max_embed_batch = 100,
	.build_chat = gemini_build_chat,
	.parse_chat = gemini_parse_chat,
	.build_embed = gemini_build_embed,
	.parse_embed = gemini_parse_embed,
	.parse_error = gemini_parse_error,
};
