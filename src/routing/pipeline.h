/*
 * pipeline.h — the one path every call takes (pipeline.c): its stages, in
 * their fixed order, for one chat call, many chat calls at once, an
 * embeddings call and a shadow copy.  Entry points (SQL functions, the job
 * worker, the shadow worker) only turn their arguments into a normalized
 * request and options and hand them here.
 */
#ifndef AIG_PIPELINE_H
#define AIG_PIPELINE_H

#include "postgres.h"

#include "portability/instr_time.h"
#include "utils/jsonb.h"

#include "governance/cache.h"
#include "governance/quota.h"
#include "governance/redact.h"
#include "routing/router.h"
#include "routing/strategy.h"

/* Everything about a call that accounting needs, fixed before it runs. */
typedef struct CallAccount
{
	AigQuotaTicket ticket;
	int64		est_tokens;
	char	   *metadata;		/* JSON text */
	char	   *prompt;			/* JSON text, only with log_prompts */
	char	   *route_label;
	Oid			roleid;			/* audit row's role: InvalidOid = current user */
	Oid			session_roleid; /* audit row's login role (identity.h) */
	bool		shadow;			/* audit row of a shadow copy */
	instr_time	start;
} CallAccount;

/* One chat call on its way through the pipeline. */
typedef struct AigChatCall
{
	/* in: filled by the entry point */
	AigRoute   *route;
	AigChatRequest *req;		/* NULL: nothing to send (a batch's NULL row) */
	AigCallOptions *co;
	Jsonb	   *opts;			/* options as given: the request hook's view */
	bool		want_text;		/* answer: the content (after the response hook) */
	bool		want_object;	/* response: the normalized result object */
	Oid			session_role;	/* on behalf of this login role (an async job's
								 * session); InvalidOid: this session's */

	/* out */
	bool		ok;
	char	   *answer;			/* content for the caller (unredacted, hooked) */
	Jsonb	   *response;		/* result object after the response hook, or NULL */
	AigChatResult result;		/* the provider's (or the cache's) answer as sent */
	AigCallInfo info;
	char	   *error;			/* when !ok and req != NULL */
	bool		retryable;		/* a later retry may succeed (async jobs) */
	int			retry_after_ms; /* the provider's Retry-After, -1 */

	/* the pipeline's own */
	AigRedaction *map;			/* placeholders to undo, or NULL */
	bool		cacheable;
	AigCacheKey key;
	CallAccount acc;
	bool		accounted;		/* acc set up: one audit record owed */
	bool		charged;		/* quota reserved: one settle owed */
	bool		answered;		/* a target (or the cache) answered */
	bool		done;			/* no attempts needed (refused, failed or a hit) */
	bool		cache_hit;
	AigOrderContext ctx;
	AigCandidate *cands;
	int			ncand;
	instr_time	start;
} AigChatCall;

/* Stage 1, resolve route: model string -> route (pinned versions keep today's policy). */
extern AigRoute *aig_pipeline_resolve(const char *model);

/* A pinned version ("route@N") takes the current route's policy; others are left alone. */
extern void aig_pipeline_pinned_policy(AigRoute *route);

/* Resolve + grant only: what ai_complete_async checks when queueing. */
extern AigRoute *aig_pipeline_precheck(const char *model);

/* One chat call, every stage; raises on any failure (accounted first). */
extern void aig_pipeline_chat(AigChatCall *call);

/*
 * Many chat calls on one route (ai_complete_batch):
 * the per-call stages run per call, each isolated (core/isolate.c) so a
 * call's failure is its error; the attempts of all run concurrently.  With
 * grant_per_call false a refused grant fails the whole statement, as for a
 * single call; true makes it each call's error (jobs).
 */
extern void aig_pipeline_chat_many(AigRoute *route, AigChatCall *calls, int n,
								   int concurrency, bool grant_per_call);

/*
 * The same stages one call at a time, for calls that come and go (the job
 * worker; routing/router.h's AigAttempts runs their attempts):
 * aig_pipeline_many_prepare runs stages 2–7 isolated and returns true when
 * the call needs attempts (false: refused or failed — its error is set —
 * or answered from the cache); aig_pipeline_many_finish runs stages 9–14
 * after the attempts or the hit (nothing for a call that failed before);
 * aig_pipeline_many_cancel settles and audits a call dropped during its
 * attempts.
 */
extern bool aig_pipeline_many_prepare(AigChatCall *c, bool grant_per_call);
extern void aig_pipeline_many_finish(AigChatCall *c);
extern void aig_pipeline_many_cancel(AigChatCall *c, const char *why);

/* An embeddings call (one or many inputs). */
extern void aig_pipeline_embed(AigRoute *route, AigEmbedRequest *req, const AigCallOptions *co,
							   AigEmbedResult *result, AigCallInfo *info);

/*
 * A shadow copy (the shadow worker): the primary call's stages already ran
 * on it, so only target order (= the shadow target), one attempt and the
 * audit record (shadow = true, role `roleid`) remain; no quota, no cache,
 * no hooks.  false when the attempt failed.
 */
extern bool aig_pipeline_shadow(const char *route_name, AigTarget *target,
								AigChatRequest *req, const AigCallOptions *co, Oid roleid);

/* A zeroed call with the defaults of an entry point's call. */
extern void aig_chat_call_init(AigChatCall *call, AigRoute *route, AigChatRequest *req,
							   AigCallOptions *co, Jsonb *opts);

#endif							/* AIG_PIPELINE_H */
