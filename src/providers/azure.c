/*
 * azure.c — the Azure OpenAI dialect (aig_dialect_azure_openai).
 *
 *	chat:		POST {base}/openai/deployments/{model}/chat/completions
 *					?api-version={api_version|2024-10-21}
 *	embeddings: POST {base}/openai/deployments/{model}/embeddings?api-version=…
 *	auth:		api-key: <key>
 *
 * The model name is the deployment name.  Bodies, responses and errors are
 * OpenAI's (the shared code in openai.c); the body carries no "model" and
 * uses max_tokens.  There is no default base URL (the default is "", and a
 * request without a base_url is refused): every Azure resource has its own
 * (https://<resource>.openai.azure.com).
 *
 * Tools and images as OpenAI's (openai_tools.c); the 2024-10-21 document has
 * no file (PDF) parts, so azure_openai lacks AIG_CAP_DOCUMENTS.
 */
#include "postgres.h"

#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

#define AZURE_DEFAULT_API_VERSION "2024-10-21"

static char *
azure_url(const AigProvider *p, const char *model, const char *op)
{
	if (p->base_url == NULL || p->base_url[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider \"%s\" of kind azure_openai has no base_url",
						p->name ? p->name : ""),
				 errhint("Set options.resource, or base_url to the resource endpoint (https://<resource>.openai.azure.com).")));
	return aig_url(p, psprintf("/openai/deployments/%s/%s?api-version=%s",
							   aig_url_escape(model ? model : ""), op,
							   aig_url_escape(p->api_version ? p->api_version :
											  AZURE_DEFAULT_API_VERSION)));
}

static void
azure_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "api-key", NULL, p->api_key);
}

static void
azure_build_chat(const AigProvider *p, const AigChatRequest *req,
				 AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = azure_url(p, req->model, "chat/completions");
	azure_headers(p, out);
	aig_openai_chat_body(req, false, "max_tokens", out);
}

static void
azure_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				  AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = azure_url(p, req->model, "embeddings");
	azure_headers(p, out);
	aig_openai_embed_body(req, false, p->dialect->embed_base64, out);
}

static bool
azure_parse_chat(const char *body, size_t len, AigChatResult *out,
				 char **errmsg)
{
	return aig_openai_parse_chat_as("azure openai", body, len, out, errmsg);
}

static bool
azure_parse_embed(const char *body, size_t len, AigEmbedResult *out,
				  char **errmsg)
{
	return aig_openai_parse_embed_as("azure openai", body, len, out, errmsg);
}

/* Azure OpenAI's document (2024-10-21): as OpenAI's */
static const AigOptionLimits azure_limits = {
	.max_stop = 4,
	.embed_no_empty = true,
};

const AigDialect aig_dialect_azure_openai = {
	.kind = "azure_openai",
	.default_base_url = "",		/* none: each resource has its own */
	.max_embed_batch = 2048,
	.limits = &azure_limits,
	/* the 2024-10-21 document has image_url parts but no file parts */
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS |
	AIG_CAP_JSON_SCHEMA,
	.max_image_kb = 20 * 1024,
	.embed_base64 = true,
	.build_chat = azure_build_chat,
	.parse_chat = azure_parse_chat,
	.build_embed = azure_build_embed,
	.parse_embed = azure_parse_embed,
	.parse_error = aig_openai_parse_error,
};
