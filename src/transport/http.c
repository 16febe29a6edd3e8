/*
 * http.c — the libcurl transport of one backend.
 *
 * Owns a per-backend curl multi handle and one reusable easy handle, created
 * on first use and cleaned up at process exit.  Options that never change
 * (TLS verification, HTTP/2, protocols, callbacks, keep-alive: http_tls.c
 * for the TLS ones) are set once when the handle is created; a call only
 * sets its URL, body, headers, limits and (when they change) CAs, so
 * the per-call cost stays close to a raw libcurl loop and the connection
 * cache of the multi handle keeps one TCP/TLS connection per upstream alive
 * across calls.
 *
 * The transfer runs through the multi interface's socket API: the backend
 * sleeps on its latch and the transfer's socket (http_wait.c), with a wait
 * event in pg_stat_activity, and checks QueryCancelPending /
 * ProcDiePending whenever it wakes, so statement_timeout and
 * pg_cancel_backend (which set the latch) end an in-flight call at once
 * and the postmaster's death ends the backend.  libcurl memory is
 * malloc'd: the receive
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
 * "out of file descriptors".  Batches (many transfers at once on the same
 * multi handle) are http_batch.c; the pieces both use are declared in
 * http_internal.h.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/errcodes.h"

#include "base/errcodes.h"
#include "base/compat.h"
#include "transport/http.h"
#include "transport/http_internal.h"

/* the extension version, from the control file (Makefile) */
#ifndef AIG_VERSION
#define AIG_VERSION "unknown"
#endif

CURLM	   *aig_multi = NULL;
static CURL *aig_easy = NULL;

/*
 * Sockets libcurl holds open now (in flight or idle in the connection
 * cache), each counted against PostgreSQL's external descriptor budget.
 */
int			aig_open_sockets = 0;

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
static char *last_ca = NULL;	/* the CA setting of the easy handle (http_tls.c) */

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
		aig_open_sockets++;
	return s;
}

/* libcurl closes a socket it opened through aig_open_socket: its budget comes back. */
static int
aig_close_socket(void *clientp, curl_socket_t item)
{
	int			rc;

	aig_http_wait_forget(item);
	rc = close(item);
	ReleaseExternalFD();
	aig_open_sockets--;
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
	aig_http_wait_cleanup();
	free(aig_rbuf);
	aig_rbuf = NULL;
	aig_rbuf_cap = 0;
	curl_slist_free_all(kept_headers);
	kept_headers = NULL;
	free(last_url);
	last_url = NULL;
	free(last_ca);
	last_ca = NULL;
	aig_http_pool_cleanup();
	aig_http_tls_cleanup();
}

size_t
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
size_t
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
void
aig_http_configure_handle(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	AIG_CURL_SET_PROTOCOLS(h);
	/* certificate checks always on, HTTP/2, shared TLS sessions: http_tls.c */
	aig_http_tls_configure(h);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ai_gateway/" AIG_VERSION);
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

/* The backend's multi handle and easy handle, created on first use. */
void
aig_http_init(void)
{
	static bool registered = false;

	if (aig_easy != NULL)
		return;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	aig_http_wait_reset();
	aig_multi = aig_http_multi_create();
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

	aig_http_configure_handle(aig_easy);
	free(last_url);
	last_url = NULL;
	free(last_ca);
	last_ca = NULL;
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
void
aig_http_classify_error(CURL *h, CURLcode rc, const AigTransfer *t, const char *errbuf,
						const AigHttpLimits *lim, long status, AigHttpResponse *resp)
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
			set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE,
						true, psprintf("could not connect: %s", why));
			break;
		case CURLE_COULDNT_CONNECT:
			/* curl's own text carries a varying "after N ms" */
			set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE,
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
					set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE,
								true, psprintf("could not connect within %d ms",
											   lim->connect_timeout_ms));
					break;
				}
			}
			set_failure(resp, AIG_ERRCODE_PROVIDER_TIMEOUT, true,
						psprintf("no complete response within %d ms", lim->timeout_ms));
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			set_failure(resp, ERRCODE_INVALID_PARAMETER_VALUE, false,
						psprintf("invalid provider URL: %s", why));
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
			set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE,
						false, psprintf("TLS failure: %s (the server's certificate is verified against the provider's options.ca_file, else ai_gateway.ca_bundle, else the system's CAs)",
										why));
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CERTPROBLEM:
			set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE,
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
				set_failure(resp, AIG_ERRCODE_PROVIDER_CONNECTION_LOST, true,
							psprintf("connection failed: %s", why));
			break;
	}
}

