/*
 * bedrock.h — what the AWS Bedrock dialect's files share (bedrock.c: the
 * Converse chat API and the dialect; bedrock_embed.c: InvokeModel
 * embeddings and errors; bedrock_auth.c: credentials, region and signing),
 * and what the catalog needs of it (the region, the default base URL, the
 * secrets inside the key document).
 */
#ifndef AIG_BEDROCK_H
#define AIG_BEDROCK_H

#include "postgres.h"

#include "providers/provider.h"
#include "providers/sigv4.h"

/* What a bedrock provider's api_key holds. */
typedef struct AigBedrockKey
{
	char	   *bearer;			/* a Bedrock API key (sent as Bearer), or NULL */
	AigSigV4Credentials cred;	/* else the AWS credentials (SigV4) */
} AigBedrockKey;

/*
 * Read an api_key: a JSON document {"access_key_id", "secret_access_key",
 * "session_token"?} or a Bedrock API key.  false with *problem (names no
 * key material) when it is a malformed document.
 */
extern bool aig_bedrock_parse_key(const char *api_key, AigBedrockKey *out,
								  char **problem);

/* Append the key document's secret access key and session token to p->secrets. */
extern void aig_bedrock_add_secrets(AigProvider *p);

/* The region a Bedrock endpoint URL names, or NULL (palloc'd). */
extern char *aig_bedrock_region_of_url(const char *url);

/* https://bedrock-runtime.<region>.amazonaws.com (palloc'd). */
extern char *aig_bedrock_default_base_url(const char *region);

/* Add the auth headers to a built request: SigV4 (service "bedrock") or Bearer. */
extern void aig_bedrock_authorize(const AigProvider *p, AigHttpRequest *out);

/* bedrock_embed.c */
extern void aig_bedrock_build_embed(const AigProvider *p, const AigEmbedRequest *req,
									AigHttpRequest *out);
extern bool aig_bedrock_parse_embed(const char *body, size_t len,
									AigEmbedResult *out, char **errmsg);
extern void aig_bedrock_parse_error(long http_status, const char *body, size_t len,
									AigUpstreamError *out);

#endif							/* AIG_BEDROCK_H */
