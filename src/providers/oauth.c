/*
 * oauth.c — the access-token requests of providers reached with OAuth
 * tokens, and the reading of the token endpoints' answers.  No I/O: the
 * token cache (core/token_cache.c) sends the request and keeps the token.
 *
 *	vertex_ai (AIG_AUTH_GOOGLE_SA): api_key holds a service-account JSON key
 *	  (client_email, private_key PEM, token_uri, project_id).  A JWT signed
 *	  RS256 with the private key ({"alg":"RS256","typ":"JWT"}; iss
 *	  client_email, scope cloud-platform, aud token_uri, iat, exp iat+3600)
 *	  is POSTed to token_uri as grant_type=urn:ietf:params:oauth:grant-type:
 *	  jwt-bearer&assertion=<JWT> (RFC 7523).
 *	azure_openai with options.auth entra_id (AIG_AUTH_ENTRA): api_key holds
 *	  the client secret; POST grant_type=client_credentials, client_id,
 *	  client_secret, scope=https://cognitiveservices.azure.com/.default to
 *	  the tenant's token endpoint (p->token_url).
 * The answer is {"access_token", "expires_in", "token_type"} (RFC 6749
 * 5.1), an error {"error", "error_description"} (5.2).
 */
#include "postgres.h"

#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/stringinfo.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"
#include "transport/json.h"
#include "transport/json_body.h"

#define GOOGLE_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define ENTRA_SCOPE "https://cognitiveservices.azure.com/.default"
#define JWT_LIFETIME_S 3600

/* base64url (RFC 4648 section 5) of len bytes, without padding. */
static char *
b64url(const unsigned char *data, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < len; i += 3)
	{
		uint32		v = (uint32) data[i] << 16;
		size_t		n = Min(len - i, 3);

		if (n > 1)
			v |= (uint32) data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		appendStringInfoChar(&buf, tab[(v >> 18) & 63]);
		appendStringInfoChar(&buf, tab[(v >> 12) & 63]);
		if (n > 1)
			appendStringInfoChar(&buf, tab[(v >> 6) & 63]);
		if (n > 2)
			appendStringInfoChar(&buf, tab[v & 63]);
	}
	return buf.data;
}

/* RS256 signature of data with PEM private key pem, base64url; NULL + *why. */
static char *
rs256_sign(const char *pem, const char *data, char **why)
{
	BIO		   *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY   *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *sig = NULL;
	size_t		siglen = 0;
	char	   *out = NULL;

	if (key == NULL)
		*why = pstrdup("its private_key is not a PEM private key");
	else if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
		*why = pstrdup("its private_key is not an RSA key");
	else if ((ctx = EVP_MD_CTX_new()) == NULL ||
			 EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
			 EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *) data,
							strlen(data)) != 1 ||
			 (sig = OPENSSL_malloc(siglen)) == NULL ||
			 EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) data,
							strlen(data)) != 1)
		*why = pstrdup("signing with its private_key failed");
	else
		out = b64url(sig, siglen);
	OPENSSL_free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return out;
}

/* A form value, percent-encoded (application/x-www-form-urlencoded). */
static void
append_form(StringInfo buf, const char *name, const char *value)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	appendStringInfo(buf, "%s=%s", name, aig_url_escape(value));
}

/* The service-account key's JWT bearer grant request. */
static bool
google_request(const AigProvider *p, AigHttpRequest *out, char **scrub, char **errmsg)
{
	AigJsonDoc *doc;
	char	   *why = NULL;
	char	   *email,
			   *pem,
			   *uri;
	AigJsonWriter w;
	char	   *signing;
	char	   *sig;
	StringInfoData form;
	int64		now = (int64) time(NULL);

	doc = aig_json_parse(p->api_key, strlen(p->api_key), &why);
	if (doc == NULL || !aig_jis(doc->root, AIG_JSON_OBJECT))
	{
		aig_json_free(doc);
		*errmsg = pstrdup("its api_key is not a service-account key (a JSON object)");
		return false;
	}
	email = aig_jstr(doc->root, "client_email");
	pem = aig_jstr(doc->root, "private_key");
	uri = aig_jstr(doc->root, "token_uri");
	aig_json_free(doc);
	if (email == NULL || pem == NULL || uri == NULL)
	{
		*errmsg = psprintf("its service-account key lacks %s",
						   email == NULL ? "client_email" :
						   pem == NULL ? "private_key" : "token_uri");
		return false;
	}
	if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
	{
		*errmsg = pstrdup("the token_uri of its service-account key is not an http(s) URL");
		return false;
	}

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "iss", email);
	aig_jw_kstring(&w, "scope", GOOGLE_SCOPE);
	aig_jw_kstring(&w, "aud", uri);
	aig_jw_key(&w, "iat");
	aig_jw_raw(&w, psprintf(INT64_FORMAT, now));
	aig_jw_key(&w, "exp");
	aig_jw_raw(&w, psprintf(INT64_FORMAT, now + JWT_LIFETIME_S));
	aig_jw_object_end(&w);
	{
		const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
		AigHttpRequest tmp;

		aig_http_request_init(&tmp);
		aig_jw_body(&w, &tmp);
		signing = psprintf("%s.%s",
						   b64url((const unsigned char *) header, strlen(header)),
						   b64url((const unsigned char *) tmp.body, tmp.body_len));
	}
	sig = rs256_sign(pem, signing, &why);
	explicit_bzero(pem, strlen(pem));
	if (sig == NULL)
	{
		*errmsg = why;
		return false;
	}
	*scrub = psprintf("%s.%s", signing, sig);

	initStringInfo(&form);
	append_form(&form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
	append_form(&form, "assertion", *scrub);
	out->url = uri;
	out->body = form.data;
	out->body_len = form.len;
	return true;
}