/* The stash of batch completions (http_internal.h); batches hold at most AIG_STASH. */
#define AIG_STASH 1024
static CURL *stash_h[AIG_STASH];
static CURLcode stash_rc[AIG_STASH];
static int	nstash = 0;

void
aig_http_stash_push(CURL *h, CURLcode rc)
{
	if (nstash < AIG_STASH)
	{
		stash_h[nstash] = h;
		stash_rc[nstash++] = rc;
	}
}

bool
aig_http_stash_pop(CURL **h, CURLcode *rc)
{
	if (nstash == 0)
		return false;
	*h = stash_h[0];
	*rc = stash_rc[0];
	memmove(stash_h, stash_h + 1, sizeof(CURL *) * (nstash - 1));
	memmove(stash_rc, stash_rc + 1, sizeof(CURLcode) * (nstash - 1));
	nstash--;
	return true;
}

void
aig_http_stash_clear(void)
{
	nstash = 0;
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

	if (!aig_http_tls_select(aig_easy, req->url, lim, &last_ca, errbuf, sizeof(errbuf)))
	{
		set_failure(resp, AIG_ERRCODE_PROVIDER_UNREACHABLE, false, pstrdup(errbuf));
		return;
	}
	if (last_url == NULL || strcmp(last_url, req->url) != 0)
	{
		/* libcurl keeps its own copy; ours tells the next call what is set */
		free(last_url);
		last_url = NULL;
		if (curl_easy_setopt(aig_easy, CURLOPT_URL, req->url) == CURLE_OK)
			last_url = strdup(req->url);
	}
	if (req->get)
		curl_easy_setopt(aig_easy, CURLOPT_HTTPGET, 1L);
	else
	{
		curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDS, req->body);
	}
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
	if (curl_multi_add_handle(aig_multi, aig_easy) != CURLM_OK)
		rc = CURLE_FAILED_INIT;
	else
		for (;;)
		{
			CURLMsg    *msg;
			int			left;
			bool		done = false;

			while ((msg = curl_multi_info_read(aig_multi, &left)) != NULL)
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == aig_easy)
				{
					rc = msg->data.result;
					done = true;
				}
				else if (msg->msg == CURLMSG_DONE)
					aig_http_stash_push(msg->easy_handle, msg->data.result);	/* a batch's */
			if (done)
				break;
			if (QueryCancelPending || ProcDiePending)
			{
				interrupted = true;
				break;
			}
			/* asleep until the socket, the latch or libcurl's timer wakes us */
			if (!aig_http_wait(aig_multi, AIG_WAIT_MAX_MS))
			{
				rc = CURLE_FAILED_INIT;
				break;
			}
		}
	curl_easy_getinfo(aig_easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(aig_multi, aig_easy);
	/* never leave pointers to this call's memory in the long-lived handle */
	curl_easy_setopt(aig_easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(aig_easy, CURLOPT_POSTFIELDS, NULL);
	if (req->get)
		curl_easy_setopt(aig_easy, CURLOPT_POST, 1L);	/* the handle's usual method */
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
			aig_http_classify_error(aig_easy, rc, &t, errbuf, lim, status, resp);
	}
	PG_FINALLY();
	{
		keep_buffer(&t);
	}
	PG_END_TRY();
}
