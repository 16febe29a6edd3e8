/*
 * attempt.c — one attempt against one target.
 *
 * Asks the target's dialect to build the request, sends it with http.c and
 * has the dialect parse the body or classify the error.  Every failure is
 * returned (never raised) as an AigAttemptError: its SQLSTATE, a message
 * scrubbed of the provider's key, whether retrying the same target may help,
 * whether it says something about the target's health (for the breaker) and
 * the provider's Retry-After.  The router decides what to do with it.
 *
 * Providers reached with OAuth access tokens (vertex_ai, azure_openai with
 * entra_id) get their token here, before every request is built (single
 * calls, batches, async jobs, shadow calls and embeddings all build here):
 * core/token_cache.c has it or fetches it.  Failing to get one is a failure
 * of the target like an upstream error.  A 401 to a request that carried a
 * cached token drops that token, fetches a new one and sends the request
 * once more (aig_token_rejected), once per call.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/errcodes.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "base/errcodes.h"
#include "routing/attempt.h"
#include "core/secrets.h"
#include "core/token_cache.h"
#include "governance/progress.h"

int			aig_batch_concurrency = 16;

/*
 * len bytes of provider text with every secret of provider p masked (its
 * key, sealed headers and other header values: aig_secret_scrub_provider).
 * Text from a provider is scrubbed whole, before anything cuts an excerpt
 * of it: a key echoed at the edge of a cut would otherwise leave a prefix
 * that no longer matches.
 */
static char *
scrub_secrets(const AigProvider *p, const char *s, size_t len, size_t *outlen)
{
	return aig_secret_scrub_provider(p, s, len, outlen);
}

/* A NUL-terminated message scrubbed of provider p's secrets. */
static char *
scrub_message(const AigProvider *p, const char *msg)
{
	size_t		len;

	return msg ? scrub_secrets(p, msg, strlen(msg), &len) : NULL;
}

static bool
fail(AigAttemptError *err, int code, long http_status, const AigProvider *p,
	 char *msg, bool retryable, bool health)
{
	err->sqlerrcode = code;
	err->http_status = http_status;
	err->message = scrub_message(p, msg);
	err->retryable = retryable;
	err->health_failure = health;
	err->final = false;
	err->retry_after_ms = -1;
	return false;
}

/*
 * Put a valid access token on p for the request about to be built (nothing
 * for key auth).  rejected: the token the upstream just refused, or NULL.
 * False + err when none can be had.
 */
static bool
attach_token(AigProvider *p, const char *rejected, AigAttemptError *err)
{
	char	   *msg = NULL;
	bool		retryable = false;
	char	   *tok;

	if (p->auth == AIG_AUTH_KEY || p->key_problem != NULL)
		return true;
	tok = aig_token_get(p, rejected, &msg, &retryable);
	if (tok == NULL)
		return fail(err, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, 0, p,
					psprintf("no access token: %s", msg), retryable, true);
	if (p->access_token == NULL || strcmp(p->access_token, tok) != 0)
	{
		/* in the provider's own (catalog) memory: it lives as long as p */
		char	   *old = p->access_token;

		p->access_token = MemoryContextStrdup(GetMemoryChunkContext(p), tok);
		if (old != NULL)
		{
			explicit_bzero(old, strlen(old));
			pfree(old);
		}
	}
	explicit_bzero(tok, strlen(tok));
	return true;
}

/*
 * The upstream answered 401 to a request of t that carried an access
 * token: drop that token and get a new one (true: the request may be sent
 * once more), or false (not a token's 401, or no new token: err says why
 * when one was set).
 */
bool
aig_token_rejected(AigTarget *t, const AigHttpRequest *sent, const AigHttpResponse *resp,
				   AigAttemptError *err)
{
	AigProvider *p = t->provider;
	AigAttemptError terr;
	const char *used = NULL;

	if (p->auth == AIG_AUTH_KEY || resp->failed || resp->status != 401)
		return false;
	/* the token that request carried (another may be on p by now, in a batch) */
	for (int i = 0; i < sent->nheaders && used == NULL; i++)
		if (pg_strncasecmp(sent->headers[i], "Authorization: Bearer ", 22) == 0)
			used = sent->headers[i] + 22;
	if (used == NULL)
		return false;
	memset(&terr, 0, sizeof(terr));
	if (!attach_token(p, used, &terr))
	{
		*err = terr;
		return false;
	}
	return true;
}

