/*
 * fuzz_batch.c — libFuzzer target for one provider Batch API's parsers
 * (src/providers/batch_openai.c, batch_anthropic.c, through the AigBatchApi
 * vtable of src/providers/batch_api.h).  Built once per API by
 * test/fuzz/run.sh with -DFUZZ_BATCH=<symbol> (aig_batch_openai,
 * aig_batch_anthropic): targets batch_openai and batch_anthropic.
 *
 * Input: byte 0 picks the parser (value % 3: 0 parse_upload, or
 * parse_status when the API uploads no file; 1 parse_status; 2
 * parse_item); the rest is the body (an answer, or one line of results),
 * passed in a buffer of exactly its length (no NUL after it), so reading
 * past the end is caught.
 *
 * Besides the sanitizers, it asserts what the job worker
 * (src/background/provider_batches.c) and pipeline_batch.c rely on:
 *	- no ereport (fuzz_support.c aborts on one); false comes with a clean,
 *	  bounded message;
 *	- parse_upload: a file id that passes aig_batch_id_ok (it goes into
 *	  URL paths);
 *	- parse_status: an id that passes aig_batch_id_ok, a known state,
 *	  remote_status that passes aig_batch_id_ok or is "?", output_ref and
 *	  error_ref NULL or passing aig_batch_id_ok, error NULL or a clean,
 *	  bounded message (it is stored as the batch's and the jobs' error);
 *	- parse_item: custom_id non-NULL, a known kind, status in [0, 999],
 *	  ANSWERED only with a 2xx status and ERROR never with one, ANSWERED
 *	  and ERROR with a body; a body (an expired or cancelled item may
 *	  have one, which the worker ignores) is body_len bytes of a JSON
 *	  object's text (it parses again: the dialect's parse_chat or
 *	  parse_error reads it), body_len 0 without one;
 *	- every json-c tree freed by the parser itself; nothing malloc'd left
 *	  behind (LeakSanitizer).
 */
#include "postgres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/batch_api.h"
#include "transport/json.h"
#include "fuzz_support.h"

#ifndef FUZZ_BATCH
#error "define FUZZ_BATCH to the Batch API symbol, e.g. aig_batch_openai"
#endif

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
run_upload(const AigBatchApi *api, const char *body, size_t len)
{
	char	   *file_id = NULL;
	char	   *errmsg = NULL;

	if (api->parse_upload(body, len, &file_id, &errmsg))
		FUZZ_CHECK(aig_batch_id_ok(file_id), "upload: file id", "fails aig_batch_id_ok");
	else
		check_message("upload: errmsg", errmsg);
}

static void
run_status(const AigBatchApi *api, const char *body, size_t len)
{
	AigBatchStatus st;
	char	   *errmsg = NULL;

	memset(&st, 0x7f, sizeof(st));	/* the parser must set every field */
	if (api->parse_status(body, len, &st, &errmsg))
	{
		FUZZ_CHECK(aig_batch_id_ok(st.id), "status: id", "fails aig_batch_id_ok");
		FUZZ_CHECK(st.state >= AIG_BATCH_RUNNING && st.state <= AIG_BATCH_CANCELLED,
				   "status: state", "not an AigBatchState");
		FUZZ_CHECK(st.remote_status != NULL &&
				   (aig_batch_id_ok(st.remote_status) || strcmp(st.remote_status, "?") == 0),
				   "status: remote_status", "NULL, or neither clean nor \"?\"");
		FUZZ_CHECK(st.output_ref == NULL || aig_batch_id_ok(st.output_ref),
				   "status: output_ref", "fails aig_batch_id_ok");
		FUZZ_CHECK(st.error_ref == NULL || aig_batch_id_ok(st.error_ref),
				   "status: error_ref", "fails aig_batch_id_ok");
		if (st.error != NULL)
			check_message("status: error", st.error);
	}
	else
		check_message("status: errmsg", errmsg);
}

static void
run_item(const AigBatchApi *api, const char *body, size_t len)
{
	AigBatchItem it;
	char	   *errmsg = NULL;

	memset(&it, 0x7f, sizeof(it));
	if (api->parse_item(body, len, &it, &errmsg))
	{
		FUZZ_CHECK(it.custom_id != NULL, "item: custom_id", "NULL on success");
		(void) strlen(it.custom_id);
		FUZZ_CHECK(it.kind >= AIG_ITEM_ANSWERED && it.kind <= AIG_ITEM_CANCELLED,
				   "item: kind", "not an AigBatchItemKind");
		FUZZ_CHECK(it.status >= 0 && it.status <= 999, "item: status", "not in [0, 999]");
		if (it.kind == AIG_ITEM_ANSWERED)
			FUZZ_CHECK(it.status >= 200 && it.status < 300, "item: status",
					   "ANSWERED without a 2xx status");
		if (it.kind == AIG_ITEM_ERROR)
			FUZZ_CHECK(it.status < 200 || it.status >= 300, "item: status",
					   "ERROR with a 2xx status");
		if (it.kind == AIG_ITEM_ANSWERED || it.kind == AIG_ITEM_ERROR)
			FUZZ_CHECK(it.body != NULL, "item: body", "NULL for an answer or an error");
		if (it.body != NULL)
		{
			AigJsonDoc *doc;
			char	   *perr = NULL;

			FUZZ_CHECK(it.body_len > 0 && memchr(it.body, '\0', it.body_len) == NULL &&
					   it.body[it.body_len] == '\0',
					   "item: body_len", "not the length of the NUL-terminated body");
			FUZZ_CHECK(it.body[0] == '{', "item: body", "not a JSON object's text");
			doc = aig_json_parse(it.body, it.body_len, &perr);
			FUZZ_CHECK(doc != NULL, "item: body", "does not parse again");
			FUZZ_CHECK(aig_jis(doc->root, AIG_JSON_OBJECT), "item: body", "not an object");
			aig_json_free(doc);
		}
		else
			FUZZ_CHECK(it.body_len == 0, "item: body_len", "not 0 without a body");
	}
	else
		check_message("item: errmsg", errmsg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const AigBatchApi *api = &FUZZ_BATCH;
	int			mode;
	char	   *body;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0 && api->parse_upload == NULL)
		mode = 1;

	/* exactly size bytes (malloc(0) may give NULL: keep one byte) */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);

	switch (mode)
	{
		case 0:
			run_upload(api, body, size);
			break;
		case 1:
			run_status(api, body, size);
			break;
		default:
			run_item(api, body, size);
			break;
	}
	free(body);
	FUZZ_CHECK(aig_json_live_docs() == 0, "json-c tree", "not freed by the parser");
	fuzz_arena_reset();
	return 0;
}
