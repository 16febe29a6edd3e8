/*
 * vertex.c — Google Vertex AI's Gemini models (aig_dialect_vertex_ai).
 *
 *	chat:		POST {base}/v1/projects/{project}/locations/{location}
 *					/publishers/google/models/{model}:generateContent
 *	auth:		Authorization: Bearer <access token>
 *
 * Bodies, answers and errors are the Gemini API's: this dialect calls
 * aig_dialect_gemini's functions through its vtable and only moves the
 * request to Vertex's URL and its OAuth bearer token.  The token comes from
 * the service-account key in api_key (providers/oauth.c builds its request,
 * core/token_cache.c keeps it); the router puts it in p->access_token before
 * the request is built.  base defaults to https://{location}-aiplatform.
 * googleapis.com (core/catalog_options.c); location is options.location
 * (us-central1), project options.project_id or the key's project_id.
 * Embeddings (Vertex's :predict) are not offered.
 */
#include "postgres.h"

#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"
#include "transport/json.h"

#define VERTEX_DEFAULT_LOCATION "us-central1"

/* The project_id member of a service-account key (JSON text), or NULL. */
char *
aig_vertex_key_project(const char *key_json)
{
	AigJsonDoc *doc;
	char	   *why = NULL;
	char	   *project = NULL;

	if (key_json == NULL)
		return NULL;
	doc = aig_json_parse(key_json, strlen(key_json), &why);
	if (doc == NULL)
		return NULL;
	project = aig_jstr(doc->root, "project_id");
	aig_json_free(doc);
	return project;
}

/* The model's URL: {base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{op} */
static char *
vertex_url(const AigProvider *p, const char *model, const char *op)
{
	const char *project = p->project_id ? p->project_id : aig_vertex_key_project(p->api_key);

	if (project == NULL || project[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider \"%s\" of kind vertex_ai has no project",
						p->name ? p->name : ""),
				 errhint("Set options.project_id, or give a service-account key with its project_id in api_key.")));
	if (model == NULL)
		model = "";
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	return aig_url(p, psprintf("/v1/projects/%s/locations/%s/publishers/google/models/%s:%s",
							   aig_url_escape(project),
							   aig_url_escape(p->location ? p->location :
											  VERTEX_DEFAULT_LOCATION),
							   aig_url_escape(model), op));
}

static void
vertex_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	AigProvider copy = *p;

	/* Gemini's body and common headers, without its x-goog-api-key */
	copy.api_key = NULL;
	aig_dialect_gemini.build_chat(&copy, req, out);
	out->url = vertex_url(p, req->model, "generateContent");
	if (p->access_token != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->access_token);
}

static bool
vertex_parse_chat(const char *body, size_t len, AigChatResult *out, char **errmsg)
{
	return aig_dialect_gemini.parse_chat(body, len, out, errmsg);
}

static void
vertex_parse_error(long http_status, const char *body, size_t len, AigUpstreamError *out)
{
	aig_dialect_gemini.parse_error(http_status, body, len, out);
}

/* Vertex's generateContent takes what the Gemini API does */
static const AigOptionLimits vertex_limits = {
	.max_stop = 5,
};

const AigDialect aig_dialect_vertex_ai = {
	.kind = "vertex_ai",
	.default_base_url = "https://" VERTEX_DEFAULT_LOCATION "-aiplatform.googleapis.com",
	.max_embed_batch = 0,
	.limits = &vertex_limits,
	.build_chat = vertex_build_chat,
	.parse_chat = vertex_parse_chat,
	.build_embed = NULL,
	.parse_embed = NULL,
	.parse_error = vertex_parse_error,
};