bool
aig_target_usable(const AigTarget *t, bool embeddings, AigAttemptError *err)
{
	const AigProvider *p = t->provider;

	if (p->key_problem)
		return fail(err, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, 0, p,
					pstrdup(p->key_problem), false, false);
	if (embeddings && p->dialect->build_embed == NULL)
		return fail(err, ERRCODE_FEATURE_NOT_SUPPORTED, 0, p,
					psprintf("%s providers have no embeddings API", p->kind), false, false);
	return true;
}

/* An HTTP exchange ended: was it a success we can parse? */
static bool
exchange_ok(const AigProvider *p, AigHttpResponse *resp, AigAttemptError *err)
{
	if (resp->failed)
	{
		/* a size or URL problem is not the provider's ill health */
		bool		health = resp->retryable;

		fail(err, resp->sqlerrcode, resp->status, p, resp->error, resp->retryable, health);
		return false;
	}
	if (resp->status < 200 || resp->status > 299)
	{
		AigUpstreamError ue;
		size_t		len;
		char	   *body = scrub_secrets(p, resp->body ? resp->body : "", resp->body_len, &len);

		/* scrubbed before the dialect cuts its excerpt */
		p->dialect->parse_error(resp->status, body, len, &ue);
		fail(err, ue.sqlerrcode, resp->status, p,
			 psprintf("HTTP %ld: %s", resp->status,
					  ue.message ? ue.message : "no error message"),
			 ue.retryable, ue.retryable);
		err->retry_after_ms = resp->retry_after_ms >= 0 ? resp->retry_after_ms :
			ue.retry_after_ms;
		/* a documented refusal in an error body (Azure's prompt filter) ends the call */
		err->final = ue.sqlerrcode == AIG_ERRCODE_MODEL_REFUSED;
		return false;
	}
	return true;
}

static bool
invalid_response(const AigProvider *p, long status, const char *why, AigAttemptError *err)
{
	/* garbage from a provider is ill health, and may pass */
	return fail(err, AIG_ERRCODE_PROVIDER_BAD_ANSWER, status, p,
				psprintf("invalid response: %s", why ? why : "unreadable body"),
				true, true);
}

/*
 * The reason a body could not be read, from the body scrubbed of secrets:
 * the dialect's reason may quote a cut excerpt of it.  Error path only.
 */
static char *
clean_why(const AigProvider *p, const AigHttpResponse *resp, char *why, bool embed)
{
	AigChatResult chat;
	AigEmbedResult vectors;
	size_t		len;
	char	   *body;
	char	   *why2 = NULL;
	bool		ok;

	if (why == NULL || resp->body == NULL)
		return why;
	body = scrub_secrets(p, resp->body, resp->body_len, &len);
	memset(&chat, 0, sizeof(chat));
	memset(&vectors, 0, sizeof(vectors));
	ok = embed ? p->dialect->parse_embed(body, len, &vectors, &why2) :
		p->dialect->parse_chat(body, len, &chat, &why2);
	if (!ok && why2 != NULL)
		return why2;
	return pstrdup("unreadable body");
}

/* Provider text is UTF-8; make it valid text of the server encoding. */
static char *
provider_text(const char *s, const AigProvider *p, AigAttemptError *err)
{
	int			len = strlen(s);

	if (!pg_verify_mbstr(PG_UTF8, s, len, true))
	{
		invalid_response(p, 200, "content is not valid UTF-8", err);
		return NULL;
	}
	if (GetDatabaseEncoding() == PG_UTF8)
		return (char *) s;		/* verified just above */
	return pg_any_to_server(s, len, PG_UTF8);
}

/*
 * The provider answered with a refusal, a safety block or no text before
 * its output limit: an answer about the request, not about the target.  The
 * call ends here: no retry (it would be refused again, and each try is
 * paid), no other target (a refused prompt is not shopped around until some
 * model complies), no breaker charge (one caller's prompts must not shut
 * the target off for everyone).  res keeps the usage the provider billed.
 */