/* The client credentials grant request of an Entra ID application. */
static bool
entra_request(const AigProvider *p, AigHttpRequest *out, char **errmsg)
{
	StringInfoData form;

	if (p->token_url == NULL || p->client_id == NULL)
	{
		*errmsg = pstrdup("options.tenant_id and options.client_id are needed with auth entra_id");
		return false;
	}
	initStringInfo(&form);
	append_form(&form, "grant_type", "client_credentials");
	append_form(&form, "client_id", p->client_id);
	append_form(&form, "client_secret", p->api_key);
	append_form(&form, "scope", ENTRA_SCOPE);
	out->url = p->token_url;
	out->body = form.data;
	out->body_len = form.len;
	return true;
}

bool
aig_oauth_token_request(const AigProvider *p, AigHttpRequest *out, char **scrub,
						char **errmsg)
{
	bool		ok;

	*scrub = NULL;
	aig_http_request_init(out);
	if (p->api_key == NULL)
	{
		*errmsg = pstrdup(p->auth == AIG_AUTH_GOOGLE_SA ?
						  "it has no api_key (a service-account JSON key is needed)" :
						  "it has no api_key (the application's client secret is needed)");
		return false;
	}
	if (p->auth == AIG_AUTH_GOOGLE_SA)
		ok = google_request(p, out, scrub, errmsg);
	else if (p->auth == AIG_AUTH_ENTRA)
		ok = entra_request(p, out, errmsg);
	else
	{
		*errmsg = pstrdup("it does not use access tokens");
		ok = false;
	}
	if (ok)
	{
		aig_http_add_header_line(out, "Content-Type: application/x-www-form-urlencoded");
		aig_http_add_header_line(out, "Accept: application/json");
	}
	return ok;
}

bool
aig_oauth_parse_token(const char *body, size_t len, char **token, int64 *expires_in,
					  char **errmsg)
{
	char	   *why = NULL;
	AigJsonDoc *doc = aig_json_parse(body, len, &why);
	const AigJson *exp;
	char	   *type;
	bool		ok = false;

	*token = NULL;
	*expires_in = -1;
	if (doc == NULL || !aig_jis(doc->root, AIG_JSON_OBJECT))
		*errmsg = pstrdup("the token endpoint's answer is not a JSON object");
	else if ((*token = aig_jstr(doc->root, "access_token")) == NULL || (*token)[0] == '\0')
		*errmsg = pstrdup("the token endpoint's answer has no access_token");
	else if (strspn(*token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789-._~+/=") != strlen(*token))
		*errmsg = pstrdup("the token endpoint's access_token is not a bearer token");
	else if ((type = aig_jstr(doc->root, "token_type")) != NULL &&
			 pg_strcasecmp(type, "bearer") != 0)
		*errmsg = pstrdup("the token endpoint's token_type is not Bearer");
	else
	{
		exp = aig_jget(doc->root, "expires_in");
		/* a number, or (Entra v1) a string of digits */
		if (aig_jis(exp, AIG_JSON_STRING))
		{
			char	   *s = aig_jstring(exp, NULL);

			if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10)
				*expires_in = atoi(s);
		}
		else if (!aig_jint64(exp, expires_in))
			*expires_in = -1;
		if (*expires_in <= 0)
			*errmsg = pstrdup("the token endpoint's expires_in is missing or not a positive integer");
		else
			ok = true;
	}
	aig_json_free(doc);
	if (!ok)
		*token = NULL;
	return ok;
}

void
aig_oauth_parse_error(long http_status, const char *body, size_t len, char **errmsg)
{
	char	   *why = NULL;
	AigJsonDoc *doc = aig_json_parse(body, len, &why);
	char	   *code = doc ? aig_jstr(doc->root, "error") : NULL;
	char	   *desc = doc ? aig_jstr(doc->root, "error_description") : NULL;

	if (code == NULL && doc != NULL)
	{
		/* Google's APIs envelope: {"error": {"message": ...}} */
		const AigJson *e = aig_jget(doc->root, "error");

		desc = aig_jstr(e, "message");
	}
	aig_json_free(doc);
	*errmsg = psprintf("HTTP %ld%s%s%s%s", http_status,
					   code ? ": " : "", code ? aig_body_excerpt(code, strlen(code), 100) : "",
					   desc ? ": " : "", desc ? aig_body_excerpt(desc, strlen(desc), 300) : "");
	if (code == NULL && desc == NULL && body != NULL && len > 0)
		*errmsg = psprintf("%s: %s", *errmsg, aig_body_excerpt(body, len, 200));
}
