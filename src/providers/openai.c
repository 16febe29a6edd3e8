/*
 * openai.c — the OpenAI dialect (aig_dialect_openai) and the generic
 * OpenAI-compatible one (aig_dialect_openai_compatible: vLLM, llama.cpp,
 * Ollama's /v1, LiteLLM, ...), plus the OpenAI wire format they share with
 * azure.c (chat/embeddings bodies, response and error parsing; declared in
 * dialect_util.h).
 *
 *	chat:		POST {base}/chat/completions
 *	embeddings: POST {base}/embeddings
 *	auth:		Authorization: Bearer <key> (only when a key is set)
 *
 * Tools, tool results and image/file parts: openai_tools.c.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "utils/errcodes.h"
#include "utils/memutils.h"

#include "base/compat.h"
#include "providers/provider.h"
#include "providers/dialect_util.h"

/* ---------------------------------------------------------------------
 * Shared OpenAI wire format
 * ---------------------------------------------------------------------
 */

/*
 * response_format json_schema as Azure's 2024-10-21 document has it: its
 * json_schema object requires a "type" member too (OpenAI's does not).
 */
static void
azure_json_schema(AigJsonWriter *w, const AigJson *rf)
{
	const AigJson *js = aig_jget(rf, "json_schema");
	static const char *const members[] = {"name", "description", "schema", "strict"};

	aig_jw_object_begin(w);
	aig_jw_kstring(w, "type", "json_schema");
	aig_jw_key(w, "json_schema");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "type", "json_schema");
	for (int i = 0; i < lengthof(members); i++)
	{
		const AigJson *m = aig_jget(js, members[i]);

		if (m != NULL)
		{
			aig_jw_key(w, members[i]);
			aig_jw_copy(w, m);
		}
	}
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

/*
 * Body of a chat completion.  with_model = false for azure (the deployment
 * in the URL names the model; its json_schema format takes a "type" too).
 */
void
aig_openai_chat_body(const AigChatRequest *req, bool with_model,
					 const char *max_tokens_key, AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "top_p", max_tokens_key, "stop", "seed"};
	AigRespFormatKind rfkind;
	AigJsonDoc *rf = aig_response_format_parse(req->opts.response_format,
											   &rfkind, NULL);
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	if (with_model)
		aig_jw_kstring(&w, "model", req->model);
	aig_openai_jw_messages(&w, req);
	aig_add_gen_options(&w, &req->opts, &keys);
	aig_openai_jw_tools(&w, &req->opts, true);
	if (rf != NULL)
	{
		aig_jw_key(&w, "response_format");
		if (!with_model && rfkind == AIG_RF_JSON_SCHEMA)
			azure_json_schema(&w, rf->root);
		else
			aig_jw_copy(&w, rf->root);
	}
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rf);
}

void
aig_openai_embed_body(const AigEmbedRequest *req, bool with_model, bool base64,
					  AigHttpRequest *out)
{
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	if (with_model)
		aig_jw_kstring(&w, "model", req->model);
	aig_jw_kstring_array(&w, "input", req->ninputs, req->inputs);
	aig_jw_kstring(&w, "encoding_format", base64 ? "base64" : "float");
	if (req->dimensions > 0)
		aig_jw_kint(&w, "dimensions", req->dimensions);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
}

