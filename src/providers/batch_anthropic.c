/*
 * batch_anthropic.c — Anthropic's Message Batches (batch_api.h): the
 * requests inline in POST /v1/messages/batches ({"requests": [{"custom_id",
 * "params"}]}), the batch's processing_status, and the lines of its results
 * (succeeded | errored | canceled | expired).  The results are fetched from
 * the provider's base URL, never from the results_url an answer names.
 */
#include "postgres.h"

#include "providers/batch_api.h"
#include "providers/dialect_util.h"
#include "transport/json_body.h"

static void
headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "x-api-key", NULL, p->api_key);
	aig_add_header_value(out, "anthropic-version", NULL,
						 p->api_version ? p->api_version : ANTHROPIC_DEFAULT_VERSION);
}

/* {"custom_id": ..., "params": <a Messages request>} into {"requests": [...]} */
static void
anthropic_add_item(StringInfo input, int index, const char *custom_id,
				   const char *chat_body, size_t chat_body_len)
{
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "custom_id", custom_id);
	aig_jw_key(&w, "params");
	appendBinaryStringInfo(&w.buf, chat_body, chat_body_len);
	aig_jw_object_end(&w);
	appendStringInfoString(input, index == 0 ? "{\"requests\":[" : ",");
	appendBinaryStringInfo(input, w.buf.data, w.buf.len);
}

static void
anthropic_end_input(StringInfo input)
{
	appendStringInfoString(input, "]}");
}

/* POST /v1/messages/batches with the requests */
static void
anthropic_build_create(const AigProvider *p, const char *input, size_t len,
					   AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, "/v1/messages/batches");
	headers(p, out);
	out->body = (char *) input;
	out->body_len = len;
}

/* A MessageBatch: processing_status in_progress | canceling | ended. */
static bool
read_batch(const AigJson *root, const char *label, void *arg, char **errmsg)
{
	AigBatchStatus *st = (AigBatchStatus *) arg;
	char	   *status = aig_jstr(root, "processing_status");

	memset(st, 0, sizeof(*st));
	st->id = aig_jstr(root, "id");
	if (!aig_batch_id_ok(st->id) || status == NULL)
	{
		*errmsg = psprintf("%s: the message batch has no usable id or processing_status", label);
		return false;
	}
	st->remote_status = aig_batch_id_ok(status) ? status : "?";
	st->state = strcmp(status, "ended") == 0 ? AIG_BATCH_ENDED : AIG_BATCH_RUNNING;
	/* ended: the results are at .../{id}/results (whatever results_url says) */
	if (st->state == AIG_BATCH_ENDED)
		st->output_ref = st->id;
	return true;
}

static bool
anthropic_parse_status(const char *body, size_t len, AigBatchStatus *out, char **errmsg)
{
	return aig_parse_body(body, len, read_batch, "anthropic message batch", out, errmsg);
}

/* GET /v1/messages/batches/{id} */
static void
anthropic_build_retrieve(const AigProvider *p, const char *batch_id, AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1/messages/batches/%s", batch_id));
	out->get = true;
	headers(p, out);
}

/* GET /v1/messages/batches/{id}/results */
static void
anthropic_build_results(const AigProvider *p, const AigBatchStatus *st, const char *ref,
						AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/v1/messages/batches/%s/results", st->id));
	out->get = true;
	headers(p, out);
}

/* The HTTP status the Messages API gives an error of this type. */
static long
status_of(const char *type)
{
	static const struct
	{
		const char *type;
		long		status;
	}			map[] = {
		{"invalid_request_error", 400}, {"authentication_error", 401},
		{"permission_error", 403}, {"not_found_error", 404},
		{"request_too_large", 413}, {"rate_limit_error", 429},
		{"api_error", 500}, {"overloaded_error", 529},
	};

	for (int i = 0; type && i < (int) lengthof(map); i++)
		if (strcmp(map[i].type, type) == 0)
			return map[i].status;
	return 500;
}

/* {"custom_id", "result": {"type": "succeeded", "message"} | {"type": "errored", "error"} | ...} */
static bool
read_item(const AigJson *root, const char *label, void *arg, char **errmsg)
{
	AigBatchItem *it = (AigBatchItem *) arg;
	const AigJson *result = aig_jget(root, "result");
	char	   *type = aig_jstr(result, "type");

	memset(it, 0, sizeof(*it));
	it->custom_id = aig_jstr(root, "custom_id");
	if (it->custom_id == NULL || type == NULL)
	{
		*errmsg = psprintf("%s: a result line has no custom_id or result type", label);
		return false;
	}
	if (strcmp(type, "succeeded") == 0 && aig_jis(aig_jget(result, "message"), AIG_JSON_OBJECT))
	{
		it->kind = AIG_ITEM_ANSWERED;
		it->status = 200;
		aig_batch_item_body(aig_jget(result, "message"), it);
	}
	else if (strcmp(type, "errored") == 0 && aig_jis(aig_jget(result, "error"), AIG_JSON_OBJECT))
	{
		const AigJson *e = aig_jget(result, "error");

		it->kind = AIG_ITEM_ERROR;
		it->status = status_of(aig_jstr(aig_jget(e, "error"), "type"));
		aig_batch_item_body(e, it);
	}
	else if (strcmp(type, "expired") == 0)
		it->kind = AIG_ITEM_EXPIRED;
	else if (strcmp(type, "canceled") == 0)
		it->kind = AIG_ITEM_CANCELLED;
	else
	{
		*errmsg = psprintf("%s: a result line has an unknown or incomplete result", label);
		return false;
	}
	return true;
}

static bool
anthropic_parse_item(const char *line, size_t len, AigBatchItem *out, char **errmsg)
{
	return aig_parse_body(line, len, read_item, "anthropic batch result", out, errmsg);
}

const AigBatchApi aig_batch_anthropic = {
	.endpoint = "/v1/messages",
	.add_item = anthropic_add_item,
	.end_input = anthropic_end_input,
	.build_upload = NULL,
	.parse_upload = NULL,
	.build_create = anthropic_build_create,
	.parse_status = anthropic_parse_status,
	.build_retrieve = anthropic_build_retrieve,
	.build_results = anthropic_build_results,
	.parse_item = anthropic_parse_item,
};
