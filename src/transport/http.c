/*
 * http.c — the libcurl transport of one backend.
 *
 * Owns a per-backend curl multi handle and one reusable easy handle, created
 * on first use and cleaned up at process exit.  Options that never change
 * (TLS verification, protocols, callbacks, keep-alive) are set once when the
 * handle is created; a call only sets its URL, body, headers and limits, so
 * the per-call cost stays close to a raw libcurl loop and the connection
 * cache of the multi handle keeps one TCP/TLS connection per upstream alive
 * across calls.
 *
 * The transfer runs through the multi interface and polls in short slices,
 * checking QueryCancelPending / ProcDiePending between them, so
 * statement_timeout and pg_cancel_backend end an in-flight call within one
 * slice (AIG_POLL_SLICE_MS).  libcurl memory is malloc'd: the receive
 * buffer and the header list are kept for the next call (which mostly
 * sends the same headers) and freed at exit; however a call ends (success,
 * error, cancel), the easy handle is left without pointers into its memory
 * before an interrupt is serviced.
 *
 * File descriptors: every socket libcurl opens goes through
 * aig_open_socket / aig_close_socket, which count it against PostgreSQL's
 * budget of external descriptors (AcquireExternalFD / ReleaseExternalFD,
 * as libpq connections of postgres_fdw are): a socket beyond the budget is
 * refused ("could not connect", retryable) instead of leaving the server
 * "out of file descriptors".  A batch's concurrency is cut to what the
 * budget has room for, and when a batch leaves more idle connections open
 * than AIG_KEEP_SOCKETS the connection cache is closed at its end.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/errcodes.h"

#include "base/compat.h"
#include "transport/http.h"

#define AIG_POLL_SLICE_MS 10

/* What the callbacks fill during one transfer (malloc'd buffer). */
typedef struct AigTransfer
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	size_t		max_bytes;
	bool		oversized;
	bool		oom;
	int			retry_after_ms;
	char		content_type[128];
} AigTransfer;

static CURLM *aig_multi = NULL;
static CURL *aig_easy = NULL;

/*
 * Sockets libcurl holds open now (in flight or idle in the connection
 * cache), each counted against PostgreSQL's external descriptor budget.
 */
static int	open_sockets = 0;

/* Idle connections kept after a batch: beyond it the cache is closed. */
#define AIG_KEEP_SOCKETS 32

/*
 * The receive buffer outlives calls (malloc'd, grown on demand) so a call
 * does not pay a malloc/free of it; after an unusually large response it is
 * given back rather than kept.
 */
#define AIG_KEEP_BUFFER_MAX (1024 * 1024)
static char *aig_rbuf = NULL;
static size_t aig_rbuf_cap = 0;

/*
 * The header list of the last call, kept (malloc'd) for the next one:
 * calls to one provider send the same headers, so most calls reuse it
 * rather than build and free a list of their own.
 */
static struct curl_slist *kept_headers = NULL;

/* URL and limits last set on the easy handle: unchanged ones are not set again */
static char *last_url = NULL;	/* malloc'd copy */
static long last_timeout_ms = -1;
static long last_connect_timeout_ms = -1;
static curl_off_t last_max_bytes = -1;

static void aig_http_pool_cleanup(void);

/* libcurl opens a socket: only within PostgreSQL's external descriptor budget. */
static curl_socket_t
aig_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	curl_socket_t s;

	if (!AcquireExternalFD())
	{
		errno = EMFILE;
		return CURL_SOCKET_BAD;
	}
	s = socket(addr->family, addr->socktype, addr->protocol);
	if (s == CURL_SOCKET_BAD)
		ReleaseExternalFD();
	else
		open_sockets++;
	return s;
}

/* libcurl closes a socket it opened through aig_open_socket: its budget comes back. */
static int
aig_close_socket(void *clientp, curl_socket_t item)
{
	int			rc = close(item);

	ReleaseExternalFD();
	open_sockets--;
	return rc;
}

