/*
 * sigv4.h — AWS Signature Version 4 signing of a built request (no I/O).
 *
 * aig_sigv4_sign() adds to an AigHttpRequest the headers AWS wants (Host,
 * X-Amz-Date, X-Amz-Security-Token with temporary credentials,
 * x-amz-content-sha256 when asked) and the Authorization header, computed
 * from the canonical request as AWS's "Create a signed AWS API request"
 * describes it.  The signing time is a parameter, so the signature of a
 * request is reproducible: test/sigv4_test.c checks it against AWS's
 * published test-suite vectors.
 *
 * Every header the request carries is signed (names lower-cased, values
 * trimmed, runs of spaces collapsed), except empty ones (libcurl's "Name:"
 * removes a header), Expect, User-Agent, Authorization and X-Amzn-Trace-Id.
 * The canonical URI is the URL's path percent-encoded once more, as AWS does
 * for every service but S3: a path segment sent as "a%3A0" is signed as
 * "a%253A0".  Paths are not normalized ("." and ".." segments and double
 * slashes are signed as sent; the dialects never send them).
 */
#ifndef AIG_SIGV4_H
#define AIG_SIGV4_H

#include "postgres.h"

#include "transport/http.h"

typedef struct AigSigV4Credentials
{
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* temporary credentials' token, or NULL */
} AigSigV4Credentials;

/* The intermediate values of one signing (for tests; palloc'd). */
typedef struct AigSigV4Trace
{
	char	   *canonical_request;
	char	   *string_to_sign;
	char	   *signed_headers;
	char	   *signature;		/* lower-case hex */
} AigSigV4Trace;

/* Length of an X-Amz-Date value, "YYYYMMDDTHHMMSSZ", with its NUL. */
#define AIG_AMZ_DATE_LEN 17

/* The current time as an X-Amz-Date value. */
extern void aig_sigv4_now(char out[AIG_AMZ_DATE_LEN]);

/*
 * Sign req for method at amz_date ("YYYYMMDDTHHMMSSZ", UTC) with cred, for
 * region and service.  With content_sha256 the payload hash is also sent as
 * x-amz-content-sha256 (and signed).  trace (may be NULL) receives the
 * intermediate values.  Returns NULL, or why the request cannot be signed
 * (an unparsable URL, too many headers, a malformed date); the message never
 * holds credentials.  Header lines added are palloc'd.
 */
extern const char *aig_sigv4_sign(AigHttpRequest *req, const char *method,
								  const AigSigV4Credentials *cred,
								  const char *region, const char *service,
								  const char *amz_date, bool content_sha256,
								  AigSigV4Trace *trace);

#endif							/* AIG_SIGV4_H */
