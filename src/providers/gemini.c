/*
 * gemini.c — the Google Gemini API (Generative Language, v1beta) dialect
 * (aig_dialect_gemini).
 *
 *	chat:		POST {base}/v1beta/models/{model}:generateContent
 *	embeddings: POST {base}/v1beta/models/{model}:batchEmbedContents
 *	auth:		x-goog-api-key: <key>
 *
 * The chat body (contents, tools, generationConfig) is gemini_content.c's;
 * this file adds the URL and key, and reads answers: text parts, and
 * functionCall parts as tool calls (finish reason "tool_calls").  Errors use
 * Google's envelope {"error":{"code","message","status","details"}}; a
 * RESOURCE_EXHAUSTED error may carry a RetryInfo delay.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/gemini.h"

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

/* URL and headers here; the body (gemini_content.c) knows no URL */
static void
gemini_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1beta/models/%s:generateContent",
								   gemini_model_path(req->model)));
	gemini_headers(p, out);
	aig_gemini_chat_body(req, out);
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

/* usageMetadata: what the provider billed */
static void
gemini_usage(const AigJson *root, AigChatResult *out)
{
	const AigJson *usage = aig_jget(root, "usageMetadata");

	out->input_tokens = aig_jtokens(usage, "promptTokenCount");
	out->output_tokens = aig_jtokens(usage, "candidatesTokenCount");
}

/*
 * Is s valid UTF-8 without control characters (what a name, id or
 * signature must be to go into jsonb and into messages)?
 */
static bool
gemini_utf8(const char *s)
{
	int			len = strlen(s);

	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return pg_encoding_verifymbstr(PG_UTF8, s, len) == len;
}

/*
 * The functionCall parts of parts (an array of objects, checked) into
 * out->tool_calls: name a non-empty string, args an object (absent or null:
 * {}), id the part's own when it has one, else "call_<n>" (n from 1).
 * A thought signature on the part (Gemini 3 and 2.5 thinking models; it
 * must come back with the call in the next request) rides in the id after
 * AIG_GEMINI_SIG_MARK.
 */
static bool
gemini_read_calls(const AigJson *parts, AigChatResult *out, char **errmsg)
{
	int			n = aig_jlength(parts);
	int			ncalls = 0;

	for (int i = 0; i < n; i++)
		if (aig_jget(aig_jelem(parts, i), "functionCall") != NULL)
			ncalls++;
	if (ncalls == 0)
		return true;
	out->tool_calls = palloc0(sizeof(AigToolCall) * ncalls);
	for (int i = 0; i < n; i++)
	{
		const AigJson *fc = aig_jget(aig_jelem(parts, i), "functionCall");
		const AigJson *args;
		AigToolCall *c;
		char	   *name;
		char	   *id;
		char	   *sig;
		AigJsonWriter w;

		if (fc == NULL)
			continue;
		c = &out->tool_calls[out->ntool_calls];
		name = aig_jstr(fc, "name");
		if (!aig_jis(fc, AIG_JSON_OBJECT) || name == NULL || !aig_tool_name_ok(name))
		{
			*errmsg = psprintf("gemini response: candidates[0].content.parts[%d].functionCall has no name (or one that is not UTF-8)",
							   i);
			return false;
		}
		args = aig_jget(fc, "args");
		aig_jw_init(&w);
		if (args == NULL || aig_jis(args, AIG_JSON_NULL))
		{
			aig_jw_object_begin(&w);
			aig_jw_object_end(&w);
		}
		else if (aig_jis(args, AIG_JSON_OBJECT))
		{
			char	   *why = NULL;
			char	   *strict = aig_tool_arguments_from_value(args, &why);

			/* strict JSON as jsonb reads it, like every dialect's calls */
			if (strict == NULL)
			{
				*errmsg = psprintf("gemini response: candidates[0].content.parts[%d].functionCall.args %s",
								   i, why ? why : "is not a JSON object");
				return false;
			}
			appendStringInfoString(&w.buf, strict);
		}
		else
		{
			*errmsg = psprintf("gemini response: candidates[0].content.parts[%d].functionCall.args is not an object",
							   i);
			return false;
		}
		id = aig_jstr(fc, "id");
		if (id == NULL || id[0] == '\0' || !gemini_utf8(id))
			id = psprintf("call_%d", out->ntool_calls + 1);
		sig = aig_jstr(aig_jelem(parts, i), "thoughtSignature");
		if (sig != NULL && sig[0] != '\0' &&
			gemini_utf8(sig))
			id = psprintf("%s%s%s", id, AIG_GEMINI_SIG_MARK, sig);
		c->id = id;
		c->name = name;
		c->arguments = w.buf.data;
		out->ntool_calls++;
	}
	return true;
}