static void
aig_http_cleanup(int code, Datum arg)
{
	if (aig_easy)
	{
		if (aig_multi)
			curl_multi_remove_handle(aig_multi, aig_easy);
		curl_easy_cleanup(aig_easy);
		aig_easy = NULL;
	}
	if (aig_multi)
	{
		curl_multi_cleanup(aig_multi);
		aig_multi = NULL;
	}
	free(aig_rbuf);
	aig_rbuf = NULL;
	aig_rbuf_cap = 0;
	curl_slist_free_all(kept_headers);
	kept_headers = NULL;
	free(last_url);
	last_url = NULL;
	aig_http_pool_cleanup();
}

static size_t
aig_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	AigTransfer *t = (AigTransfer *) userdata;
	size_t		n = size * nmemb;

	if (t->len + n > t->max_bytes)
	{
		t->oversized = true;
		return 0;				/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = t->cap ? t->cap : 16384;
		char	   *nb;

		while (newcap < t->len + n + 1)
			newcap *= 2;
		nb = realloc(t->buf, newcap);
		if (nb == NULL)
		{
			t->oom = true;
			return 0;
		}
		t->buf = nb;
		t->cap = newcap;
	}
	memcpy(t->buf + t->len, ptr, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

static bool
header_is(const char *line, size_t len, const char *name, const char **value)
{
	size_t		nl = strlen(name);

	if (len <= nl || line[nl] != ':' || pg_strncasecmp(line, name, nl) != 0)
		return false;
	*value = line + nl + 1;
	while (**value == ' ' || **value == '\t')
		(*value)++;
	return true;
}

/* A header value as a C string, cut to the buffer's size. */
static void
copy_value(char *buf, size_t size, const char *v, size_t vlen)
{
	vlen = Min(vlen, size - 1);
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
}

/*
 * Parses Retry-After (seconds or HTTP date), retry-after-ms, Content-Type.
 * Called for every header line: the others are told apart by their first
 * letter, cheaply.
 */
static size_t
aig_header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
	AigTransfer *t = (AigTransfer *) userdata;
	size_t		n = size * nitems;
	const char *v;
	char		val[128];
	size_t		vlen;
	enum
	{
		CONTENT_TYPE, RETRY_AFTER_MS, RETRY_AFTER
	}			which;

	switch (n > 0 ? ptr[0] : '\0')
	{
		case 'H':
			if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
			{
				/* a new response (after 100-continue or similar): start over */
				t->retry_after_ms = -1;
				t->content_type[0] = '\0';
			}
			return n;
		case 'c':
		case 'C':
			if (!header_is(ptr, n, "content-type", &v))
				return n;
			which = CONTENT_TYPE;
			break;
		case 'r':
		case 'R':
			if (header_is(ptr, n, "retry-after-ms", &v))
				which = RETRY_AFTER_MS;
			else if (header_is(ptr, n, "retry-after", &v))
				which = RETRY_AFTER;
			else
				return n;
			break;
		default:
			return n;
	}

	vlen = n - (v - ptr);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (which == CONTENT_TYPE)
	{
		copy_value(t->content_type, sizeof(t->content_type), v, vlen);
		return n;
	}
	copy_value(val, sizeof(val), v, vlen);
	if (which == RETRY_AFTER_MS)
	{
		char	   *end;
		double		ms = strtod(val, &end);

		if (end != val && ms >= 0 && ms < 86400000.0)
			t->retry_after_ms = (int) ms;
	}
	else if (t->retry_after_ms < 0)
	{
		char	   *end;
		long		secs = strtol(val, &end, 10);

		if (end != val && *end == '\0' && secs >= 0 && secs < 86400)
			t->retry_after_ms = (int) secs * 1000;
		else
		{
			time_t		when = curl_getdate(val, NULL);

			if (when > 0)
			{
				time_t		now = time(NULL);

				t->retry_after_ms = when > now ? (int) Min(when - now, 86400) * 1000 : 0;
			}
		}
	}
	return n;
}

