/*
 * router.h — resolving a model string to a route and running a call through
 * the route's targets.
 */
#ifndef AIG_ROUTER_H
#define AIG_ROUTER_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "core/catalog.h"
#include "providers/provider.h"
#include "routing/call_options.h"
#include "routing/strategy.h"

/* GUCs (router_gucs.c): ai_gateway.default_route, timeout_ms, max_retries,
 * retry_base_ms, retry_max_ms */
extern char *aig_default_route;
extern int	aig_timeout_ms;
extern int	aig_max_retries;
extern int	aig_retry_base_ms;
extern int	aig_retry_max_ms;

/* Define the router's GUCs (called from _PG_init). */
extern void aig_router_define_gucs(void);

/* Who answered and what it cost. */
typedef struct AigCallInfo
{
	AigRoute   *route;
	AigTarget  *target;			/* the target that answered */
	int			attempts;
	long		http_status;	/* of the last attempt, 0 when none */
	int			sqlerrcode;		/* of the failure, when the call failed */
	int64		input_tokens;	/* -1 unknown */
	int64		output_tokens;
	double		latency_ms;
	bool		has_cost;
	double		cost_usd;
	bool		cache_hit;		/* answered from the response cache */
	bool		billed;			/* failed, but the provider answered (a
								 * refusal) and billed input/output_tokens */
} AigCallInfo;

/*
 * model -> route: a route name, else "provider/model", else the default
 * route.  Direct calls get a one-target route built in CurrentMemoryContext.
 */
extern AigRoute *aig_resolve_model(const char *model);
extern AigRoute *aig_direct_route(AigProvider *p, const char *model);

struct AigChatCall;

/*
 * The attempts stage (pipeline.c runs the stages around it): run the call
 * over its ordered candidates — retries, backoff, failover, breakers —
 * until one target answers; raise the last failure otherwise.  The target
 * that answered is in info->target.
 */
extern void aig_route_attempts_chat(struct AigChatCall *call);
extern void aig_route_attempts_embed(AigRoute *route, AigCandidate *cands, int ncand,
									 const AigOrderContext *ctx, AigEmbedRequest *req,
									 const AigCallOptions *co, AigEmbedResult *result,
									 AigCallInfo *info);

/*
 * Many calls' attempts stage at once (batch.c): every call with a request
 * and ok == false runs concurrently, up to `concurrency` in flight; each
 * ends with ok, or with error/retryable/retry_after_ms.  A cancel drops
 * every transfer and is re-thrown.
 */
extern void aig_route_attempts_many(AigRoute *route, struct AigChatCall **calls, int n,
									int concurrency);

/*
 * The attempts of calls that come and go (batch.c): add calls at any time
 * (each with the memory context its attempts use), take each back as soon
 * as its attempts are over while the others stay in flight.
 * aig_attempts_next_done waits up to wait_ms for one (NULL: none, or the
 * latch was set: aig_attempts_woken); a cancel is raised, and the caller
 * then ends the scheduler (transfers dropped) and accounts its calls.
 */
typedef struct AigAttempts AigAttempts;
extern AigAttempts *aig_attempts_begin(int concurrency);
extern void aig_attempts_add(AigAttempts *s, AigRoute *route, struct AigChatCall *call,
							 MemoryContext cxt);
extern int	aig_attempts_active(const AigAttempts *s);
extern struct AigChatCall *aig_attempts_next_done(AigAttempts *s, long wait_ms);
extern bool aig_attempts_woken(AigAttempts *s);
extern void aig_attempts_end(AigAttempts *s);

/*
 * Target order stage: candidates of route for this call (strategy.c);
 * raises (with every target's reason) when none is eligible.
 */
extern int	aig_route_order(AigRoute *route, const AigOrderContext *ctx,
							AigCandidate **cands, bool raise_when_none);

/* ns per routing decision (no HTTP), for ai_gateway.bench_routing(). */
extern double aig_route_decision_ns(const char *model, int iterations);

/* ns per call of access + rate limit + quota + audit enqueue, for ai_gateway.bench_governance(). */
extern double aig_governance_ns(const char *model, int iterations);

#endif							/* AIG_ROUTER_H */
