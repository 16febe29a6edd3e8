/*
 * sigv4_test.c — standalone test of the AWS SigV4 signer (src/providers/sigv4.c;
 * no server needed) against AWS's published SigV4 test-suite vectors
 * (recorded with their source in test/samples/aws_sigv4_vectors.md):
 * AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z,
 * us-east-1, service "service".  Then the Bedrock shape: a model id's ':'
 * sent as %3A is signed as %253A, the session token and the
 * x-amz-content-sha256 header are sent and signed, and a bad URL or date is
 * reported, not signed.
 *
 * Includes sigv4.c directly; palloc, psprintf and StringInfo come from
 * PostgreSQL's frontend libpgcommon.a / libpgport.a.  Build and run:
 * bash test/sigv4_test.sh.
 */
#include "../src/providers/sigv4.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

MemoryContext CurrentMemoryContext = NULL;

static int	failures = 0;
static int	checks = 0;

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define WHEN "20150830T123600Z"
#define CRED_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static void
expect_str(const char *what, const char *got, const char *want, int line)
{
	checks++;
	if (got == NULL || strcmp(got, want) != 0)
	{
		failures++;
		fprintf(stderr, "FAIL line %d: %s\n  want: %s\n  got:  %s\n", line, what,
				want, got ? got : "(null)");
	}
}

