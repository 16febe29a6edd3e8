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

/* GUCs (router_gucs.c): ai_gateway.default_route, timeout_ms, max_retries,
 * retry_base_ms, retry_max_ms */
extern char *aig_default_route;
extern int	aig_timeout_ms;
extern int	aig_max_retries;
extern int	aig_retry_base_ms;
extern int	aig_retry_max_ms;

/* Define the router's GUCs (called from _PG_init). */
extern void aig_router_define_gucs(void);

/* options.cache: true (the route's or the GUC's TTL, else an hour) */
#define AIG_CACHE_TTL_DEFAULT (-2)

/* Per-call options (options jsonb of the SQL functions), validated. */
typedef struct AigCallOptions
{
	AigGenOptions gen;
	int			timeout_ms;		/* -1 = route/GUC (whole call, retries included) */
	int			max_retries;	/* -1 = route/provider/GUC */
	int			concurrency;	/* batches: -1 = ai_gateway.batch_concurrency */
	int			connect_timeout_ms;
	int			dimensions;		/* embeddings, -1 */
	int			cache_ttl_s;	/* options.cache: -1 unset, 0 off, > 0 a TTL,
								 * AIG_CACHE_TTL_DEFAULT for true */
	char	   *input_type;		/* embeddings, or NULL */
	char	   *user;			/* sticky key (routing issue), or NULL */
	Jsonb	   *metadata;		/* copied to the audit row, or NULL */
	Jsonb	   *raw;			/* the options as given (shadow copies) */
} AigCallOptions;

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
} AigCallInfo;

/*
 * model -> route: a route name, else "provider/model", else the default
 * route.  Direct calls get a one-target route built in CurrentMemoryContext.
 */
extern AigRoute *aig_resolve_model(const char *model);
extern AigRoute *aig_direct_route(AigProvider *p, const char *model);

extern void aig_route_chat(AigRoute *route, AigChatRequest *req,
						   const AigCallOptions *co, AigChatResult *result,
						   AigCallInfo *info);
/* One item of a batch: its request in, its answer or error out. */
typedef struct AigBatchItem
{
	AigChatRequest *req;		/* NULL: nothing to send (row stays NULL) */
	AigCallOptions *co;
	AigChatResult result;
	AigCallInfo info;
	bool		ok;
	char	   *error;			/* when !ok and req != NULL */
	bool		retryable;		/* a later retry may succeed (async jobs) */
	int			retry_after_ms; /* the provider's Retry-After, -1 */
} AigBatchItem;

/* Run every item through the route, up to `concurrency` requests in flight. */
extern void aig_route_chat_batch(AigRoute *route, AigBatchItem *items, int n,
								 int concurrency);

extern void aig_route_embed(AigRoute *route, AigEmbedRequest *req,
							const AigCallOptions *co, AigEmbedResult *result,
							AigCallInfo *info);

/* functions.c: option and message parsing, shared with the shadow worker */
extern void aig_parse_call_options(Jsonb *opts, AigCallOptions *co);
extern void aig_parse_messages(Jsonb *messages, AigChatRequest *req, int *cap);
/* The normalized ai_chat object of a call. */
extern Jsonb *aig_chat_result_jsonb(const AigChatResult *res, const AigCallInfo *info);

/* ns per routing decision (no HTTP), for ai_gateway.bench_routing(). */
extern double aig_route_decision_ns(const char *model, int iterations);

/* ns per call of access + rate limit + quota + audit enqueue, for ai_gateway.bench_governance(). */
extern double aig_governance_ns(const char *model, int iterations);

#endif							/* AIG_ROUTER_H */