static bool
gemini_read_chat(const AigJson *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *candidates;
	const AigJson *cand;
	const AigJson *content;
	const AigJson *parts;
	char	   *reason;
	StringInfoData buf;
	int			nparts = 0;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("gemini response is not a JSON object");
		return false;
	}
	candidates = aig_jget(root, "candidates");
	if (candidates == NULL || aig_jis(candidates, AIG_JSON_NULL) ||
		(aig_jis(candidates, AIG_JSON_ARRAY) && aig_jlength(candidates) == 0))
	{
		char	   *block = aig_jstr(aig_jget(root, "promptFeedback"),
									 "blockReason");

		if (block == NULL)
		{
			*errmsg = pstrdup("gemini response has no candidates");
			return false;
		}
		/* documented: the prompt was blocked, no candidates are returned */
		aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_gemini, NULL,
						   psprintf("prompt blocked: %s",
									aig_body_excerpt(block, strlen(block), 100)));
		gemini_usage(root, out);
		return true;
	}
	if (!aig_jis(candidates, AIG_JSON_ARRAY))
	{
		*errmsg = pstrdup("gemini response: candidates is not an array");
		return false;
	}
	cand = aig_jelem(candidates, 0);
	if (!aig_jis(cand, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("gemini response: candidates[0] is not an object");
		return false;
	}
	reason = aig_jstr(cand, "finishReason");

	content = aig_jget(cand, "content");
	parts = aig_jget(content, "parts");
	initStringInfo(&buf);
	if (content != NULL && !aig_jis(content, AIG_JSON_NULL) &&
		!aig_jis(content, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("gemini response: candidates[0].content is not an object");
		return false;
	}
	if (parts != NULL && !aig_jis(parts, AIG_JSON_NULL))
	{
		nparts = aig_join_text_parts(parts, false, true, &buf,
									 "gemini response: candidates[0].content.parts",
									 errmsg);
		if (nparts < 0 || !gemini_read_calls(parts, out, errmsg))
			return false;
	}
	if (out->ntool_calls > 0)
	{
		/* Gemini says STOP; the gateway says what the caller must do */
		out->content = buf.data;
		out->finish_reason = pstrdup("tool_calls");
	}
	else if (nparts == 0)
	{
		/* the reason is the provider's text: valid UTF-8, bounded, in messages */
		if (gemini_is_filter_reason(reason))
			aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_gemini, reason,
							   psprintf("response blocked: %s",
										aig_body_excerpt(reason, strlen(reason), 100)));
		else if (reason != NULL && strcmp(reason, "MAX_TOKENS") == 0)
			aig_chat_no_answer(out, AIG_ANSWER_NO_TEXT_LIMIT, aig_finish_gemini, reason,
							   NULL);
		else
		{
			if (reason != NULL)
				*errmsg = psprintf("gemini response has no text content (finish reason %s)",
								   aig_body_excerpt(reason, strlen(reason), 100));
			else
				*errmsg = pstrdup("gemini response has no text content");
			return false;
		}
	}
	else
	{
		out->content = buf.data;
		out->finish_reason = aig_finish_reason(aig_finish_gemini, reason);
	}
	out->model = aig_jstr(root, "modelVersion");
	gemini_usage(root, out);
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
	AigJsonWriter w;

	if (strncmp(bare, "models/", 7) == 0)
		bare += 7;
	model_ref = psprintf("models/%s", bare);

	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1beta/models/%s:batchEmbedContents",
								   model));
	gemini_headers(p, out);

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_key(&w, "requests");
	aig_jw_array_begin(&w);
	for (int i = 0; i < req->ninputs; i++)
	{
		aig_jw_object_begin(&w);
		aig_jw_kstring(&w, "model", model_ref);
		aig_jw_key(&w, "content");
		aig_jw_object_begin(&w);
		aig_gemini_text_parts(&w, req->inputs[i]);
		aig_jw_object_end(&w);
		if (req->input_type != NULL)
			aig_jw_kstring(&w, "taskType", req->input_type);
		if (req->dimensions > 0)
			aig_jw_kint(&w, "outputDimensionality", req->dimensions);
		aig_jw_object_end(&w);
	}
	aig_jw_array_end(&w);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
}

