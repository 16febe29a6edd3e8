/*
 * http_internal.h — what http.c (single transfers, the backend's handles,
 * socket accounting) and http_batch.c (many transfers at once) share.
 * Not for use outside src/transport.
 */
#ifndef AIG_HTTP_INTERNAL_H
#define AIG_HTTP_INTERNAL_H

#include "postgres.h"

#include <curl/curl.h>

#include "transport/http.h"

/*
 * Longest single sleep of a transfer's wait (http_wait.c): the latch and
 * the sockets wake it sooner; this only bounds a lost wake-up.
 */
#define AIG_WAIT_MAX_MS 1000

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

/* The backend's multi handle (NULL until first use). */
extern CURLM *aig_multi;

/* Sockets libcurl holds open now, each counted against the external FD budget. */
extern int	aig_open_sockets;

/* Create the backend's handles on first use. */
extern void aig_http_init(void);

/* Options every handle carries (callbacks, TLS, socket accounting), set once. */
extern void aig_http_configure_handle(CURL *h);

/* libcurl's body and header callbacks (userdata: an AigTransfer). */
extern size_t aig_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
extern size_t aig_header_cb(char *ptr, size_t size, size_t nitems, void *userdata);

/* A libcurl failure as a SQLSTATE and a message in resp. */
extern void aig_http_classify_error(CURL *h, CURLcode rc, const AigTransfer *t,
									const char *errbuf, const AigHttpLimits *lim,
									long status, AigHttpResponse *resp);

/* A multi handle driven by http_wait.c's socket and timer callbacks (NULL on OOM). */
extern CURLM *aig_http_multi_create(void);

/*
 * Sleep on the latch and libcurl's sockets (at most max_ms), then let
 * libcurl run what is ready.  False on a libcurl error.
 */
extern bool aig_http_wait(CURLM *m, long max_ms);

/* The multi handle was cleaned up / socket s closes / backend exit. */
extern void aig_http_wait_reset(void);
extern void aig_http_wait_forget(curl_socket_t s);
extern void aig_http_wait_cleanup(void);

/* TLS and HTTP/2 options of a new handle; the CAs of a transfer (http_tls.c). */
extern void aig_http_tls_configure(CURL *h);
extern bool aig_http_tls_select(CURL *h, const char *url, const AigHttpLimits *lim,
								char **last, char *err, size_t errlen);
extern void aig_http_tls_cleanup(void);

/* Free the pooled batch handles (http_batch.c; at the backend's exit). */
extern void aig_http_pool_cleanup(void);

#endif							/* AIG_HTTP_INTERNAL_H */