static bool
no_answer(const AigProvider *p, long status, AigChatResult *res, AigAttemptError *err)
{
	char	   *finish = res->finish_reason ? res->finish_reason : "none";
	char	   *text = res->refusal;

	/* both are the provider's text: checked like any content */
	if (!pg_verify_mbstr(PG_UTF8, finish, strlen(finish), true))
		finish = "?";
	if (text && !pg_verify_mbstr(PG_UTF8, text, strlen(text), true))
		text = NULL;
	if (text && GetDatabaseEncoding() != PG_UTF8)
		text = pg_any_to_server(text, strlen(text), PG_UTF8);
	if (res->kind == AIG_ANSWER_REFUSED)
		fail(err, AIG_ERRCODE_MODEL_REFUSED, status, p,
			 text ? psprintf("the model refused the request (finish reason %s): %s", finish, text) :
			 psprintf("the model refused the request (finish reason %s)", finish),
			 false, false);
	else
		fail(err, AIG_ERRCODE_MODEL_NO_TEXT, status, p,
			 psprintf("the output limit was reached before any text (finish reason %s)", finish),
			 false, false);
	err->final = true;
	return false;
}

/* A provider exchange outside a chat attempt (a Batch API request): ok, or err classified. */
bool
aig_exchange_ok(const AigProvider *p, AigHttpResponse *resp, AigAttemptError *err)
{
	return exchange_ok(p, resp, err);
}

/* An unreadable answer to such an exchange (the reason scrubbed of secrets). */
bool
aig_exchange_invalid(const AigProvider *p, AigHttpResponse *resp, char *why, AigAttemptError *err)
{
	size_t		len;

	return invalid_response(p, resp->status,
							why ? scrub_secrets(p, why, strlen(why), &len) : NULL, err);
}

/* Build the request of a chat attempt (false + err when the target is unusable). */
bool
aig_chat_build(AigTarget *t, AigChatRequest *req, AigHttpRequest *hreq, AigAttemptError *err)
{
	char	   *misfit;

	if (!aig_target_usable(t, false, err))
		return false;
	misfit = aig_check_chat_caps(t->provider, req);
	if (misfit != NULL)
		return fail(err, ERRCODE_FEATURE_NOT_SUPPORTED, 0, t->provider, misfit, false, false);
	misfit = aig_check_chat_options(t->provider, &req->opts);
	if (misfit != NULL)
		return fail(err, ERRCODE_INVALID_PARAMETER_VALUE, 0, t->provider, misfit, false, false);
	if (!attach_token(t->provider, NULL, err))
		return false;
	req->model = t->model;
	aig_http_request_init(hreq);
	t->provider->dialect->build_chat(t->provider, req, hreq);
	return true;
}

/* The tool calls of an answer: valid UTF-8 (kept as UTF-8: they go back to providers). */
static bool
tool_calls_ok(const AigProvider *p, AigChatResult *res, AigAttemptError *err)
{
	for (int i = 0; i < res->ntool_calls; i++)
	{
		AigToolCall *c = &res->tool_calls[i];

		if (c->id == NULL || c->name == NULL || c->arguments == NULL ||
			!pg_verify_mbstr(PG_UTF8, c->id, strlen(c->id), true) ||
			!pg_verify_mbstr(PG_UTF8, c->name, strlen(c->name), true) ||
			!pg_verify_mbstr(PG_UTF8, c->arguments, strlen(c->arguments), true))
			return invalid_response(p, 200, "a tool call is incomplete or not valid UTF-8", err);
	}
	return true;
}

/* Read a chat attempt's response into res, or classify its failure. */
bool
aig_chat_finish(AigTarget *t, const AigChatRequest *req, AigHttpResponse *resp,
				AigChatResult *res, AigAttemptError *err)
{
	AigProvider *p = t->provider;
	char	   *why = NULL;

	if (!exchange_ok(p, resp, err))
		return false;
	memset(res, 0, sizeof(*res));
	if (!p->dialect->parse_chat(resp->body, resp->body_len, res, &why))
		return invalid_response(p, resp->status, clean_why(p, resp, why, false), err);
	if (res->kind != AIG_ANSWER_TEXT)
		return no_answer(p, resp->status, res, err);
	res->content = provider_text(res->content, p, err);
	if (res->content == NULL)
		return false;
	if (res->finish_reason)
		res->finish_reason = provider_text(res->finish_reason, p, err);
	if (res->model)
		res->model = provider_text(res->model, p, err);
	if (!tool_calls_ok(p, res, err))
		return false;
	if (res->ntool_calls == 0 && req->opts.response_format != NULL)
	{
		char	   *miss = aig_check_structured_answer(req->opts.response_format, &res->content);

		if (miss != NULL)
			return fail(err, AIG_ERRCODE_SCHEMA_MISMATCH, resp->status, p,
						psprintf("the answer does not match the requested format: %s", miss),
						true, false);
	}
	return true;
}

