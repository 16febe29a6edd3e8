/*
 * sigv4.c — AWS Signature Version 4 over OpenSSL (see sigv4.h): canonical
 * request, string to sign, the derived signing key chain and the
 * Authorization header.  No I/O, no ereport: a request that cannot be
 * signed is reported to the caller.
 */
#include "postgres.h"

#include <ctype.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/stringinfo.h"

#include "providers/sigv4.h"

#define SHA256_LEN 32

/* One header to sign: lower-case name, canonical value. */
typedef struct SigHeader
{
	char	   *name;
	char	   *value;
} SigHeader;

static void
hex_encode(const unsigned char *in, int len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Lower-case hex SHA-256 of data (palloc'd), or NULL when OpenSSL fails. */
static char *
sha256_hex(const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char	   *out;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
		mdlen != SHA256_LEN)
		return NULL;
	out = palloc(2 * SHA256_LEN + 1);
	hex_encode(md, SHA256_LEN, out);
	return out;
}

static bool
hmac256(const unsigned char *key, size_t keylen, const char *data,
		unsigned char out[SHA256_LEN])
{
	unsigned int outlen = 0;

	return HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) data,
				strlen(data), out, &outlen) != NULL && outlen == SHA256_LEN;
}

/* RFC 3986 unreserved: A-Z a-z 0-9 - _ . ~ */
static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Append s[0..len) URI-encoded the AWS way (upper-case hex); '/' kept if asked. */
static void
uri_encode(StringInfo buf, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (unreserved(c) || (keep_slash && c == '/'))
			appendStringInfoChar(buf, (char) c);
		else
			appendStringInfo(buf, "%%%02X", c);
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s[0..len) with %XX sequences decoded (others kept), palloc'd; *outlen set. */
static char *
percent_decode(const char *s, size_t len, size_t *outlen)
{
	char	   *out = palloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%' && i + 2 < len &&
			hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			out[n++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

typedef struct QueryParam
{
	char	   *key;			/* encoded */
	char	   *value;			/* encoded */
} QueryParam;

static int
cmp_param(const void *a, const void *b)
{
	const QueryParam *x = a;
	const QueryParam *y = b;
	int			r = strcmp(x->key, y->key);

	return r != 0 ? r : strcmp(x->value, y->value);
}

/* The canonical query string of query[0..len): decoded, re-encoded, sorted. */
static char *
canonical_query(const char *query, size_t len)
{
	QueryParam *params;
	int			n = 0;
	StringInfoData buf;
	const char *p = query;
	const char *end = query + len;

	params = palloc(sizeof(QueryParam) * (len / 2 + 1));
	while (p < end)
	{
		const char *amp = memchr(p, '&', end - p);
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', stop - p);
		size_t		klen = (eq ? eq : stop) - p;
		size_t		dlen;
		char	   *d;
		StringInfoData k;
		StringInfoData v;

		if (stop > p)
		{
			initStringInfo(&k);
			initStringInfo(&v);
			d = percent_decode(p, klen, &dlen);
			uri_encode(&k, d, dlen, false);
			if (eq)
			{
				d = percent_decode(eq + 1, stop - eq - 1, &dlen);
				uri_encode(&v, d, dlen, false);
			}
			params[n].key = k.data;
			params[n].value = v.data;
			n++;
		}
		p = amp ? amp + 1 : end;
	}
	qsort(params, n, sizeof(QueryParam), cmp_param);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s=%s", i ? "&" : "", params[i].key,
						 params[i].value);
	return buf.data;
}

static int
cmp_header(const void *a, const void *b)
{
	return strcmp(((const SigHeader *) a)->name, ((const SigHeader *) b)->name);
}

/* Trimmed value, sequential spaces as one (palloc'd). */
static char *
canonical_value(const char *v)
{
	StringInfoData buf;
	bool		space = false;

	initStringInfo(&buf);
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
	{
		if (*v == ' ' || *v == '\t')
		{
			space = true;
			continue;
		}
		if (space && buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		space = false;
		appendStringInfoChar(&buf, *v);
	}
	return buf.data;
}

static bool
never_signed(const char *name)
{
	return strcmp(name, "authorization") == 0 || strcmp(name, "expect") == 0 ||
		strcmp(name, "user-agent") == 0 || strcmp(name, "x-amzn-trace-id") == 0;
}

static bool
add_line(AigHttpRequest *req, char *line)
{
	if (req->nheaders >= AIG_MAX_HEADERS)
		return false;
	req->headers[req->nheaders++] = line;
	return true;
}

/*
 * Split url into host (lower-case, default port dropped), path and query
 * (pointers into url for path/query).  false when it is not http(s)://...
 */
static bool
split_url(const char *url, char **host, const char **path, size_t *pathlen,
		  const char **query, size_t *querylen)
{
	const char *p;
	const char *auth;
	const char *auth_end;
	const char *at;
	const char *hash;
	bool		https;
	char	   *h;
	char	   *colon;

	if (pg_strncasecmp(url, "https://", 8) == 0)
	{
		https = true;
		auth = url + 8;
	}
	else if (pg_strncasecmp(url, "http://", 7) == 0)
	{
		https = false;
		auth = url + 7;
	}
	else
		return false;
	auth_end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', auth_end - auth);
	if (at != NULL)
		auth = at + 1;
	if (auth_end == auth)
		return false;
	h = pnstrdup(auth, auth_end - auth);
	for (char *c = h; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	colon = strrchr(h, ':');
	if (colon != NULL && strchr(colon, ']') == NULL &&
		((https && strcmp(colon, ":443") == 0) ||
		 (!https && strcmp(colon, ":80") == 0)))
		*colon = '\0';
	*host = h;

	p = auth_end;
	hash = strchr(p, '#');
	if (hash == NULL)
		hash = p + strlen(p);
	*path = p;
	*pathlen = strcspn(p, "?#");
	if (p[*pathlen] == '?')
	{
		*query = p + *pathlen + 1;
		*querylen = hash - *query;
	}
	else
	{
		*query = "";
		*querylen = 0;
	}
	return true;
}

void
aig_sigv4_now(char out[AIG_AMZ_DATE_LEN])
{
	time_t		now = time(NULL);
	struct tm	tm;

	gmtime_r(&now, &tm);
	strftime(out, AIG_AMZ_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

static bool
valid_amz_date(const char *d)
{
	if (d == NULL || strlen(d) != AIG_AMZ_DATE_LEN - 1 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char) d[i]))
			return false;
	return true;
}

const char *
aig_sigv4_sign(AigHttpRequest *req, const char *method,
			   const AigSigV4Credentials *cred, const char *region,
			   const char *service, const char *amz_date, bool content_sha256,
			   AigSigV4Trace *trace)
{
	char	   *host;
	const char *path;
	const char *query;
	size_t		pathlen;
	size_t		querylen;
	char	   *payload_hash;
	bool		have_host = false;
	SigHeader  *hs;
	int			nh = 0;
	StringInfoData creq;
	StringInfoData signed_headers;
	StringInfoData sts;
	StringInfoData scope;
	char		date[9];
	char	   *creq_hash;
	unsigned char k1[SHA256_LEN],
				k2[SHA256_LEN],
				k3[SHA256_LEN],
				k4[SHA256_LEN],
				sig[SHA256_LEN];
	char		sighex[2 * SHA256_LEN + 1];
	char	   *secret;

	if (req->url == NULL ||
		!split_url(req->url, &host, &path, &pathlen, &query, &querylen))
		return "the request URL is not an http(s) URL";
	if (!valid_amz_date(amz_date))
		return "the signing time is not of the form YYYYMMDDTHHMMSSZ";
	if (cred == NULL || cred->access_key_id == NULL || cred->secret_access_key == NULL ||
		region == NULL || service == NULL)
		return "incomplete AWS credentials";
	memcpy(date, amz_date, 8);
	date[8] = '\0';

	payload_hash = sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0);
	if (payload_hash == NULL)
		return "SHA-256 is not available";

	for (int i = 0; i < req->nheaders; i++)
		if (pg_strncasecmp(req->headers[i], "host:", 5) == 0)
			have_host = true;
	if (!have_host && !add_line(req, psprintf("Host: %s", host)))
		return "too many HTTP headers to sign the request";
	if (!add_line(req, psprintf("X-Amz-Date: %s", amz_date)))
		return "too many HTTP headers to sign the request";
	if (cred->session_token != NULL && cred->session_token[0] != '\0' &&
		!add_line(req, psprintf("X-Amz-Security-Token: %s", cred->session_token)))
		return "too many HTTP headers to sign the request";
	if (content_sha256 &&
		!add_line(req, psprintf("x-amz-content-sha256: %s", payload_hash)))
		return "too many HTTP headers to sign the request";

	/* the headers to sign, lower-cased and sorted; duplicates joined by ',' */
	hs = palloc(sizeof(SigHeader) * (req->nheaders + 1));
	for (int i = 0; i < req->nheaders; i++)
	{
		const char *line = req->headers[i];
		const char *colon = strchr(line, ':');
		char	   *name;
		char	   *value;

		if (colon == NULL)
			continue;
		name = pnstrdup(line, colon - line);
		for (char *c = name; *c; c++)
			*c = pg_tolower((unsigned char) *c);
		value = canonical_value(colon + 1);
		if (value[0] == '\0' || never_signed(name))
			continue;
		hs[nh].name = name;
		hs[nh].value = value;
		nh++;
	}
	/* stable merge of duplicates: sort by name, keeping the order of values */
	for (int i = 1; i < nh; i++)
		for (int j = i; j > 0 && cmp_header(&hs[j - 1], &hs[j]) > 0; j--)
		{
			SigHeader	t = hs[j];

			hs[j] = hs[j - 1];
			hs[j - 1] = t;
		}

	initStringInfo(&creq);
	appendStringInfo(&creq, "%s\n", method);
	if (pathlen == 0)
		appendStringInfoChar(&creq, '/');
	else
		uri_encode(&creq, path, pathlen, true);
	appendStringInfo(&creq, "\n%s\n", canonical_query(query, querylen));
	initStringInfo(&signed_headers);
	for (int i = 0; i < nh; i++)
	{
		if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0)
		{
			/* continuation of the previous header: ",value" */
			creq.len--;			/* drop its '\n' */
			creq.data[creq.len] = '\0';
			appendStringInfo(&creq, ",%s\n", hs[i].value);
			continue;
		}
		appendStringInfo(&creq, "%s:%s\n", hs[i].name, hs[i].value);
		appendStringInfo(&signed_headers, "%s%s", signed_headers.len ? ";" : "",
						 hs[i].name);
	}
	appendStringInfo(&creq, "\n%s\n%s", signed_headers.data, payload_hash);

	creq_hash = sha256_hex(creq.data, creq.len);
	if (creq_hash == NULL)
		return "SHA-256 is not available";
	initStringInfo(&scope);
	appendStringInfo(&scope, "%s/%s/%s/aws4_request", date, region, service);
	initStringInfo(&sts);
	appendStringInfo(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope.data,
					 creq_hash);

	/* kSecret = "AWS4" + secret; kDate, kRegion, kService, kSigning */
	secret = psprintf("AWS4%s", cred->secret_access_key);
	if (!hmac256((unsigned char *) secret, strlen(secret), date, k1) ||
		!hmac256(k1, SHA256_LEN, region, k2) ||
		!hmac256(k2, SHA256_LEN, service, k3) ||
		!hmac256(k3, SHA256_LEN, "aws4_request", k4) ||
		!hmac256(k4, SHA256_LEN, sts.data, sig))
	{
		explicit_bzero(secret, strlen(secret));
		return "HMAC-SHA256 is not available";
	}
	explicit_bzero(secret, strlen(secret));
	pfree(secret);
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	explicit_bzero(k3, sizeof(k3));
	explicit_bzero(k4, sizeof(k4));
	hex_encode(sig, SHA256_LEN, sighex);

	if (!add_line(req, psprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
								cred->access_key_id, scope.data, signed_headers.data,
								sighex)))
		return "too many HTTP headers to sign the request";
	if (trace != NULL)
	{
		trace->canonical_request = creq.data;
		trace->string_to_sign = sts.data;
		trace->signed_headers = signed_headers.data;
		trace->signature = pstrdup(sighex);
	}
	return NULL;
}
