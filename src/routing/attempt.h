/*
 * attempt.h — one attempt: a request to one target, its answer parsed or
 * its failure classified.
 */
#ifndef AIG_ATTEMPT_H
#define AIG_ATTEMPT_H

#include "postgres.h"

#include "core/catalog.h"
#include "transport/http.h"
#include "providers/provider.h"

typedef struct AigAttemptError
{
	int			sqlerrcode;
	char	   *message;		/* scrubbed of the key */
	long		http_status;	/* 0 when none */
	bool		retryable;		/* the same target may succeed if retried */
	bool		health_failure; /* counts against the target's breaker */
	bool		final;			/* ends the call: no retry, no other target
								 * (a refusal: an answer about the request) */
	int			retry_after_ms; /* the provider's Retry-After, -1 */
} AigAttemptError;

/* GUC ai_gateway.batch_concurrency: requests in flight for set-based calls */
extern int	aig_batch_concurrency;

/* Define ai_gateway.batch_concurrency (called from _PG_init). */
extern void aig_attempt_define_gucs(void);

/* What an attempt needs besides its target. */
typedef struct AigChatAttempt
{
	AigChatRequest *req;
	AigChatResult *result;
} AigChatAttempt;

typedef struct AigEmbedAttempt
{
	AigEmbedRequest *req;
	AigEmbedResult *result;
	int			requests;		/* HTTP requests sent so far */
} AigEmbedAttempt;

typedef bool (*AigAttemptFn) (AigTarget *t, const AigHttpLimits *lim, void *arg,
							  AigAttemptError *err);

extern bool aig_attempt_chat(AigTarget *t, const AigHttpLimits *lim, void *arg,
							 AigAttemptError *err);
extern bool aig_attempt_embed(AigTarget *t, const AigHttpLimits *lim, void *arg,
							  AigAttemptError *err);

/* The two halves of a chat attempt, for batches. */
/* A Batch API exchange: ok, or err classified as a chat attempt's would be (scrubbed). */
extern bool aig_exchange_ok(const AigProvider *p, AigHttpResponse *resp, AigAttemptError *err);
extern bool aig_exchange_invalid(const AigProvider *p, AigHttpResponse *resp, char *why,
								 AigAttemptError *err);

extern bool aig_chat_build(AigTarget *t, AigChatRequest *req, AigHttpRequest *hreq,
						   AigAttemptError *err);
/* structured.c: NULL when *content is what response_format asked for, else why not */
extern char *aig_check_structured_answer(const char *response_format, char **content);

extern bool aig_chat_finish(AigTarget *t, const AigChatRequest *req, AigHttpResponse *resp,
							AigChatResult *res, AigAttemptError *err);

/*
 * A 401 to request sent of t, which carried an access token: the token is
 * dropped and a new one put on the provider (true: send the request again,
 * once), else false (err set when no new token could be had).
 */
extern bool aig_token_rejected(AigTarget *t, const AigHttpRequest *sent,
							   const AigHttpResponse *resp, AigAttemptError *err);

/* A failure found before any request (key unusable, no embeddings API). */
extern bool aig_target_usable(const AigTarget *t, bool embeddings, AigAttemptError *err);

#endif							/* AIG_ATTEMPT_H */