bool
aig_attempt_chat(AigTarget *t, const AigHttpLimits *lim, void *arg, AigAttemptError *err)
{
	AigChatAttempt *a = (AigChatAttempt *) arg;
	AigHttpRequest hreq;
	AigHttpResponse resp;
	uint64		fetches = aig_token_backend_fetches();
	bool		fresh;

	if (!aig_chat_build(t, a->req, &hreq, err))
		return false;
	fresh = aig_token_backend_fetches() != fetches;	/* not a cached token */
	/* ai_gateway.progress shows the call while it waits (inside a batch: the batch) */
	aig_progress_begin("call", 1);
	aig_progress_provider(t->provider->name);
	aig_progress_inflight(1);
	PG_TRY();
	{
		aig_http_perform(&hreq, lim, &resp);
		/* a cached token refused: one new token, the request once more */
		if (!fresh && aig_token_rejected(t, &hreq, &resp, err))
		{
			aig_http_request_init(&hreq);
			t->provider->dialect->build_chat(t->provider, a->req, &hreq);
			aig_http_perform(&hreq, lim, &resp);
		}
	}
	PG_FINALLY();
	{
		aig_progress_end();
	}
	PG_END_TRY();
	return aig_chat_finish(t, a->req, &resp, a->result, err);
}

/* Default per-request token budget of embedding requests (OpenAI's is 300k). */
#define AIG_EMBED_TOKEN_BUDGET 250000

static int
embed_batch_size(const AigProvider *p)
{
	int			n = p->dialect->max_embed_batch;

	if (p->max_embed_batch > 0)
		n = Min(n, p->max_embed_batch);
	return Max(n, 1);
}

/* A run of inputs sent as one request. */
typedef struct EmbedChunk
{
	int			start;
	int			n;
} EmbedChunk;

/*
 * All inputs through one target, or nothing: vectors of one call never mix
 * models.  Inputs are cut into chunks of at most the provider's batch size,
 * its per-request token budget (options.max_embed_tokens, default
 * AIG_EMBED_TOKEN_BUDGET, estimated as bytes / 4) and as many inputs as
 * three quarters of ai_gateway.max_response_bytes holds by the answer-size
 * estimate (aig_embed_answer_bytes); the chunks are sent concurrently
 * (ai_gateway.batch_concurrency in flight, or the provider's
 * max_concurrency).  A chunk whose answer is still too large is split in
 * two and both halves sent; any other failing chunk fails the attempt and
 * the chunks still in flight are dropped.
 */