/* Options every handle carries, set once when it is created. */
static void
configure_handle(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	AIG_CURL_SET_PROTOCOLS(h);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (aig_ca_bundle && aig_ca_bundle[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, aig_ca_bundle);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ai_gateway/0.1.0");
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, aig_write_cb);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, aig_header_cb);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, aig_open_socket);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, aig_close_socket);

	/*
	 * Without proxy variables in the server's environment, tell libcurl so
	 * once instead of letting it scan the environment on every transfer
	 * (for the proxy, and for no_proxy / NO_PROXY, which then have nothing
	 * to exempt).
	 */
	if (!getenv("http_proxy") && !getenv("https_proxy") && !getenv("HTTPS_PROXY") &&
		!getenv("all_proxy") && !getenv("ALL_PROXY"))
	{
		curl_easy_setopt(h, CURLOPT_PROXY, "");
		curl_easy_setopt(h, CURLOPT_NOPROXY, "");
	}
}

static void
aig_http_init(void)
{
	static bool registered = false;

	if (aig_easy != NULL)
		return;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	aig_multi = curl_multi_init();
	aig_easy = curl_easy_init();
	if (aig_multi == NULL || aig_easy == NULL)
	{
		aig_http_cleanup(0, 0);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	if (!registered)
	{
		on_proc_exit(aig_http_cleanup, 0);
		registered = true;
	}

	configure_handle(aig_easy);
	free(last_url);
	last_url = NULL;
	last_timeout_ms = last_connect_timeout_ms = -1;
	last_max_bytes = -1;
}

/* Does the list hold exactly the request's headers, in order? */
static bool
same_headers(const struct curl_slist *l, const AigHttpRequest *req)
{
	int			i = 0;

	for (; l != NULL; l = l->next, i++)
		if (i >= req->nheaders || strcmp(l->data, req->headers[i]) != 0)
			return false;
	return i == req->nheaders;
}

/* The request's headers as a curl list: the kept one when they match. */
static struct curl_slist *
request_headers(const AigHttpRequest *req)
{
	struct curl_slist *headers = NULL;

	if (kept_headers != NULL && same_headers(kept_headers, req))
		return kept_headers;
	curl_slist_free_all(kept_headers);
	kept_headers = NULL;
	for (int i = 0; i < req->nheaders; i++)
	{
		struct curl_slist *nh = curl_slist_append(headers, req->headers[i]);

		if (nh == NULL)
		{
			curl_slist_free_all(headers);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory building HTTP headers")));
		}
		headers = nh;
	}
	kept_headers = headers;
	return headers;
}

/* Hand the transfer's buffer back for the next call (or free a huge one). */
static void
keep_buffer(AigTransfer *t)
{
	if (t->cap > AIG_KEEP_BUFFER_MAX)
	{
		free(t->buf);
		aig_rbuf = NULL;
		aig_rbuf_cap = 0;
	}
	else
	{
		aig_rbuf = t->buf;
		aig_rbuf_cap = t->cap;
	}
	t->buf = NULL;
}

static void
set_failure(AigHttpResponse *resp, int sqlerrcode, bool retryable, char *msg)
{
	resp->failed = true;
	resp->sqlerrcode = sqlerrcode;
	resp->retryable = retryable;
	resp->error = msg;
}

/* Turn a libcurl result code into a SQLSTATE and a message. */
static void
classify_transport_error(CURL *h, CURLcode rc, const AigTransfer *t, const char *errbuf,
						 const AigHttpLimits *lim, long status,
						 AigHttpResponse *resp)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (t->oversized || rc == CURLE_FILESIZE_EXCEEDED)
	{
		set_failure(resp, ERRCODE_PROGRAM_LIMIT_EXCEEDED, false,
					psprintf("response larger than ai_gateway.max_response_bytes (%zu bytes)",
							 lim->max_bytes));
		return;
	}
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			set_failure(resp, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						true, psprintf("could not connect: %s", why));
			break;
		case CURLE_COULDNT_CONNECT:
			/* curl's own text carries a varying "after N ms" */
			set_failure(resp, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						true, pstrdup("could not connect: connection refused or host unreachable"));
			break;
		case CURLE_OPERATION_TIMEDOUT:
			if (status == 0 && t->len == 0)
			{
				curl_off_t	connect_us = 0;
				curl_off_t	pretransfer_us = 0;

				/*
				 * A reused keep-alive connection reports no connect time;
				 * it had its request sent (pretransfer time set), so a
				 * timeout there is a missing answer, not a failed connect.
				 */
				curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
				curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
				if (connect_us == 0 && pretransfer_us == 0)
				{
					set_failure(resp, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
								true, psprintf("could not connect within %d ms",
											   lim->connect_timeout_ms));
					break;
				}
			}
			set_failure(resp, ERRCODE_CONNECTION_FAILURE, true,
						psprintf("no complete response within %d ms", lim->timeout_ms));
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			set_failure(resp, ERRCODE_INVALID_PARAMETER_VALUE, false,
						psprintf("invalid provider URL: %s", why));
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CACERT_BADFILE:
			set_failure(resp, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						false, psprintf("TLS failure: %s", why));
			break;
		case CURLE_OUT_OF_MEMORY:
			set_failure(resp, ERRCODE_OUT_OF_MEMORY, false,
						pstrdup("out of memory while receiving the response"));
			break;
		default:
			if (t->oom)
				set_failure(resp, ERRCODE_OUT_OF_MEMORY, false,
							pstrdup("out of memory while receiving the response"));
			else
				set_failure(resp, ERRCODE_CONNECTION_FAILURE, true,
							psprintf("connection failed: %s", why));
			break;
	}
}

