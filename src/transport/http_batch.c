/*
 * http_batch.c — many transfers in flight at once on the backend's curl
 * multi handle (http.c), so they share its connection cache with single
 * calls.  Used by routing/batch.c (ai_complete_batch, the job worker) and
 * by embeddings sent in chunks.
 *
 * Easy handles are pooled per backend and configured once.  The caller
 * adds transfers while there is room and waits for completions one at a
 * time; every malloc'd piece (header lists, buffers) is freed when its
 * transfer completes or at aig_http_batch_end(), which callers run on
 * every path (PG_FINALLY / PG_CATCH), so a cancel or an error frees
 * everything.
 *
 * File descriptors: a batch's concurrency is cut to half the room left in
 * PostgreSQL's external descriptor budget (http.c counts every socket
 * against it), and when a batch leaves more than AIG_KEEP_SOCKETS idle
 * connections open the connection cache is closed at its end.  Against an
 * HTTP/2 upstream the transfers share one connection (http_tls.c), so one
 * socket serves the batch and the cut is only an upper bound.  A transfer
 * whose CA settings cannot be used (options.ca_file) never starts: it is
 * reported as failed by the next aig_http_batch_wait.
 */
#include "postgres.h"

#include <math.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/fd.h"

#include "base/compat.h"
#include "base/errcodes.h"
#include "transport/http.h"
#include "transport/http_internal.h"

/* Idle connections kept after a batch: beyond it the cache is closed. */
#define AIG_KEEP_SOCKETS 32

#define AIG_BATCH_MAX 1024

typedef struct BatchSlot
{
	CURL	   *h;
	bool		busy;
	int			tag;
	AigTransfer t;
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];
	AigHttpLimits lim;
	instr_time	start;
	bool		refused;		/* failed before it started: message in errbuf */
} BatchSlot;

struct AigHttpBatch
{
	int			nslots;
	int			inflight;
	BatchSlot  *slots;			/* malloc'd */
};

static CURL *pool[AIG_BATCH_MAX];
static char *pool_ca[AIG_BATCH_MAX];	/* each handle's CA setting (http_tls.c) */
static int	npool = 0;
static int	active_batches = 0;	/* begun and not yet ended */

/*
 * How many more descriptors the external budget has room for, up to
 * `want` (taken and given straight back: this backend is single-threaded,
 * nothing takes them in between).
 */
static int
fd_room(int want)
{
	int			n = 0;

	while (n < want && AcquireExternalFD())
		n++;
	for (int i = 0; i < n; i++)
		ReleaseExternalFD();
	return n;
}

/*
 * Transfers a batch may run at once: the concurrency asked for, cut to
 * half the room left in the external descriptor budget (a transfer's
 * socket, and room for a resolver's or a second address family's
 * transient one), at least one.
 */
static int
batch_slots(int concurrency)
{
	concurrency = Max(1, Min(concurrency, AIG_BATCH_MAX));
	return Max(1, Min(concurrency, fd_room(2 * concurrency) / 2));
}

/* Begin a batch of up to `concurrency` transfers (cut to the FD budget). */
AigHttpBatch *
aig_http_batch_begin(int concurrency)
{
	AigHttpBatch *b;

	aig_http_init();
	concurrency = batch_slots(concurrency);
	while (npool < concurrency)
	{
		CURL	   *h = curl_easy_init();

		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		aig_http_configure_handle(h);
		pool[npool++] = h;
	}
	b = palloc0(sizeof(AigHttpBatch));
	b->nslots = concurrency;
	b->slots = calloc(concurrency, sizeof(BatchSlot));
	if (b->slots == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (int i = 0; i < concurrency; i++)
		b->slots[i].h = pool[i];
	active_batches++;
	return b;
}

/* Is there a free transfer slot? */
bool
aig_http_batch_room(const AigHttpBatch *b)
{
	return b->inflight < b->nslots;
}

/* Transfers in flight now. */
int
aig_http_batch_inflight(const AigHttpBatch *b)
{
	return b->inflight;
}

/* A slot's transfer is over or dropped: off the multi handle, its memory freed. */
static void
release_slot(BatchSlot *s)
{
	if (!s->refused)
		curl_multi_remove_handle(aig_multi, s->h);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	free(s->t.buf);
	memset(&s->t, 0, sizeof(s->t));
	s->busy = false;
	s->refused = false;
}

/*
 * Start a transfer; the request's URL and body must live until it
 * completes (the caller's memory context).
 */
void
aig_http_batch_add(AigHttpBatch *b, int tag, const AigHttpRequest *req,
				   const AigHttpLimits *lim)
{
	BatchSlot  *s = NULL;

	for (int i = 0; i < b->nslots; i++)
		if (!b->slots[i].busy)
		{
			s = &b->slots[i];
			break;
		}
	if (s == NULL)
		elog(ERROR, "no free transfer slot in the batch");
	s->tag = tag;
	s->errbuf[0] = '\0';
	if (!aig_http_tls_select(s->h, req->url, lim, &pool_ca[s - b->slots], s->errbuf, sizeof(s->errbuf)))
	{
		/* never started: aig_http_batch_wait reports it first */
		memset(&s->t, 0, sizeof(s->t));
		s->lim = *lim;
		s->refused = true;
		s->busy = true;
		b->inflight++;
		return;
	}
	for (int i = 0; i < req->nheaders; i++)
	{
		struct curl_slist *nh = curl_slist_append(s->headers, req->headers[i]);

		if (nh == NULL)
		{
			curl_slist_free_all(s->headers);
			s->headers = NULL;
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
		s->headers = nh;
	}
	memset(&s->t, 0, sizeof(s->t));
	s->t.max_bytes = lim->max_bytes;
	s->t.retry_after_ms = -1;
	s->errbuf[0] = '\0';
	s->lim = *lim;
	s->tag = tag;
	curl_easy_setopt(s->h, CURLOPT_URL, req->url);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long) lim->timeout_ms);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, (long) lim->connect_timeout_ms);
	curl_easy_setopt(s->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) lim->max_bytes);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->t);
	curl_easy_setopt(s->h, CURLOPT_HEADERDATA, &s->t);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->h, CURLOPT_PRIVATE, (char *) s);
	INSTR_TIME_SET_CURRENT(s->start);
	if (curl_multi_add_handle(aig_multi, s->h) != CURLM_OK)
	{
		curl_slist_free_all(s->headers);
		s->headers = NULL;
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not start a transfer")));
	}
	s->busy = true;
	b->inflight++;
}