bool
aig_attempt_embed(AigTarget *t, const AigHttpLimits *lim, void *arg, AigAttemptError *err)
{
	AigEmbedAttempt *a = (AigEmbedAttempt *) arg;
	AigEmbedRequest *req = a->req;
	AigEmbedResult *res = a->result;
	AigProvider *p = t->provider;
	int			chunk = embed_batch_size(p);
	int64		budget = p->max_embed_tokens > 0 ? p->max_embed_tokens : AIG_EMBED_TOKEN_BUDGET;
	EmbedChunk *chunks = palloc(sizeof(EmbedChunk) * (2 * req->ninputs + 1));
	int			nchunks = 0;
	int			conc;
	AigHttpBatch *volatile batch = NULL;
	volatile bool ok = true;
	volatile int next = 0;
	volatile int done = 0;
	char	   *misfit;
	const char *native_type;
	AigEmbedRequest sized = *req;
	AigHttpRequest **sent;
	size_t		per_input;
	int			by_size;

	/* chunk boundaries: by count, by estimated tokens, by estimated answer size */
	sized.model = t->model;
	per_input = aig_embed_answer_bytes(p, &sized);
	if (per_input > 0)
	{
		by_size = (int) Max((size_t) 1, (lim->max_bytes / 4 * 3) / per_input);
		chunk = Min(chunk, by_size);
	}
	for (int i = 0; i < req->ninputs;)
	{
		int64		tokens = 0;
		int			j = i;

		while (j < req->ninputs && j - i < chunk)
		{
			int64		t = ((int64) strlen(req->inputs[j]) + 3) / 4;

			if (j > i && tokens + t > budget)
				break;
			tokens += t;
			j++;
		}
		chunks[nchunks].start = i;
		chunks[nchunks++].n = j - i;
		i = j;
	}
	conc = Min(nchunks, p->max_concurrency > 0 ?
						   Min(p->max_concurrency, aig_batch_concurrency) : aig_batch_concurrency);

	if (!aig_target_usable(t, true, err))
		return false;
	misfit = aig_check_embed_request(p, req, &native_type);
	if (misfit != NULL)
		return fail(err, ERRCODE_INVALID_PARAMETER_VALUE, 0, p, misfit, false, false);
	memset(res, 0, sizeof(*res));
	res->count = req->ninputs;
	res->vectors = palloc0(sizeof(float4 *) * Max(req->ninputs, 1));
	res->ndims = palloc0(sizeof(int) * Max(req->ninputs, 1));
	res->input_tokens = 0;
	if (nchunks == 0)
		return true;

	/* the access token, before the requests fan out; each request's, for a 401 */
	if (!attach_token(p, NULL, err))
		return false;
	sent = palloc0(sizeof(AigHttpRequest *) * (2 * req->ninputs + 1));

	PG_TRY();
	{
		aig_progress_begin("embed", nchunks);
		aig_progress_provider(p->name);
		batch = aig_http_batch_begin(Max(conc, 1));
		while (ok && done < nchunks)
		{
			AigHttpResponse resp;
			AigEmbedResult pres;
			char	   *why = NULL;
			int			c;

			while (next < nchunks && aig_http_batch_room(batch))
			{
				AigEmbedRequest part = *req;
				AigHttpRequest *hreq = palloc0(sizeof(AigHttpRequest));

				part.model = t->model;
				part.input_type = unconstify(char *, native_type);
				part.inputs = req->inputs + chunks[next].start;
				part.ninputs = chunks[next].n;
				aig_http_request_init(hreq);
				p->dialect->build_embed(p, &part, hreq);
				sent[next] = hreq;
				aig_http_batch_add(batch, next, hreq, lim);
				a->requests++;
				next++;
			}
			aig_progress_inflight(aig_http_batch_inflight(batch));
			c = aig_http_batch_wait(batch, 1000, &resp);
			if (c < 0)
				continue;
			done++;
			if (resp.failed && resp.sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED &&
				chunks[c].n > 1)
			{
				/* the answer outgrew the estimate: send the two halves instead */
				int			half = chunks[c].n / 2;

				chunks[nchunks].start = chunks[c].start;
				chunks[nchunks++].n = half;
				chunks[nchunks].start = chunks[c].start + half;
				chunks[nchunks++].n = chunks[c].n - half;
				aig_progress_item_done(false);
				continue;
			}
			if (!exchange_ok(p, &resp, err))
			{
				/* a refused token: the next try (a retry) gets a new one */
				if (aig_token_rejected(t, sent[c], &resp, err))
					err->retryable = true;
				aig_progress_item_done(true);
				ok = false;
				break;
			}
			aig_progress_item_done(false);
			memset(&pres, 0, sizeof(pres));
			if (!p->dialect->parse_embed(resp.body, resp.body_len, &pres, &why))
			{
				ok = invalid_response(p, resp.status, clean_why(p, &resp, why, true), err);
				break;
			}
			if (pres.count != chunks[c].n)
			{
				ok = invalid_response(p, resp.status,
									  psprintf("%d embeddings for %d inputs", pres.count, chunks[c].n),
									  err);
				break;
			}
			for (int i = 0; i < pres.count; i++)
			{
				res->vectors[chunks[c].start + i] = pres.vectors[i];
				res->ndims[chunks[c].start + i] = pres.ndims[i];
			}
			if (pres.input_tokens >= 0 && res->input_tokens >= 0)
				res->input_tokens += pres.input_tokens;
			else
				res->input_tokens = -1;
			if (resp.body)
				pfree(resp.body);
		}
	}
	PG_FINALLY();
	{
		aig_http_batch_end(batch);
		aig_progress_end();
	}
	PG_END_TRY();
	return ok;
}

/* Define ai_gateway.batch_concurrency (called from _PG_init). */
void
aig_attempt_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.batch_concurrency",
							"Requests in flight at once for set-based calls.",
							NULL,
							&aig_batch_concurrency,
							16, 1, 1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}
