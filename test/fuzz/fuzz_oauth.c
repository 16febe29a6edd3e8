/*
 * fuzz_oauth.c — libFuzzer target for the token endpoints' answers
 * (src/providers/oauth.c: aig_oauth_parse_token, aig_oauth_parse_error).
 *
 * Input: byte 0 picks the parser (even: parse_token, odd: parse_error with
 * the HTTP status statuses[byte 1 % 8]); the rest is the body, in a buffer
 * of exactly its length.  Asserts: no ereport; false comes with a clean
 * message; true comes with a non-empty bearer token (base64url/base64
 * characters and . - _ ~ only) and a positive expires_in; messages are
 * valid UTF-8 without control characters and bounded; no json-c tree or
 * malloc'd memory is left behind.
 */
#include "postgres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"
#include "transport/json.h"
#include "fuzz_support.h"

static const long statuses[8] = {400, 401, 403, 404, 429, 500, 503, 200};

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			mode;
	long		status = 400;
	char	   *body;
	char	   *token = NULL;
	char	   *msg = NULL;
	int64		expires_in = 0;

	if (size < 1)
		return 0;
	mode = data[0] % 2;
	data++;
	size--;
	if (mode == 1)
	{
		if (size < 1)
			return 0;
		status = statuses[data[0] % 8];
		data++;
		size--;
	}
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	if (mode == 0)
	{
		if (aig_oauth_parse_token(body, size, &token, &expires_in, &msg))
		{
			FUZZ_CHECK(token != NULL && token[0] != '\0', "token", "empty on success");
			FUZZ_CHECK(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
							  "0123456789-._~+/=") == strlen(token),
					   "token", "not a bearer token");
			FUZZ_CHECK(expires_in > 0, "expires_in", "not positive");
		}
		else
		{
			FUZZ_CHECK(msg != NULL && fuzz_clean_message(msg), "token: errmsg",
					   "NULL, not UTF-8 or a control character");
			FUZZ_CHECK(token == NULL, "token", "set on failure");
		}
	}
	else
	{
		aig_oauth_parse_error(status, body, size, &msg);
		FUZZ_CHECK(msg != NULL && fuzz_clean_message(msg), "error: message",
				   "NULL, not UTF-8 or a control character");
		FUZZ_CHECK(strlen(msg) <= 4096, "error: message", "longer than 4096 bytes");
	}
	free(body);
	FUZZ_CHECK(aig_json_live_docs() == 0, "json", "a json-c tree left behind");
	fuzz_arena_reset();
	return 0;
}