/* The work of aig_openai_parse_chat_as on a parsed body. */
static bool
openai_read_chat(const AigJson *root, const char *label, void *arg,
				 char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *choices;
	const AigJson *choice;
	const AigJson *message;
	const AigJson *content;
	const AigJson *usage;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = psprintf("%s response is not a JSON object", label);
		return false;
	}
	choices = aig_jget(root, "choices");
	if (choices == NULL || aig_jis(choices, AIG_JSON_NULL))
	{
		char	   *emsg = aig_jstr(aig_jget(root, "error"), "message");

		if (emsg == NULL)
			emsg = aig_jstr(root, "error");
		*errmsg = emsg ?
			psprintf("%s response has no choices: %s", label,
					 aig_body_excerpt(emsg, strlen(emsg), 500)) :
			psprintf("%s response has no choices", label);
		return false;
	}
	if (!aig_jis(choices, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s response: choices is not an array", label);
		return false;
	}
	if (aig_jlength(choices) == 0)
	{
		*errmsg = psprintf("%s response: choices is empty", label);
		return false;
	}
	choice = aig_jelem(choices, 0);
	if (!aig_jis(choice, AIG_JSON_OBJECT))
	{
		*errmsg = psprintf("%s response: choices[0] is not an object", label);
		return false;
	}
	message = aig_jget(choice, "message");
	if (!aig_jis(message, AIG_JSON_OBJECT))
	{
		*errmsg = psprintf("%s response: choices[0].message is missing or not an object",
						   label);
		return false;
	}

	if (!aig_openai_read_tool_calls(aig_jget(message, "tool_calls"), out,
									label, errmsg))
		return false;

	content = aig_jget(message, "content");
	if (out->ntool_calls > 0 && (content == NULL || aig_jis(content, AIG_JSON_NULL)))
		out->content = pstrdup("");	/* only calls, no text */
	else if (aig_jis(content, AIG_JSON_STRING))
		out->content = aig_jstring(content, NULL);
	else if (aig_jis(content, AIG_JSON_ARRAY))
	{
		/* some compatible servers send content parts */
		StringInfoData buf;
		char	   *where = psprintf("%s response: choices[0].message.content",
									 label);

		initStringInfo(&buf);
		if (aig_join_text_parts(content, true, false, &buf, where,
								errmsg) < 0)
			return false;
		out->content = buf.data;
	}
	else if (content == NULL || aig_jis(content, AIG_JSON_NULL))
	{
		/*
		 * No content: the documented refusal (message.refusal), a content
		 * filter (finish_reason content_filter, Azure) or the token limit
		 * reached before any text (finish_reason length) is an answer about
		 * the request; anything else is not the documented format.
		 */
		char	   *refusal = aig_jstr(message, "refusal");
		char	   *finish = aig_jstr(choice, "finish_reason");

		if (refusal != NULL || (finish && strcmp(finish, "content_filter") == 0))
			aig_chat_no_answer(out, AIG_ANSWER_REFUSED, aig_finish_openai,
							   refusal && !finish ? "content_filter" : finish, refusal);
		else if (finish && strcmp(finish, "length") == 0)
			aig_chat_no_answer(out, AIG_ANSWER_NO_TEXT_LIMIT, aig_finish_openai,
							   finish, NULL);
		else
		{
			*errmsg = psprintf("%s response: choices[0].message.content is null",
							   label);
			return false;
		}
	}
	else
	{
		*errmsg = psprintf("%s response: choices[0].message.content is not a string",
						   label);
		return false;
	}

	if (out->ntool_calls > 0)
	{
		/* a forced call ends with "stop" (OpenAI), some servers say so always */
		out->finish_reason = pstrdup("tool_calls");
	}
	else if (out->kind == AIG_ANSWER_TEXT)
		out->finish_reason = aig_finish_reason(aig_finish_openai,
											   aig_jstr(choice, "finish_reason"));
	out->model = aig_jstr(root, "model");
	usage = aig_jget(root, "usage");
	out->input_tokens = aig_jtokens(usage, "prompt_tokens");
	out->output_tokens = aig_jtokens(usage, "completion_tokens");
	return true;
}

bool
aig_openai_parse_chat_as(const char *label, const char *body, size_t len,
						 AigChatResult *out, char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, openai_read_chat, label, out, errmsg);
}

