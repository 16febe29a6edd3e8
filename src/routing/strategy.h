/*
 * strategy.h — the order in which a call tries a route's targets.
 */
#ifndef AIG_STRATEGY_H
#define AIG_STRATEGY_H

#include "postgres.h"

#include "core/catalog.h"

typedef struct AigOrderContext
{
	int64		est_input_tokens;	/* estimate of the request's input */
	int			max_tokens;		/* the call's max_tokens, -1 */
	const char *sticky;			/* sticky key value (A/B), or NULL */
	bool		explain;		/* no side effects (round-robin stays put) */
} AigOrderContext;

typedef struct AigCandidate
{
	AigTarget  *target;
	bool		eligible;
	char	   *reason;			/* why it is where it is, or why skipped */
	double		est_cost_usd;	/* -1 when no price is known */
} AigCandidate;

/* GUC ai_gateway.fastest_explore_ratio */
extern double aig_fastest_explore_ratio;

/* Define ai_gateway.fastest_explore_ratio (called from _PG_init). */
extern void aig_strategy_define_gucs(void);

/*
 * Fill out[route->ntargets]: the eligible targets first, in the order to
 * try them, then the ineligible ones (shadow, role, context window,
 * disabled provider).  Returns the number of eligible targets.
 */
extern int	aig_order_targets(AigRoute *route, const AigOrderContext *ctx,
							  AigCandidate *out);

/* Output tokens assumed for cost estimates when max_tokens is not given. */
#define AIG_EST_OUTPUT_TOKENS 256

/* Rough token count of a text: 4 bytes a token, as providers' rules of thumb. */
#define AIG_EST_TOKENS(bytes) (((int64) (bytes) + 3) / 4)

#endif							/* AIG_STRATEGY_H */
