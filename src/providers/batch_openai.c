/*
 * batch_openai.c — OpenAI's Batch API (batch_api.h): the requests as a JSONL
 * file uploaded with purpose "batch" (multipart/form-data), a batch created
 * from it for /v1/chat/completions with a 24 h window, its state, and the
 * lines of its output and error files.  Also the lookup of a provider's
 * Batch API and the id check both APIs share.
 */
#include "postgres.h"


#include "providers/batch_api.h"
#include "providers/dialect_util.h"
#include "transport/json_body.h"

/* Batch and file ids go into URL paths: letters, digits, '-' and '_' only. */
bool
aig_batch_id_ok(const char *s)
{
	size_t		n = 0;

	if (s == NULL)
		return false;
	for (const char *c = s; *c; c++, n++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return n > 0 && n <= 200;
}

const AigBatchApi *
aig_batch_api_for(const AigProvider *p)
{
	if (p->dialect == &aig_dialect_openai)
		return &aig_batch_openai;
	if (p->dialect == &aig_dialect_anthropic)
		return &aig_batch_anthropic;
	return NULL;
}

/* Authorization and the provider's own headers; not the JSON Content-Type. */
static void
auth_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_header_line(out, "Accept: application/json");
	aig_http_add_header_line(out, "Expect:");
	for (int i = 0; i < p->nextra_headers; i++)
		aig_http_add_header_line(out, pstrdup(p->extra_headers[i]));
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
}

/* {"custom_id": ..., "method": "POST", "url": "/v1/chat/completions", "body": ...} */
static void
openai_add_item(StringInfo input, int index, const char *custom_id,
				const char *chat_body, size_t chat_body_len)
{
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "custom_id", custom_id);
	aig_jw_kstring(&w, "method", "POST");
	aig_jw_kstring(&w, "url", "/v1/chat/completions");
	aig_jw_key(&w, "body");
	appendBinaryStringInfo(&w.buf, chat_body, chat_body_len);
	aig_jw_object_end(&w);
	if (index > 0)
		appendStringInfoChar(input, '\n');
	appendBinaryStringInfo(input, w.buf.data, w.buf.len);
}

static void
openai_end_input(StringInfo input)
{
	appendStringInfoChar(input, '\n');
}