/* "embedding" given as base64 of little-endian float32 values */
static bool
openai_read_b64_vector(const AigJson *s, float4 **vec, int *ndims,
					   const char *label, int index, char **errmsg)
{
	size_t		srclen;
	char	   *src;
	int			maxlen;
	int			n;
	char	   *raw;
	float4	   *v;

	if (aig_jstring_len(s) > MaxAllocSize / 2)
	{
		*errmsg = psprintf("%s: embedding %d is too large", label, index);
		return false;
	}
	src = aig_jstring(s, &srclen);
	maxlen = pg_b64_dec_len((int) srclen);
	raw = palloc(maxlen + 1);
	n = aig_b64_decode(src, (int) srclen, raw, maxlen);
	pfree(src);
	if (n < 0)
	{
		*errmsg = psprintf("%s: embedding %d is not valid base64", label, index);
		return false;
	}
	if (n == 0 || n % 4 != 0)
	{
		*errmsg = psprintf("%s: embedding %d does not decode to float32 values",
						   label, index);
		return false;
	}
	v = palloc(n);
	for (int i = 0; i < n / 4; i++)
	{
		const unsigned char *b = (const unsigned char *) raw + i * 4;
		uint32		bits = (uint32) b[0] | ((uint32) b[1] << 8) |
			((uint32) b[2] << 16) | ((uint32) b[3] << 24);
		float4		f;

		memcpy(&f, &bits, sizeof(f));
		if (isnan(f) || isinf(f))
		{
			*errmsg = psprintf("%s: embedding %d holds an out-of-range value at position %d",
							   label, index, i);
			return false;
		}
		v[i] = f;
	}
	pfree(raw);
	*vec = v;
	*ndims = n / 4;
	return true;
}

static bool
openai_read_embed(const AigJson *root, const char *label, void *arg,
				  char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	const AigJson *data;
	int			n;
	char	   *where = psprintf("%s response", label);

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = psprintf("%s response is not a JSON object", label);
		return false;
	}
	data = aig_jget(root, "data");
	if (data == NULL)
	{
		*errmsg = psprintf("%s response has no data", label);
		return false;
	}
	if (!aig_jis(data, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s response: data is not an array", label);
		return false;
	}
	n = aig_jlength(data);
	if ((size_t) n > INT_MAX / sizeof(float4 *))
	{
		*errmsg = psprintf("%s response: too many embeddings", label);
		return false;
	}
	aig_embed_result_init(out, n);

	for (int i = 0; i < n; i++)
	{
		const AigJson *item = aig_jelem(data, i);
		const AigJson *jidx;
		const AigJson *emb;
		int64		idx;
		bool		ok;

		if (!aig_jis(item, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("%s response: data[%d] is not an object",
							   label, i);
			return false;
		}
		jidx = aig_jget(item, "index");
		if (jidx == NULL)
			idx = (int64) i;
		else if (!aig_jint64(jidx, &idx))
		{
			*errmsg = psprintf("%s response: data[%d].index is not an integer",
							   label, i);
			return false;
		}
		if (idx < 0 || idx >= (int64) n)
		{
			*errmsg = psprintf("%s response: data[%d].index %lld is out of range",
							   label, i, (long long) idx);
			return false;
		}
		if (out->vectors[idx] != NULL)
		{
			*errmsg = psprintf("%s response: index %lld appears twice in data",
							   label, (long long) idx);
			return false;
		}
		emb = aig_jget(item, "embedding");
		if (aig_jis(emb, AIG_JSON_STRING))
			ok = openai_read_b64_vector(emb, &out->vectors[idx],
										&out->ndims[idx], where, (int) idx,
										errmsg);
		else
			ok = aig_read_vector(emb, &out->vectors[idx], &out->ndims[idx],
								 where, (int) idx, errmsg);
		if (!ok)
			return false;
	}
	out->input_tokens = aig_jtokens(aig_jget(root, "usage"), "prompt_tokens");
	return true;
}

bool
aig_openai_parse_embed_as(const char *label, const char *body, size_t len,
						  AigEmbedResult *out, char **errmsg)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	return aig_parse_body(body, len, openai_read_embed, label, out, errmsg);
}

/* error.code, or error.type when there is no code */
static bool
openai_error_is(const AigJson *root, const char *what)
{
	const AigJson *e = aig_jget(root, "error");

	return aig_jstring_eq(aig_jget(e, "code"), what) ||
		aig_jstring_eq(aig_jget(e, "type"), what);
}

