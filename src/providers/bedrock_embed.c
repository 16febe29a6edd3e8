/*
 * bedrock_embed.c — the AWS Bedrock dialect's embeddings (InvokeModel) and
 * error bodies (see bedrock.c for the dialect).
 *
 *	POST {base}/model/{modelId}/invoke, the body in the model's own format,
 *	chosen by the model id:
 *	  cohere.embed-*	{"texts": [...], "input_type": ...} -> {"embeddings": [[...]]}
 *	  anything else		Titan Text Embeddings: {"inputText", "dimensions"?}
 *						-> {"embedding": [...], "inputTextTokenCount"}
 *	Titan takes one text per request: the dialect's max_embed_batch is 1.
 *
 * Errors are {"message": "..."} with the exception's name in the
 * x-amzn-ErrorType header, which dialects do not see: the HTTP status
 * classifies them (ThrottlingException 429 and ModelNotReadyException 429
 * retryable, ValidationException 400, AccessDeniedException 403,
 * ResourceNotFoundException 404, ModelTimeoutException 408,
 * ModelErrorException 424 retryable, ServiceUnavailableException 503), and
 * a "__type" in the body, when an endpoint sends one, refines it.
 */
#include "postgres.h"

#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/bedrock.h"
#include "providers/dialect_util.h"

#define BEDROCK_COHERE_DEFAULT_INPUT_TYPE "search_document"

static bool
is_cohere(const char *model)
{
	/* "cohere.embed-..." or a cross-region profile "us.cohere.embed-..." */
	return strncmp(model, "cohere.embed", 12) == 0 || strstr(model, ".cohere.embed") != NULL;
}

void
aig_bedrock_build_embed(const AigProvider *p, const AigEmbedRequest *req,
						AigHttpRequest *out)
{
	AigJsonWriter w;

	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/model/%s/invoke", aig_url_escape(req->model)));
	aig_http_add_common_headers(p, out);

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	if (is_cohere(req->model))
	{
		aig_jw_kstring_array(&w, "texts", req->ninputs, req->inputs);
		aig_jw_kstring(&w, "input_type", req->input_type ? req->input_type :
					   BEDROCK_COHERE_DEFAULT_INPUT_TYPE);
		if (req->dimensions > 0)
			aig_jw_kint(&w, "output_dimension", req->dimensions);
	}
	else
	{
		if (req->ninputs != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bedrock model \"%s\" embeds one text per request", req->model),
					 errhint("Remove options.max_embed_batch from provider \"%s\" (Titan takes one input per request).",
							 p->name)));
		aig_jw_kstring(&w, "inputText", req->inputs[0]);
		if (req->dimensions > 0)
			aig_jw_kint(&w, "dimensions", req->dimensions);
	}
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);

	aig_bedrock_authorize(p, out);
}

static bool
bedrock_read_embed(const AigJson *root, const char *label, void *arg,
				   char **errmsg)
{
	AigEmbedResult *out = (AigEmbedResult *) arg;
	const AigJson *one = aig_jget(root, "embedding");
	const AigJson *many = aig_jget(root, "embeddings");

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("bedrock response is not a JSON object");
		return false;
	}
	if (one != NULL)
	{
		aig_embed_result_init(out, 1);
		if (!aig_read_vector(one, &out->vectors[0], &out->ndims[0],
							 "bedrock response", 0, errmsg))
			return false;
		out->input_tokens = aig_jtokens(root, "inputTextTokenCount");
		return true;
	}
	/* cohere: [[...]], or {"float": [[...]]} when embedding types were asked */
	if (aig_jis(many, AIG_JSON_OBJECT))
		many = aig_jget(many, "float");
	if (many == NULL)
	{
		char	   *msg = aig_jstr(root, "message");

		*errmsg = msg ?
			psprintf("bedrock response has no embedding: %s",
					 aig_body_excerpt(msg, strlen(msg), 500)) :
			pstrdup("bedrock response has no embedding");
		return false;
	}
	return aig_read_vector_list(many, out, "bedrock response", errmsg);
}

bool
aig_bedrock_parse_embed(const char *body, size_t len, AigEmbedResult *out,
						char **errmsg)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	return aig_parse_body(body, len, bedrock_read_embed, "bedrock", out, errmsg);
}

/* Refine a classification from an exception name ("...#ThrottlingException"). */
static void
classify_type(const char *type, AigUpstreamError *out)
{
	const char *name = strrchr(type, '#');

	name = name ? name + 1 : type;
	if (strncmp(name, "ThrottlingException", 19) == 0 ||
		strncmp(name, "ModelNotReadyException", 22) == 0)
	{
		out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		out->retryable = true;
	}
	else if (strncmp(name, "ServiceQuotaExceededException", 29) == 0)
	{
		out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
		out->retryable = false;
	}
	else if (strncmp(name, "AccessDeniedException", 21) == 0 ||
			 strncmp(name, "UnrecognizedClientException", 27) == 0 ||
			 strncmp(name, "InvalidSignatureException", 25) == 0 ||
			 strncmp(name, "ExpiredTokenException", 21) == 0)
	{
		out->sqlerrcode = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		out->retryable = false;
	}
	else if (strncmp(name, "ValidationException", 19) == 0)
	{
		out->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		out->retryable = false;
	}
	else if (strncmp(name, "ResourceNotFoundException", 25) == 0)
	{
		out->sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		out->retryable = false;
	}
}

static void
bedrock_refine_error(const AigJson *root, long http_status,
					 AigUpstreamError *out)
{
	char	   *type = aig_jstr(root, "__type");

	if (out->message == NULL)
	{
		char	   *msg = aig_jstr(root, "Message");

		if (msg != NULL)
			out->message = aig_body_excerpt(msg, strlen(msg), 1000);
	}
	if (type != NULL && type[0] != '\0')
	{
		out->type = aig_body_excerpt(type, strlen(type), 200);
		classify_type(type, out);
	}
}

void
aig_bedrock_parse_error(long http_status, const char *body, size_t len,
						AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, bedrock_refine_error);
	/* ModelErrorException: the model failed on this request; it may not again */
	if (http_status == 424 && out->type == NULL)
	{
		out->sqlerrcode = ERRCODE_SYSTEM_ERROR;
		out->retryable = true;
	}
}