/* POST /files: multipart/form-data with purpose=batch and the JSONL file. */
static void
openai_build_upload(const AigProvider *p, const char *input, size_t len,
					AigHttpRequest *out)
{
	uint8		rnd[12];
	char		hex[25];
	StringInfoData b;

	if (!pg_strong_random(rnd, sizeof(rnd)))
		ereport(ERROR, (errmsg("could not generate a multipart boundary")));
	for (int i = 0; i < (int) sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	aig_http_request_init(out);
	out->url = aig_url(p, "/files");
	aig_http_add_header_line(out, psprintf("Content-Type: multipart/form-data; boundary=aig%s", hex));
	auth_headers(p, out);
	initStringInfo(&b);
	appendStringInfo(&b, "--aig%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n", hex);
	appendStringInfo(&b, "--aig%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ai_gateway_batch.jsonl\"\r\n"
					 "Content-Type: application/octet-stream\r\n\r\n", hex);
	/* the boundary is random: a line of JSON (no CR/LF inside) cannot hold it */
	appendBinaryStringInfo(&b, input, len);
	appendStringInfo(&b, "\r\n--aig%s--\r\n", hex);
	out->body = b.data;
	out->body_len = b.len;
}

typedef struct IdOut
{
	char	  **id;
} IdOut;

static bool
read_file_object(const AigJson *root, const char *label, void *arg, char **errmsg)
{
	char	   *id = aig_jstr(root, "id");

	if (!aig_batch_id_ok(id))
	{
		*errmsg = psprintf("%s: the uploaded file has no usable id", label);
		return false;
	}
	*((IdOut *) arg)->id = id;
	return true;
}

static bool
openai_parse_upload(const char *body, size_t len, char **file_id, char **errmsg)
{
	IdOut		o = {file_id};

	return aig_parse_body(body, len, read_file_object, "openai file upload", &o, errmsg);
}

/* POST /batches {"input_file_id", "endpoint", "completion_window": "24h"} */
static void
openai_build_create(const AigProvider *p, const char *file_id, size_t len,
					AigHttpRequest *out)
{
	AigJsonWriter w;

	aig_http_request_init(out);
	out->url = aig_url(p, "/batches");
	aig_http_add_header_line(out, "Content-Type: application/json");
	auth_headers(p, out);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	aig_jw_kstring(&w, "input_file_id", file_id);
	aig_jw_kstring(&w, "endpoint", "/v1/chat/completions");
	aig_jw_kstring(&w, "completion_window", "24h");
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
}

/* A Batch object: validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled. */
static bool
read_batch(const AigJson *root, const char *label, void *arg, char **errmsg)
{
	AigBatchStatus *st = (AigBatchStatus *) arg;
	char	   *status = aig_jstr(root, "status");
	const AigJson *errs;

	memset(st, 0, sizeof(*st));
	st->id = aig_jstr(root, "id");
	if (!aig_batch_id_ok(st->id) || status == NULL)
	{
		*errmsg = psprintf("%s: the batch object has no usable id or status", label);
		return false;
	}
	st->remote_status = aig_batch_id_ok(status) ? status : "?";
	if (strcmp(status, "completed") == 0)
		st->state = AIG_BATCH_ENDED;
	else if (strcmp(status, "failed") == 0)
		st->state = AIG_BATCH_FAILED;
	else if (strcmp(status, "expired") == 0)
		st->state = AIG_BATCH_EXPIRED;
	else if (strcmp(status, "cancelled") == 0)
		st->state = AIG_BATCH_CANCELLED;
	else
		st->state = AIG_BATCH_RUNNING;
	/* file ids go into URLs: anything else is as good as none */
	st->output_ref = aig_jstr(root, "output_file_id");
	if (!aig_batch_id_ok(st->output_ref))
		st->output_ref = NULL;
	st->error_ref = aig_jstr(root, "error_file_id");
	if (!aig_batch_id_ok(st->error_ref))
		st->error_ref = NULL;
	errs = aig_jpath(root, "errors", "data", NULL);
	if (aig_jlength(errs) > 0)
	{
		char	   *msg = aig_jstr(aig_jelem(errs, 0), "message");

		/* stored as the batch's and its jobs' error: clean and bounded */
		if (msg != NULL)
			st->error = aig_body_excerpt(msg, strlen(msg), 500);
	}
	return true;
}

static bool
openai_parse_status(const char *body, size_t len, AigBatchStatus *out, char **errmsg)
{
	return aig_parse_body(body, len, read_batch, "openai batch", out, errmsg);
}

/* GET /batches/{id} */
static void
openai_build_retrieve(const AigProvider *p, const char *batch_id, AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/batches/%s", batch_id));
	out->get = true;
	auth_headers(p, out);
}

/* GET /files/{ref}/content */
static void
openai_build_results(const AigProvider *p, const AigBatchStatus *st, const char *ref,
					 AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/files/%s/content", ref));
	out->get = true;
	auth_headers(p, out);
}

void
aig_batch_item_body(const AigJson *v, AigBatchItem *out)
{
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_copy(&w, v);
	out->body = w.buf.data;
	out->body_len = w.buf.len;
}

/*
 * {"id", "custom_id", "response": {"status_code", "request_id", "body"},
 *  "error": null | {"code", "message"}}
 */
static bool
read_item(const AigJson *root, const char *label, void *arg, char **errmsg)
{
	AigBatchItem *it = (AigBatchItem *) arg;
	const AigJson *resp = aig_jget(root, "response");
	const AigJson *error = aig_jget(root, "error");
	int64		status = 0;

	memset(it, 0, sizeof(*it));
	it->custom_id = aig_jstr(root, "custom_id");
	if (it->custom_id == NULL)
	{
		*errmsg = psprintf("%s: a result line has no custom_id", label);
		return false;
	}
	if (aig_jis(resp, AIG_JSON_OBJECT) && aig_jint64(aig_jget(resp, "status_code"), &status) &&
		aig_jis(aig_jget(resp, "body"), AIG_JSON_OBJECT))
	{
		it->status = (long) Min(Max(status, 0), 999);
		it->kind = it->status >= 200 && it->status < 300 ? AIG_ITEM_ANSWERED : AIG_ITEM_ERROR;
		aig_batch_item_body(aig_jget(resp, "body"), it);
		return true;
	}
	if (aig_jis(error, AIG_JSON_OBJECT))
	{
		char	   *code = aig_jstr(error, "code");

		it->kind = code && strcmp(code, "batch_expired") == 0 ? AIG_ITEM_EXPIRED :
			code && strcmp(code, "batch_cancelled") == 0 ? AIG_ITEM_CANCELLED : AIG_ITEM_ERROR;
		it->status = 0;
		/* as an error body the dialect's parse_error reads: {"error": {...}} */
		{
			AigJsonWriter w;

			aig_jw_init(&w);
			aig_jw_object_begin(&w);
			aig_jw_key(&w, "error");
			aig_jw_copy(&w, error);
			aig_jw_object_end(&w);
			it->body = w.buf.data;
			it->body_len = w.buf.len;
		}
		return true;
	}
	*errmsg = psprintf("%s: a result line has neither a response nor an error", label);
	return false;
}

static bool
openai_parse_item(const char *line, size_t len, AigBatchItem *out, char **errmsg)
{
	return aig_parse_body(line, len, read_item, "openai batch result", out, errmsg);
}

const AigBatchApi aig_batch_openai = {
	.endpoint = "/v1/chat/completions",
	.add_item = openai_add_item,
	.end_input = openai_end_input,
	.build_upload = openai_build_upload,
	.parse_upload = openai_parse_upload,
	.build_create = openai_build_create,
	.parse_status = openai_parse_status,
	.build_retrieve = openai_build_retrieve,
	.build_results = openai_build_results,
	.parse_item = openai_parse_item,
};
