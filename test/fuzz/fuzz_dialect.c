/*
 * fuzz_dialect.c — libFuzzer target for one provider dialect's parsers
 * (src/providers/<kind>.c, through the AigDialect vtable of src/providers/provider.h).
 * Built once per dialect by test/fuzz/run.sh with -DFUZZ_DIALECT=<symbol>
 * (aig_dialect_openai, ...).
 *
 * Input: byte 0 picks the parser (value % 3: 0 parse_chat, 1 parse_embed,
 * or parse_chat when the dialect has no embeddings API, 2 parse_error);
 * for parse_error byte 1 picks the HTTP status (value % 16, see statuses[]).
 * The rest is the response body, passed in a buffer of exactly its length
 * (no NUL after it), so reading past the end is caught.
 *
 * Besides the sanitizers, it asserts the parser contract of provider.h:
 * no ereport (fuzz_support.c aborts on one); false comes with a message;
 * true comes with a complete result (tool calls with clean ids and names,
 * arguments a JSON object's text, finish_reason "tool_calls"); token counts are -1 or a count in
 * [0, INT32_MAX]; vectors are non-empty and finite; error messages and
 * types are valid UTF-8 without control characters; every json-c tree is
 * freed by the parser itself (no doc left for the context reset); and
 * nothing is malloc'd and left behind (LeakSanitizer).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"
#include "transport/json.h"
#include "fuzz_support.h"

#ifndef FUZZ_DIALECT
#error "define FUZZ_DIALECT to the dialect symbol, e.g. aig_dialect_openai"
#endif

static const long statuses[16] = {
	400, 401, 403, 404, 408, 413, 422, 429,
	500, 502, 503, 504, 529, 418, 200, 0
};

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(const char *what, const char *msg)
{
	FUZZ_CHECK(msg != NULL, what, "NULL");
	FUZZ_CHECK(fuzz_clean_message(msg), what,
			   "not valid UTF-8 or holds a control character");
	FUZZ_CHECK(strlen(msg) <= 4096, what, "longer than 4096 bytes");
}

static void
check_tokens(const char *what, int64 n)
{
	FUZZ_CHECK(n == -1 || (n >= 0 && n <= INT32_MAX), what,
			   "not -1 and not a count in [0, INT32_MAX]");
}

/* tool calls: ids and names clean, arguments a JSON object's text, finish "tool_calls" */
static void
check_tool_calls(const AigChatResult *res)
{
	FUZZ_CHECK(res->ntool_calls >= 0, "chat: ntool_calls", "negative");
	if (res->ntool_calls == 0)
		return;
	FUZZ_CHECK(res->tool_calls != NULL, "chat: tool_calls", "NULL with ntool_calls > 0");
	FUZZ_CHECK(res->finish_reason != NULL && strcmp(res->finish_reason, "tool_calls") == 0,
			   "chat: finish_reason", "not \"tool_calls\" with tool calls");
	for (int i = 0; i < res->ntool_calls; i++)
	{
		const AigToolCall *tc = &res->tool_calls[i];

		check_message("chat: tool call id", tc->id);
		check_message("chat: tool call name", tc->name);
		FUZZ_CHECK(tc->arguments != NULL && tc->arguments[0] == '{' &&
				   fuzz_valid_utf8(tc->arguments, strlen(tc->arguments)),
				   "chat: tool call arguments", "not a JSON object's UTF-8 text");
	}
}

static void
run_chat(const AigDialect *d, const char *body, size_t len)
{
	AigChatResult res;
	char	   *errmsg = NULL;

	memset(&res, 0x7f, sizeof(res));	/* the parser must set every field */
	if (d->parse_chat(body, len, &res, &errmsg))
	{
		FUZZ_CHECK(res.content != NULL, "chat: content", "NULL on success");
		(void) strlen(res.content);
		if (res.finish_reason)
			(void) strlen(res.finish_reason);
		if (res.model)
			(void) strlen(res.model);
		check_tokens("chat: input_tokens", res.input_tokens);
		check_tokens("chat: output_tokens", res.output_tokens);
		check_tool_calls(&res);
	}
	else
		check_message("chat: errmsg", errmsg);
}

static void
run_embed(const AigDialect *d, const char *body, size_t len)
{
	AigEmbedResult res;
	char	   *errmsg = NULL;

	memset(&res, 0x7f, sizeof(res));
	if (d->parse_embed(body, len, &res, &errmsg))
	{
		FUZZ_CHECK(res.count >= 0, "embed: count", "negative");
		FUZZ_CHECK(res.count == 0 || (res.ndims != NULL && res.vectors != NULL),
				   "embed: arrays", "NULL with count > 0");
		for (int i = 0; i < res.count; i++)
		{
			FUZZ_CHECK(res.vectors[i] != NULL, "embed: vector", "NULL");
			FUZZ_CHECK(res.ndims[i] > 0, "embed: ndims", "not positive");
			for (int j = 0; j < res.ndims[i]; j++)
				FUZZ_CHECK(isfinite(res.vectors[i][j]), "embed: value",
						   "not finite");
		}
		check_tokens("embed: input_tokens", res.input_tokens);
	}
	else
		check_message("embed: errmsg", errmsg);
}

static void
run_error(const AigDialect *d, long status, const char *body, size_t len)
{
	AigUpstreamError e;

	memset(&e, 0x7f, sizeof(e));
	d->parse_error(status, body, len, &e);
	FUZZ_CHECK(e.sqlerrcode != 0, "error: sqlerrcode", "0");
	check_message("error: message", e.message);
	if (e.type != NULL)
		check_message("error: type", e.type);
	FUZZ_CHECK(e.retry_after_ms >= -1, "error: retry_after_ms", "below -1");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const AigDialect *d = &FUZZ_DIALECT;
	int			mode;
	long		status = 500;
	char	   *body;
	size_t		len;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	if (mode == 2)
	{
		if (size < 1)
			return 0;
		status = statuses[data[0] % 16];
		data++;
		size--;
	}
	if (mode == 1 && d->parse_embed == NULL)
		mode = 0;

	/* exactly size bytes (malloc(0) may give NULL: keep one byte) */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	len = size;

	switch (mode)
	{
		case 0:
			run_chat(d, body, len);
			break;
		case 1:
			run_embed(d, body, len);
			break;
		default:
			run_error(d, status, body, len);
			break;
	}
	free(body);
	FUZZ_CHECK(aig_json_live_docs() == 0, "json-c tree", "not freed by the parser");
	fuzz_arena_reset();
	return 0;
}
