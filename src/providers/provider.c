/*
 * provider.c — dialect lookup and the helpers every dialect shares:
 * HTTP request assembly (headers), URL escaping, and the default
 * classification of an upstream HTTP status into a SQLSTATE.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "base/errcodes.h"
#include "providers/provider.h"

static const AigDialect *const all_dialects[] = {
	&aig_dialect_openai,
	&aig_dialect_openai_compatible,
	&aig_dialect_anthropic,
	&aig_dialect_cohere,
	&aig_dialect_ollama,
	&aig_dialect_gemini,
	&aig_dialect_azure_openai,
	&aig_dialect_bedrock,
};

/* The provider kinds, "openai, openai_compatible, ..." (for messages). */
const char *
aig_dialect_kind_list(void)
{
	static char list[256];

	if (list[0] == '\0')
		for (int i = 0; i < lengthof(all_dialects); i++)
		{
			if (i > 0)
				strlcat(list, ", ", sizeof(list));
			strlcat(list, all_dialects[i]->kind, sizeof(list));
		}
	return list;
}

const AigDialect *
aig_dialect_for_kind(const char *kind)
{
	if (kind == NULL)
		return NULL;
	for (int i = 0; i < lengthof(all_dialects); i++)
		if (strcmp(all_dialects[i]->kind, kind) == 0)
			return all_dialects[i];
	return NULL;
}

void
aig_http_request_init(AigHttpRequest *req)
{
	memset(req, 0, sizeof(*req));
}

/*
 * Add a complete "Name: value" line.  The request keeps the pointer: the
 * line must live as long as the request (a literal, or palloc'd).
 */
void
aig_http_add_header_line(AigHttpRequest *req, const char *line)
{
	if (req->nheaders >= AIG_MAX_HEADERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many HTTP headers for one provider request"),
				 errhint("A provider may set at most %d headers in options.headers.",
						 AIG_MAX_HEADERS - 4)));
	req->headers[req->nheaders++] = line;
}

/*
 * Headers every request carries: JSON content type and the provider's own
 * options.headers (copied: a hook run during a batch may reload the
 * catalog).  Dialects add their auth header themselves.
 */
void
aig_http_add_common_headers(const AigProvider *p, AigHttpRequest *req)
{
	aig_http_add_header_line(req, "Content-Type: application/json");
	aig_http_add_header_line(req, "Accept: application/json");
	/* libcurl sends "Expect: 100-continue" for large bodies: a wasted RTT */
	aig_http_add_header_line(req, "Expect:");
	for (int i = 0; i < p->nextra_headers; i++)
		aig_http_add_header_line(req, pstrdup(p->extra_headers[i]));
}

/* Percent-encode a path segment (model names may hold ':' or '/'). */
char *
aig_url_escape(const char *s)
{
	StringInfoData buf;

	/*
	 * "." and ".." stay as they are in RFC 3986, but as a whole path segment
	 * they are dot segments that libcurl (and servers) resolve: escape their
	 * dots so that a model named ".." cannot move the request to another path.
	 */
	bool		dots = strcmp(s, ".") == 0 || strcmp(s, "..") == 0;

	initStringInfo(&buf);
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
			(*c == '.' && !dots) || *c == '~')
			appendStringInfoChar(&buf, *c);
		else
			appendStringInfo(&buf, "%%%02X", *c);
	}
	return buf.data;
}

/*
 * Default mapping of an HTTP status to a SQLSTATE; dialects refine it from
 * the body (e.g. an OpenAI 429 "insufficient_quota" is not retryable).
 */
void
aig_upstream_error_from_status(long http_status, AigUpstreamError *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_after_ms = -1;
	out->retryable = false;

	switch (http_status)
	{
		case 400:
		case 413:
		case 422:
			out->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;	/* 22023 */
			break;
		case 401:
		case 403:
			out->sqlerrcode = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION; /* 28000 */
			break;
		case 404:
			out->sqlerrcode = ERRCODE_UNDEFINED_OBJECT; /* 42704 */
			break;
		case 408:
			out->sqlerrcode = AIG_ERRCODE_PROVIDER_TIMEOUT;	/* UP002 */
			out->retryable = true;
			break;
		case 429:
			out->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;	/* 53000 */
			out->retryable = true;
			break;
		default:
			if (http_status >= 500)
			{
				out->sqlerrcode = ERRCODE_SYSTEM_ERROR; /* 58000 */
				out->retryable = true;
			}
			else
				out->sqlerrcode = AIG_ERRCODE_PROVIDER_BAD_ANSWER;	/* UP004 */
			break;
	}
}