static bool
gemini_read_embed(const AigJson *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	const AigJson *list;
	int			n;

	if (!aig_jis(root, AIG_JSON_OBJECT))
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
	if (!aig_jis(list, AIG_JSON_ARRAY))
	{
		*errmsg = pstrdup("gemini response: embeddings is not an array");
		return false;
	}
	n = aig_jlength(list);
	if ((size_t) n > INT_MAX / sizeof(float4 *))
	{
		*errmsg = pstrdup("gemini response: too many embeddings");
		return false;
	}
	aig_embed_result_init(out, n);
	for (int i = 0; i < n; i++)
	{
		const AigJson *item = aig_jelem(list, i);

		if (!aig_jis(item, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("gemini response: embeddings[%d] is not an object",
							   i);
			return false;
		}
		if (!aig_read_vector(aig_jget(item, "values"), &out->vectors[i],
							 &out->ndims[i], "gemini response", i,
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
gemini_refine_error(const AigJson *root, long http_status,
					AigUpstreamError *out)
{
	const AigJson *e;
	const AigJson *details;

	if (aig_jis(root, AIG_JSON_ARRAY) && aig_jlength(root) > 0)
		root = aig_jelem(root, 0);
	e = aig_jget(root, "error");
	if (aig_jstring_eq(aig_jget(e, "status"), "RESOURCE_EXHAUSTED"))
	{
		out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		out->retryable = true;
	}

	details = aig_jget(e, "details");
	if (!aig_jis(details, AIG_JSON_ARRAY))
		return;
	for (int i = 0; i < aig_jlength(details); i++)
	{
		const AigJson *d = aig_jelem(details, i);
		char	   *type = aig_jstr(d, "@type");

		if (type == NULL)
			continue;
		if (ends_with(type, "google.rpc.RetryInfo"))
		{
			int			ms = gemini_parse_delay(aig_jstr(d, "retryDelay"));

			if (ms >= 0)
				out->retry_after_ms = ms;
		}
		else if (ends_with(type, "google.rpc.ErrorInfo"))
		{
			/* an invalid key comes back as HTTP 400 INVALID_ARGUMENT */
			if (aig_jstring_eq(aig_jget(d, "reason"), "API_KEY_INVALID"))
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

/* Gemini's document: up to 5 stop sequences; embedding task types */
static const AigInputType gemini_input_types[] = {
	{"query", "RETRIEVAL_QUERY"},
	{"document", "RETRIEVAL_DOCUMENT"},
	{"classification", "CLASSIFICATION"},
	{"clustering", "CLUSTERING"},
	{"similarity", "SEMANTIC_SIMILARITY"},
	{"RETRIEVAL_QUERY", "RETRIEVAL_QUERY"},
	{"RETRIEVAL_DOCUMENT", "RETRIEVAL_DOCUMENT"},
	{"SEMANTIC_SIMILARITY", "SEMANTIC_SIMILARITY"},
	{"CLASSIFICATION", "CLASSIFICATION"},
	{"CLUSTERING", "CLUSTERING"},
	{"QUESTION_ANSWERING", "QUESTION_ANSWERING"},
	{"FACT_VERIFICATION", "FACT_VERIFICATION"},
	{"CODE_RETRIEVAL_QUERY", "CODE_RETRIEVAL_QUERY"},
	{NULL, NULL},
};

static const AigOptionLimits gemini_limits = {
	.max_stop = 5,
	.input_types = gemini_input_types,
};

const AigDialect aig_dialect_gemini = {
	.kind = "gemini",
	.default_base_url = "https://generativelanguage.googleapis.com",
	.max_embed_batch = 100,
	.limits = &gemini_limits,
	/* https URLs: fileData.fileUri takes public and signed URLs */
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_DOCUMENTS | AIG_CAP_JSON_SCHEMA,
	/* inline data: the documented 20 MB request size */
	.max_image_kb = 20 * 1024,
	.build_chat = gemini_build_chat,
	.parse_chat = gemini_parse_chat,
	.build_embed = gemini_build_embed,
	.parse_embed = gemini_parse_embed,
	.parse_error = gemini_parse_error,
};