static const char *
header_value(const AigHttpRequest *req, const char *name)
{
	size_t		n = strlen(name);

	for (int i = 0; i < req->nheaders; i++)
		if (pg_strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return req->headers[i] + n + 2;
	return NULL;
}

/* Sign one request and check its Authorization header. */
static AigHttpRequest
sign_vector(const char *method, const char *url, const char *const *headers,
			const char *body, const char *token, bool content_sha256,
			const char *want_authz, AigSigV4Trace *trace, int line)
{
	AigHttpRequest req;
	AigSigV4Credentials cred = {AKID, SECRET, token};
	const char *err;

	memset(&req, 0, sizeof(req));
	req.url = (char *) url;
	if (body != NULL)
	{
		req.body = (char *) body;
		req.body_len = strlen(body);
	}
	for (int i = 0; headers != NULL && headers[i] != NULL; i++)
		req.headers[req.nheaders++] = headers[i];
	err = aig_sigv4_sign(&req, method, &cred, "us-east-1", "service", WHEN,
						 content_sha256, trace);
	checks++;
	if (err != NULL)
	{
		failures++;
		fprintf(stderr, "FAIL line %d: signing failed: %s\n", line, err);
		return req;
	}
	expect_str("Authorization", header_value(&req, "Authorization"), want_authz, line);
	expect_str("X-Amz-Date", header_value(&req, "X-Amz-Date"), WHEN, line);
	return req;
}

int
main(void)
{
	AigSigV4Trace tr;
	AigHttpRequest req;

	/* get-vanilla */
	sign_vector("GET", "https://example.amazonaws.com/", NULL, NULL, NULL, false,
				CRED_PREFIX "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
				&tr, __LINE__);
	expect_str("get-vanilla canonical request", tr.canonical_request,
			   "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			   "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			   __LINE__);
	expect_str("get-vanilla string to sign", tr.string_to_sign,
			   "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
			   "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
			   __LINE__);

	/* post-vanilla */
	sign_vector("POST", "https://example.amazonaws.com/", NULL, NULL, NULL, false,
				CRED_PREFIX "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
				NULL, __LINE__);

	/* get-vanilla-query-order-key-case: the query is signed sorted */
	sign_vector("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", NULL,
				NULL, NULL, false,
				CRED_PREFIX "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
				&tr, __LINE__);
	expect_str("sorted query", strchr(strchr(tr.canonical_request, '\n') + 1, '\n') + 1,
			   "Param1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			   "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			   __LINE__);

	/* get-utf8: the path's UTF-8 bytes percent-encoded */
	sign_vector("GET", "https://example.amazonaws.com/\xe1\x88\xb4", NULL, NULL, NULL, false,
				CRED_PREFIX "SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
				NULL, __LINE__);

	/* get-vanilla-with-session-token */
	req = sign_vector("GET", "https://example.amazonaws.com/", NULL, NULL,
					  "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267", false,
					  CRED_PREFIX "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
					  NULL, __LINE__);
	expect_str("X-Amz-Security-Token", header_value(&req, "X-Amz-Security-Token"),
			   "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267", __LINE__);

	/* post-x-www-form-urlencoded (aws-c-auth's: content-length and x-amz-content-sha256 signed) */
	{
		static const char *const hs[] = {
			"Content-Type: application/x-www-form-urlencoded", "Content-Length: 13", NULL
		};

		req = sign_vector("POST", "https://example.amazonaws.com/", hs, "Param1=value1", NULL, true,
						  CRED_PREFIX "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
						  NULL, __LINE__);
		expect_str("x-amz-content-sha256", header_value(&req, "x-amz-content-sha256"),
				   "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e", __LINE__);
	}

	/*
	 * Bedrock: the path as sent ("%3A") is encoded once more; a port other
	 * than the scheme's default is part of the signed host; empty headers
	 * (curl's "Expect:") and Expect/User-Agent are not signed; header values
	 * are trimmed and their space runs collapsed.
	 */
	{
		static const char *const hs[] = {
			"Content-Type: application/json", "Expect:", "User-Agent: x",
			"X-Test:  a   b  ", NULL
		};
		AigHttpRequest r;
		AigSigV4Credentials cred = {AKID, SECRET, NULL};

		memset(&r, 0, sizeof(r));
		r.url = "http://127.0.0.1:8089/model/amazon.titan-embed-text-v2%3A0/invoke";
		r.body = "{}";
		r.body_len = 2;
		for (int i = 0; hs[i]; i++)
			r.headers[r.nheaders++] = hs[i];
		checks++;
		if (aig_sigv4_sign(&r, "POST", &cred, "us-east-1", "bedrock", WHEN, false, &tr) != NULL)
		{
			failures++;
			fprintf(stderr, "FAIL line %d: bedrock request not signed\n", __LINE__);
		}
		else
		{
			expect_str("bedrock canonical request", tr.canonical_request,
					   "POST\n/model/amazon.titan-embed-text-v2%253A0/invoke\n\n"
					   "content-type:application/json\nhost:127.0.0.1:8089\nx-amz-date:20150830T123600Z\n"
					   "x-test:a b\n\ncontent-type;host;x-amz-date;x-test\n"
					   "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
					   __LINE__);
			expect_str("Host", header_value(&r, "Host"), "127.0.0.1:8089", __LINE__);
		}
		/* the default port is not part of the host */
		memset(&r, 0, sizeof(r));
		r.url = "https://Bedrock-Runtime.us-east-1.amazonaws.com:443/model/m/converse";
		(void) aig_sigv4_sign(&r, "POST", &cred, "us-east-1", "bedrock", WHEN, false, NULL);
		expect_str("Host without :443", header_value(&r, "Host"),
				   "bedrock-runtime.us-east-1.amazonaws.com", __LINE__);

		/* errors: not signed, no credential in the message */
		memset(&r, 0, sizeof(r));
		r.url = "ftp://example.com/";
		expect_str("bad URL", aig_sigv4_sign(&r, "GET", &cred, "us-east-1", "s", WHEN, false, NULL),
				   "the request URL is not an http(s) URL", __LINE__);
		r.url = "https://example.com/";
		expect_str("bad date", aig_sigv4_sign(&r, "GET", &cred, "us-east-1", "s", "2015-08-30", false, NULL),
				   "the signing time is not of the form YYYYMMDDTHHMMSSZ", __LINE__);
		checks++;
		if (r.nheaders != 0)
		{
			failures++;
			fprintf(stderr, "FAIL line %d: headers added to a request that was not signed\n", __LINE__);
		}
	}

	/* aig_sigv4_now: a well-formed date */
	{
		char		now[AIG_AMZ_DATE_LEN];

		aig_sigv4_now(now);
		checks++;
		if (!valid_amz_date(now))
		{
			failures++;
			fprintf(stderr, "FAIL: aig_sigv4_now gave %s\n", now);
		}
	}

	printf("sigv4_test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