static void
openai_refine_error(const AigJson *root, long http_status,
					AigUpstreamError *out)
{
	if (openai_error_is(root, "insufficient_quota"))
	{
		/* out of credit: waiting does not help, failing over may */
		out->retryable = false;
	}
	else if (openai_error_is(root, "context_length_exceeded"))
	{
		out->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		out->retryable = false;
	}
	else if (http_status == 400 &&
			 (openai_error_is(root, "content_filter") ||
			  aig_jstring_eq(aig_jget(aig_jget(aig_jget(root, "error"), "inner_error"), "code"),
							 "ResponsibleAIPolicyViolation") ||
			  aig_jstring_eq(aig_jget(aig_jget(aig_jget(root, "error"), "innererror"), "code"),
							 "ResponsibleAIPolicyViolation")))
	{
		/* Azure's content filter refused the prompt: an answer about the request */
		out->sqlerrcode = AIG_ERRCODE_MODEL_REFUSED;
		out->retryable = false;
	}
}

void
aig_openai_parse_error(long http_status, const char *body, size_t len,
					   AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, openai_refine_error);
}

/* ---------------------------------------------------------------------
 * The two dialects
 * ---------------------------------------------------------------------
 */

static void
openai_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
}

static void
openai_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, "/chat/completions");
	openai_headers(p, out);
	aig_openai_chat_body(req, true, "max_completion_tokens", out);
}

static void
openai_compatible_build_chat(const AigProvider *p, const AigChatRequest *req,
							 AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, "/chat/completions");
	openai_headers(p, out);
	aig_openai_chat_body(req, true, "max_tokens", out);
}

static void
openai_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				   AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, "/embeddings");
	openai_headers(p, out);
	aig_openai_embed_body(req, true, p->dialect->embed_base64, out);
}

static bool
openai_parse_chat(const char *body, size_t len, AigChatResult *out,
				  char **errmsg)
{
	return aig_openai_parse_chat_as("openai", body, len, out, errmsg);
}

static bool
openai_parse_embed(const char *body, size_t len, AigEmbedResult *out,
				   char **errmsg)
{
	return aig_openai_parse_embed_as("openai", body, len, out, errmsg);
}

static bool
openai_compatible_parse_chat(const char *body, size_t len, AigChatResult *out,
							 char **errmsg)
{
	return aig_openai_parse_chat_as("openai-compatible", body, len, out,
									errmsg);
}

static bool
openai_compatible_parse_embed(const char *body, size_t len,
							  AigEmbedResult *out, char **errmsg)
{
	return aig_openai_parse_embed_as("openai-compatible", body, len, out,
									 errmsg);
}

/* OpenAI's document: at most 4 stop sequences; an empty embedding input fails the request */
static const AigOptionLimits openai_limits = {
	.max_stop = 4,
	.embed_no_empty = true,
};

const AigDialect aig_dialect_openai = {
	.kind = "openai",
	.default_base_url = "https://api.openai.com/v1",
	.max_embed_batch = 2048,
	.limits = &openai_limits,
	/* tools, images (bytes or URL), PDFs as file parts, json_schema; 20 MB an image */
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_DOCUMENTS | AIG_CAP_JSON_SCHEMA,
	.max_image_kb = 20 * 1024,
	.embed_base64 = true,
	.build_chat = openai_build_chat,
	.parse_chat = openai_parse_chat,
	.build_embed = openai_build_embed,
	.parse_embed = openai_parse_embed,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_openai_compatible = {
	.kind = "openai_compatible",
	.default_base_url = "https://api.openai.com/v1",	/* DESIGN.md: as openai */
	.max_embed_batch = 2048,
	/* what servers modelled on Chat Completions take; file parts are OpenAI's own */
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_JSON_SCHEMA,
	.build_chat = openai_compatible_build_chat,
	.parse_chat = openai_compatible_parse_chat,
	.build_embed = openai_build_embed,
	.parse_embed = openai_compatible_parse_embed,
	.parse_error = aig_openai_parse_error,
};
