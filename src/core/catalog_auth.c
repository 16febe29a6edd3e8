/*
 * catalog_auth.c — the provider options of OAuth-token auth, and what a
 * provider's sealed secrets are bound to.
 *
 *	vertex_ai:		location (default us-central1; the default base URL is
 *					https://{location}-aiplatform.googleapis.com), project_id
 *					(default: the service-account key's)
 *	azure_openai:	auth "api_key" (default) | "entra_id"; with entra_id
 *					tenant_id and client_id (required), token_url (default
 *					https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token)
 *
 * The token endpoint receives the client secret, so with entra_id the
 * secret is sealed bound to the token URL as well as to the base URL
 * origin (aig_provider_secret_binding): an admin who changes tenant_id,
 * token_url or auth must write the secret again, and a secret sealed for
 * one token URL does not open for another.
 */
#include "postgres.h"

#include "utils/jsonb.h"

#include "core/catalog_options.h"
#include "core/jsonb_util.h"

#define ENTRA_TOKEN_URL "https://login.microsoftonline.com/%s/oauth2/v2.0/token"

/* Is every byte of s in chars (and s not empty)? */
static bool
only(const char *s, const char *chars)
{
	return s[0] != '\0' && strspn(s, chars) == strlen(s);
}

static void
bad_option(const AigProvider *p, const char *key, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("options.%s of provider \"%s\" %s", key, p->name ? p->name : "", why),
			 hint ? errhint("%s", hint) : 0));
}

/* An option that belongs to one kind only (NULL when absent). */
static char *
kind_option(const AigProvider *p, Jsonb *opts, const char *key, const char *kind)
{
	char	   *v = opts ? aig_jsonb_get_string(opts, key, "provider option") : NULL;

	if (v != NULL && strcmp(p->kind, kind) != 0)
		bad_option(p, key, psprintf("applies to %s providers only", kind), NULL);
	return v;
}

void
aig_provider_apply_auth_options(AigProvider *p, Jsonb *opts)
{
	char	   *auth = kind_option(p, opts, "auth", "azure_openai");
	char	   *tenant = kind_option(p, opts, "tenant_id", "azure_openai");
	char	   *client = kind_option(p, opts, "client_id", "azure_openai");
	char	   *url = kind_option(p, opts, "token_url", "azure_openai");

	p->location = kind_option(p, opts, "location", "vertex_ai");
	p->project_id = kind_option(p, opts, "project_id", "vertex_ai");
	if (p->location != NULL && !only(p->location, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		bad_option(p, "location", "is not a Google Cloud location",
				   "Use a location name such as us-central1 or europe-west4.");
	if (p->project_id != NULL &&
		!only(p->project_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:"))
		bad_option(p, "project_id", "is not a Google Cloud project id", NULL);
	p->auth = strcmp(p->kind, "vertex_ai") == 0 ? AIG_AUTH_GOOGLE_SA : AIG_AUTH_KEY;

	if (auth != NULL && strcmp(auth, "entra_id") == 0)
		p->auth = AIG_AUTH_ENTRA;
	else if (auth != NULL && strcmp(auth, "api_key") != 0)
		bad_option(p, "auth", "must be \"api_key\" or \"entra_id\"", NULL);
	if (p->auth != AIG_AUTH_ENTRA)
	{
		if (tenant || client || url)
			bad_option(p, tenant ? "tenant_id" : client ? "client_id" : "token_url",
					   "applies with auth \"entra_id\" only", "Set options.auth to \"entra_id\".");
		return;
	}
	if (tenant == NULL || client == NULL)
		bad_option(p, tenant == NULL ? "tenant_id" : "client_id", "is needed with auth \"entra_id\"",
				   "Give the directory (tenant) id and the application (client) id; the client secret goes in api_key.");
	if (!only(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."))
		bad_option(p, "tenant_id", "is not a tenant id or domain", NULL);
	if (!only(client, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"))
		bad_option(p, "client_id", "is not an application (client) id", NULL);
	if (url != NULL)
	{
		bool		ctl = false;

		for (const char *c = url; *c; c++)
			ctl |= (unsigned char) *c <= ' ' || *c == 0x7f;
		if (ctl || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
			bad_option(p, "token_url", "is not an http(s) URL", NULL);
	}
	p->tenant_id = tenant;
	p->client_id = client;
	p->token_url = url ? url : psprintf(ENTRA_TOKEN_URL, tenant);
}

/* The default base URL of kinds whose default depends on options, or NULL. */
char *
aig_provider_auth_base_url(const AigProvider *p, Jsonb *opts)
{
	char	   *loc;

	if (strcmp(p->kind, "vertex_ai") != 0)
		return NULL;
	loc = opts ? aig_jsonb_get_string(opts, "location", "provider option") : NULL;
	if (loc == NULL || !only(loc, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		return NULL;			/* the dialect's; a bad one is reported above */
	return psprintf("https://%s-aiplatform.googleapis.com", loc);
}

/*
 * What p's sealed secrets are bound to besides its name and kind: the base
 * URL origin, and with entra_id the token URL the secret is sent to.
 */
char *
aig_provider_secret_binding(const AigProvider *p, const char *origin)
{
	if (p->auth == AIG_AUTH_ENTRA && p->token_url != NULL)
		return psprintf("%s token %s", origin, p->token_url);
	return pstrdup(origin);
}