/*
 * Send one request and wait for its response, servicing cancels.
 * Transport failures come back in resp (failed = true); a cancel or die
 * request is raised here after libcurl's state is cleaned up.
 */
void
aig_http_perform(const AigHttpRequest *req, const AigHttpLimits *lim,
				 AigHttpResponse *resp)
{
	AigTransfer t;
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];
	volatile CURLcode rc = CURLE_OK;
	volatile bool interrupted = false;
	int			running = 1;
	long		status = 0;
	instr_time	start,
				duration;

	aig_http_init();
	headers = request_headers(req);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	memset(&t, 0, sizeof(t));
	t.buf = aig_rbuf;
	t.cap = aig_rbuf_cap;
	t.max_bytes = lim->max_bytes;
	t.retry_after_ms = -1;
	errbuf[0] = '\0';

	if (last_url == NULL || strcmp(last_url, req->url) != 0)
	{
		/* libcurl keeps its own copy; ours tells the next call what is set */
		free(last_url);
		last_url = NULL;
		if (curl_easy_setopt(aig_easy, CURLOPT_URL, req->url) == CURLE_OK)
			last_url = strdup(req->url);
	}
	curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(aig_easy, CURLOPT_HTTPHEADER, headers);
	if (last_timeout_ms != lim->timeout_ms)
	{
		curl_easy_setopt(aig_easy, CURLOPT_TIMEOUT_MS, (long) lim->timeout_ms);
		last_timeout_ms = lim->timeout_ms;
	}
	if (last_connect_timeout_ms != lim->connect_timeout_ms)
	{
		curl_easy_setopt(aig_easy, CURLOPT_CONNECTTIMEOUT_MS, (long) lim->connect_timeout_ms);
		last_connect_timeout_ms = lim->connect_timeout_ms;
	}
	if (last_max_bytes != (curl_off_t) lim->max_bytes)
	{
		curl_easy_setopt(aig_easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) lim->max_bytes);
		last_max_bytes = (curl_off_t) lim->max_bytes;
	}
	curl_easy_setopt(aig_easy, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(aig_easy, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(aig_easy, CURLOPT_ERRORBUFFER, errbuf);

	INSTR_TIME_SET_CURRENT(start);
	curl_multi_add_handle(aig_multi, aig_easy);
	for (;;)
	{
		CURLMcode	mc = curl_multi_perform(aig_multi, &running);

		if (mc != CURLM_OK)
		{
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (running == 0)
		{
			CURLMsg    *msg;
			int			left;

			while ((msg = curl_multi_info_read(aig_multi, &left)) != NULL)
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == aig_easy)
					rc = msg->data.result;
			break;
		}
		if (QueryCancelPending || ProcDiePending)
		{
			interrupted = true;
			break;
		}
		aig_curl_multi_poll(aig_multi, NULL, 0, AIG_POLL_SLICE_MS, NULL);
		if (QueryCancelPending || ProcDiePending)
		{
			interrupted = true;
			break;
		}
	}
	curl_easy_getinfo(aig_easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(aig_multi, aig_easy);
	/* never leave pointers to this call's memory in the long-lived handle */
	curl_easy_setopt(aig_easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(aig_easy, CURLOPT_ERRORBUFFER, NULL);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	resp->elapsed_ms = INSTR_TIME_GET_MILLISEC(duration);

	if (interrupted)
	{
		keep_buffer(&t);
		CHECK_FOR_INTERRUPTS();
		/* a cancel that CHECK_FOR_INTERRUPTS did not honour (e.g. held off) */
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling provider request due to user request")));
	}

	PG_TRY();
	{
		resp->status = status;
		if (t.content_type[0])
			resp->content_type = pstrdup(t.content_type);
		resp->retry_after_ms = t.retry_after_ms;
		if (t.len > 0)
		{
			resp->body = palloc(t.len + 1);
			memcpy(resp->body, t.buf, t.len);
			resp->body[t.len] = '\0';
			resp->body_len = t.len;
		}
		if (rc != CURLE_OK)
			classify_transport_error(aig_easy, rc, &t, errbuf, lim, status, resp);
	}
	PG_FINALLY();
	{
		keep_buffer(&t);
	}
	PG_END_TRY();
}


/*
 * Batches: many transfers in flight at once on the backend's multi handle
 * (so they share its connection cache with single calls).  Easy handles
 * are pooled per backend and configured once.  The caller adds transfers
 * while there is room, and waits for completions one at a time; every
 * malloc'd piece (header lists, buffers) is freed when its transfer
 * completes or at aig_http_batch_end(), which callers run in PG_FINALLY so
 * a cancel or an error frees everything.
 */
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
} BatchSlot;

struct AigHttpBatch
{
	int			nslots;
	int			inflight;
	BatchSlot  *slots;			/* malloc'd */
};

static CURL *pool[AIG_BATCH_MAX];
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
		configure_handle(h);
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

bool
aig_http_batch_room(const AigHttpBatch *b)
{
	return b->inflight < b->nslots;
}

int
aig_http_batch_inflight(const AigHttpBatch *b)
{
	return b->inflight;
}

static void
release_slot(BatchSlot *s)
{
	curl_multi_remove_handle(aig_multi, s->h);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	free(s->t.buf);
	memset(&s->t, 0, sizeof(s->t));
	s->busy = false;
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
 * time.  Cancels are raised here (aig_http_batch_end cleans up).
 */
int
aig_http_batch_wait(AigHttpBatch *b, long timeout_ms, AigHttpResponse *resp)
{
	instr_time	start,
				now;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		int			running;
		CURLMsg    *msg;
		int			left;

		CHECK_FOR_INTERRUPTS();
		curl_multi_perform(aig_multi, &running);
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
				classify_transport_error(s->h, msg->data.result, &s->t, s->errbuf,
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
		if (INSTR_TIME_GET_MILLISEC(now) >= timeout_ms)
			return -1;
		aig_curl_multi_poll(aig_multi, NULL, 0, AIG_POLL_SLICE_MS, NULL);
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

	if (open_sockets <= AIG_KEEP_SOCKETS || aig_multi == NULL || active_batches > 0)
		return;
	m = curl_multi_init();
	if (m == NULL)
		return;					/* keep the old one: nothing is lost */
	curl_multi_cleanup(aig_multi);
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

static void
aig_http_pool_cleanup(void)
{
	for (int i = 0; i < npool; i++)
		curl_easy_cleanup(pool[i]);
	npool = 0;
}
