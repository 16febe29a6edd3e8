/*
 * http.h — libcurl transport: one request, or many at once; the request,
 * limits and response types (the dialects in providers/ fill requests and
 * read responses; transport knows nothing of providers).
 *
 * A backend keeps one curl multi handle and its easy handles for its whole
 * life, so connections (keep-alive, TLS sessions) are reused across calls.
 * Transport failures are returned, not raised, so the router can fail over;
 * only a query cancel or termination request is raised (after cleanup).
 */
#ifndef AIG_HTTP_H
#define AIG_HTTP_H

#include "postgres.h"

#define AIG_MAX_HEADERS 16

/* What http.c sends (a dialect fills it: providers/provider.h). */
typedef struct AigHttpRequest
{
	char	   *url;
	char	   *body;
	size_t		body_len;
	int			nheaders;
	const char *headers[AIG_MAX_HEADERS];	/* "Name: value" */
	bool		get;			/* a GET (body unused); else a POST of body */
} AigHttpRequest;

typedef struct AigHttpLimits
{
	int			timeout_ms;
	int			connect_timeout_ms;
	size_t		max_bytes;
	const char *ca_file;		/* the provider's options.ca_file: a file name
								 * in ai_gateway.ca_directory, or NULL */
} AigHttpLimits;

typedef struct AigHttpResponse
{
	long		status;			/* HTTP status, 0 when none was received */
	char	   *body;			/* palloc'd, NUL-terminated; NULL if none */
	size_t		body_len;
	char	   *content_type;	/* palloc'd or NULL */
	int			retry_after_ms; /* Retry-After / retry-after-ms, -1 if none */
	double		elapsed_ms;

	/* transport failure (status == 0 or body unusable) */
	bool		failed;
	int			sqlerrcode;
	char	   *error;			/* palloc'd, names no secret */
	bool		retryable;
} AigHttpResponse;

/* GUCs: ai_gateway.connect_timeout_ms, max_response_bytes, ca_bundle, ca_directory */
extern int	aig_connect_timeout_ms;
extern int	aig_max_response_bytes;
extern char *aig_ca_bundle;
extern char *aig_ca_directory;

/*
 * Is name usable as options.ca_file (a plain file name: letters, digits,
 * '.', '_', '-', not starting with '.')?  The catalog checks it when a
 * provider is written; the transport again before it opens the file.
 */
extern bool aig_ca_file_name_ok(const char *name);

/* Define the transport's GUCs (called from _PG_init). */
extern void aig_http_define_gucs(void);

extern void aig_http_perform(const AigHttpRequest *req, const AigHttpLimits *lim,
							 AigHttpResponse *resp);

/* Many transfers at once (see http.c). */
typedef struct AigHttpBatch AigHttpBatch;
extern AigHttpBatch *aig_http_batch_begin(int concurrency);
extern bool aig_http_batch_room(const AigHttpBatch *b);
extern int	aig_http_batch_inflight(const AigHttpBatch *b);
extern void aig_http_batch_add(AigHttpBatch *b, int tag, const AigHttpRequest *req,
							   const AigHttpLimits *lim);
extern int	aig_http_batch_wait(AigHttpBatch *b, long timeout_ms, AigHttpResponse *resp);
extern void aig_http_batch_end(AigHttpBatch *b);

/*
 * Did the process latch wake a transfer's wait since the last look
 * (cleared by looking)?  Transfers wait on the latch and reset it, so a
 * caller that is signalled through it (the job worker) asks here.
 */
extern bool aig_http_take_wakeup(void);


#endif							/* AIG_HTTP_H */