/*
 * Wait up to timeout_ms for a transfer to finish.  Returns its tag and
 * fills resp (as aig_http_perform would), or -1 when none finished in
 * time.  Even with no time to wait (timeout_ms 0) libcurl gets one
 * non-blocking turn, so transfers move on.  Cancels are raised here
 * (aig_http_batch_end cleans up).
 */
int
aig_http_batch_wait(AigHttpBatch *b, long timeout_ms, AigHttpResponse *resp)
{
	instr_time	start,
				now;
	bool		turned = false;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		CURLMsg    *msg;
		double		waited;
		int			left;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < b->nslots; i++)
		{
			BatchSlot  *s = &b->slots[i];
			int			tag;

			if (!s->busy || !s->refused)
				continue;
			memset(resp, 0, sizeof(*resp));
			resp->retry_after_ms = -1;
			resp->failed = true;
			resp->sqlerrcode = AIG_ERRCODE_PROVIDER_UNREACHABLE;
			resp->error = pstrdup(s->errbuf);
			tag = s->tag;
			release_slot(s);
			b->inflight--;
			return tag;
		}
		while ((msg = curl_multi_info_read(aig_multi, &left)) != NULL)
		{
			BatchSlot  *s = NULL;
			long		status = 0;
			instr_time	d;
			int			tag;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &s);
			if (s == NULL || !s->busy)
				continue;
			memset(resp, 0, sizeof(*resp));
			resp->retry_after_ms = -1;
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
			INSTR_TIME_SET_CURRENT(d);
			INSTR_TIME_SUBTRACT(d, s->start);
			resp->elapsed_ms = INSTR_TIME_GET_MILLISEC(d);
			resp->status = status;
			resp->retry_after_ms = s->t.retry_after_ms;
			if (s->t.content_type[0])
				resp->content_type = pstrdup(s->t.content_type);
			if (s->t.len > 0)
			{
				resp->body = palloc(s->t.len + 1);
				memcpy(resp->body, s->t.buf, s->t.len);
				resp->body[s->t.len] = '\0';
				resp->body_len = s->t.len;
			}
			if (msg->data.result != CURLE_OK)
				aig_http_classify_error(s->h, msg->data.result, &s->t, s->errbuf,
										&s->lim, status, resp);
			tag = s->tag;
			release_slot(s);
			b->inflight--;
			return tag;
		}
		if (b->inflight == 0)
			return -1;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		waited = INSTR_TIME_GET_MILLISEC(now);
		/* even with no time to wait, libcurl gets one turn: transfers move on */
		if (turned && waited >= timeout_ms)
			return -1;
		turned = true;
		/* asleep on the latch and the sockets (cancels wake it) */
		if (!aig_http_wait(aig_multi, Min((long) ceil(Max(timeout_ms - waited, 0)), AIG_WAIT_MAX_MS)))
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("libcurl failed while waiting for providers")));
	}
}

/*
 * Close every idle connection when more than AIG_KEEP_SOCKETS are open and
 * no transfer runs: a big batch does not keep its sockets for the life of
 * the backend.  The multi handle is made anew (its cleanup closes them
 * through aig_close_socket).
 */
static void
trim_connection_cache(void)
{
	CURLM	   *m;

	if (aig_open_sockets <= AIG_KEEP_SOCKETS || aig_multi == NULL || active_batches > 0)
		return;
	m = aig_http_multi_create();
	if (m == NULL)
		return;					/* keep the old one: nothing is lost */
	curl_multi_cleanup(aig_multi);
	aig_http_wait_reset();
	aig_multi = m;
}

/* End a batch: drop its transfers still in flight, free its slots (every path). */
void
aig_http_batch_end(AigHttpBatch *b)
{
	if (b == NULL || b->slots == NULL)
		return;
	for (int i = 0; i < b->nslots; i++)
		if (b->slots[i].busy)
			release_slot(&b->slots[i]);
	free(b->slots);
	b->slots = NULL;
	b->inflight = 0;
	active_batches--;
	trim_connection_cache();
}

/* Free the pooled easy handles (at the backend's exit, from http.c). */
void
aig_http_pool_cleanup(void)
{
	for (int i = 0; i < npool; i++)
	{
		curl_easy_cleanup(pool[i]);
		free(pool_ca[i]);
		pool_ca[i] = NULL;
	}
	npool = 0;
}
