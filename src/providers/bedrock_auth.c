/*
 * bedrock_auth.c — the AWS Bedrock dialect's credentials and endpoint:
 *
 *	- the api_key holds either a JSON document of AWS credentials
 *	  {"access_key_id", "secret_access_key", "session_token"?} (the request
 *	  is then signed with SigV4, service "bedrock", the provider's region)
 *	  or a Bedrock API key (sent as "Authorization: Bearer <key>", as AWS
 *	  documents for Bedrock API keys);
 *	- the secret access key and session token are added to the provider's
 *	  secrets, so they are scrubbed from provider text like the key itself;
 *	- the region a bedrock-runtime URL names, and the default base URL.
 */
#include "postgres.h"

#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/bedrock.h"
#include "providers/dialect_util.h"

/* The string member key of a credentials document, or NULL (problem set). */
static char *
key_member(const AigJson *root, const char *key, bool required, char **problem)
{
	const AigJson *v = aig_jget(root, key);
	char	   *s;

	if (v == NULL || aig_jis(v, AIG_JSON_NULL))
	{
		if (required)
			*problem = psprintf("its api_key document has no \"%s\"", key);
		return NULL;
	}
	s = aig_jstring(v, NULL);
	if (s == NULL || s[0] == '\0' || strpbrk(s, "\r\n") != NULL)
	{
		*problem = psprintf("its api_key document's \"%s\" is not a non-empty string", key);
		return NULL;
	}
	return s;
}

bool
aig_bedrock_parse_key(const char *api_key, AigBedrockKey *out, char **problem)
{
	const char *p = api_key;
	AigJsonDoc *doc;
	char	   *err = NULL;

	memset(out, 0, sizeof(*out));
	*problem = NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '{')
	{
		out->bearer = pstrdup(api_key);
		return true;
	}
	doc = aig_json_parse(p, strlen(p), &err);
	if (doc == NULL || !aig_jis(doc->root, AIG_JSON_OBJECT))
	{
		/* json-c's message could quote the document: say nothing of it */
		aig_json_free(doc);
		*problem = pstrdup("its api_key starts with \"{\" but is not a JSON object of AWS credentials");
		return false;
	}
	out->cred.access_key_id = key_member(doc->root, "access_key_id", true, problem);
	if (*problem == NULL)
		out->cred.secret_access_key = key_member(doc->root, "secret_access_key", true, problem);
	if (*problem == NULL)
		out->cred.session_token = key_member(doc->root, "session_token", false, problem);
	aig_json_free(doc);
	if (*problem != NULL)
	{
		*problem = psprintf("%s; give {\"access_key_id\": ..., \"secret_access_key\": ..., \"session_token\": ...} (the token only for temporary credentials) or a Bedrock API key",
							*problem);
		return false;
	}
	return true;
}

void
aig_bedrock_add_secrets(AigProvider *p)
{
	AigBedrockKey key;
	char	   *problem;
	int			n = p->nsecrets;

	if (!aig_bedrock_parse_key(p->api_key, &key, &problem))
	{
		if (p->key_problem == NULL)
			p->key_problem = problem;
		return;
	}
	if (key.bearer != NULL)
		return;
	p->secrets = repalloc(p->secrets, sizeof(char *) * (n + 2));
	p->secrets[p->nsecrets++] = pstrdup(key.cred.secret_access_key);
	if (key.cred.session_token != NULL)
		p->secrets[p->nsecrets++] = pstrdup(key.cred.session_token);
}

char *
aig_bedrock_region_of_url(const char *url)
{
	const char *host;
	const char *end;
	const char *dot;
	size_t		n;
	static const char *const prefixes[] = {"bedrock-runtime.", "bedrock-runtime-fips.", NULL};

	host = strstr(url, "://");
	if (host == NULL)
		return NULL;
	host += 3;
	end = host + strcspn(host, "/:?#");
	for (int i = 0; prefixes[i] != NULL; i++)
	{
		n = strlen(prefixes[i]);
		if ((size_t) (end - host) > n && pg_strncasecmp(host, prefixes[i], n) == 0)
		{
			const char *r = host + n;

			dot = memchr(r, '.', end - r);
			if (dot == NULL || dot == r || pg_strncasecmp(dot, ".amazonaws.com", 14) != 0)
				return NULL;
			return pnstrdup(r, dot - r);
		}
	}
	return NULL;
}

char *
aig_bedrock_default_base_url(const char *region)
{
	return psprintf("https://bedrock-runtime.%s.amazonaws.com", region);
}

void
aig_bedrock_authorize(const AigProvider *p, AigHttpRequest *out)
{
	AigBedrockKey key;
	char	   *problem;
	char		when[AIG_AMZ_DATE_LEN];
	const char *err;

	if (p->api_key == NULL)
		return;					/* AWS answers 403: missing authentication */
	if (!aig_bedrock_parse_key(p->api_key, &key, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("provider \"%s\": %s", p->name, problem)));
	if (key.bearer != NULL)
	{
		aig_add_header_value(out, "Authorization", "Bearer ", key.bearer);
		return;
	}
	aig_sigv4_now(when);
	err = aig_sigv4_sign(out, "POST", &key.cred, p->region ? p->region : "us-east-1",
						 "bedrock", when, false, NULL);
	if (err != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot sign the request to provider \"%s\": %s", p->name, err)));
}
