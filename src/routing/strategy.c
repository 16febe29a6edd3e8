/*
 * strategy.c — orders a route's targets for one call.
 *
 * First the targets this call may not use are set aside (shadow targets,
 * targets limited to a role the caller is not a member of, targets whose
 * context window is smaller than the estimated request, disabled
 * providers).  The rest are ordered by the route's strategy:
 *
 *   fallback     by priority (then provider, model)
 *   weighted     one target drawn by weight goes first — deterministically
 *                from a hash of the sticky key (options.user, or the
 *                metadata key named by the route's sticky_key) when there
 *                is one, so a user stays on one arm while the weights stand
 *   cheapest     by estimated cost: input tokens (bytes / 4) and max_tokens
 *                (else AIG_EST_OUTPUT_TOKENS) at the catalog's prices (models,
 *                else model_catalog); unknown prices last
 *   fastest      by the shared moving-average latency; targets without a
 *                figure first, and explore_ratio of calls start with a random
 *                other target so every figure stays fresh
 *   round_robin  rotated by a shared counter (one atomic add per call)
 *
 * Whatever the strategy, the remaining eligible targets follow in priority
 * order, so a failure falls back through all of them.  Circuit breakers are
 * consulted by the router at attempt time, not here.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "routing/strategy.h"
#include "routing/target_state.h"

double		aig_fastest_explore_ratio = 0.05;

/*
 * Reasons are text for explain_route and error details only: on the hot
 * path (explain = false) they are not built.
 */
#define REASON(ctx, ...) ((ctx)->explain ? psprintf(__VA_ARGS__) : NULL)

static bool
ineligible(AigTarget *t, const AigOrderContext *ctx, char **reason)
{
	/* always explain why a target is skipped: errors list these */
	const AigModelPrice *price = t->price;
	int64		need;

	if (t->shadow)
	{
		*reason = pstrdup("shadow target: gets a copy of each call, off the caller's path");
		return true;
	}
	if (!t->provider->enabled)
	{
		*reason = pstrdup("provider is disabled");
		return true;
	}
	if (t->role)
	{
		if (!OidIsValid(t->role_oid))
		{
			*reason = psprintf("limited to role %s, which does not exist", t->role);
			return true;
		}
		if (!is_member_of_role(GetUserId(), t->role_oid))
		{
			*reason = psprintf("limited to members of role %s", t->role);
			return true;
		}
	}
	need = ctx->est_input_tokens + Max(ctx->max_tokens, 0);
	if (price && price->context_window > 0 && need > price->context_window)
	{
		*reason = psprintf("about " INT64_FORMAT " tokens exceed its context window of %d",
						   need, price->context_window);
		return true;
	}
	return false;
}

static double
estimate_cost(const AigTarget *t, const AigOrderContext *ctx)
{
	const AigModelPrice *p = t->price;
	int64		out = ctx->max_tokens > 0 ? ctx->max_tokens : AIG_EST_OUTPUT_TOKENS;

	if (p == NULL || !p->has_input_price || !p->has_output_price)
		return -1;
	return ctx->est_input_tokens * p->input_usd_per_mtok / 1e6 +
		out * p->output_usd_per_mtok / 1e6;
}

static double
latency_of(const AigTarget *t)
{
	return t->state ? aig_target_latency(t->state) : -1;
}

/* Move out[from] to out[to] (to < from), shifting the ones between. */
static void
move_to(AigCandidate *out, int from, int to)
{
	AigCandidate c = out[from];

	memmove(&out[to + 1], &out[to], sizeof(AigCandidate) * (from - to));
	out[to] = c;
}

static void
order_weighted(AigRoute *route, const AigOrderContext *ctx, AigCandidate *c, int n)
{
	int64		total = 0;
	int64		pick;
	int			chosen = 0;

	for (int i = 0; i < n; i++)
		total += Max(c[i].target->weight, 0);
	if (total <= 0)
	{
		for (int i = 0; i < n; i++)
			c[i].reason = REASON(ctx, "all weights are 0: by priority");
		return;
	}
	if (ctx->sticky)
	{
		uint64		h = hash_bytes_extended((const unsigned char *) ctx->sticky,
											strlen(ctx->sticky),
											hash_bytes((const unsigned char *) route->name,
													   strlen(route->name)));

		pick = (int64) (h % (uint64) total);
	}
	else
		pick = (int64) (aig_random_double() * total);
	for (int i = 0; i < n; i++)
	{
		pick -= Max(c[i].target->weight, 0);
		if (pick < 0)
		{
			chosen = i;
			break;
		}
	}
	for (int i = 0; i < n; i++)
		c[i].reason = REASON(ctx, "weight %d of " INT64_FORMAT ": fallback by priority",
							 c[i].target->weight, total);
	c[chosen].reason = REASON(ctx, "drawn by weight %d of " INT64_FORMAT " (%.0f%% of calls)%s",
							  c[chosen].target->weight, total,
							  100.0 * c[chosen].target->weight / total,
							  ctx->sticky ? ", sticky on the caller's key" : "");
	move_to(c, chosen, 0);
}

static int
cost_cmp(const void *a, const void *b)
{
	const AigCandidate *ca = a;
	const AigCandidate *cb = b;

	if ((ca->est_cost_usd < 0) != (cb->est_cost_usd < 0))
		return ca->est_cost_usd < 0 ? 1 : -1;
	if (ca->est_cost_usd != cb->est_cost_usd)
		return ca->est_cost_usd < cb->est_cost_usd ? -1 : 1;
	/* equal: keep priority order (targets arrive sorted by it) */
	return ca->target->priority - cb->target->priority;
}

static void
order_cheapest(const AigOrderContext *ctx, AigCandidate *c, int n)
{
	qsort(c, n, sizeof(AigCandidate), cost_cmp);
	for (int i = 0; i < n; i++)
		c[i].reason = c[i].est_cost_usd >= 0 ?
			REASON(ctx, "estimated cost $%.8f", c[i].est_cost_usd) :
			REASON(ctx, "no price in ai_gateway.models or model_catalog: after priced targets");
}

typedef struct LatencyItem
{
	AigCandidate c;
	double		latency;
	int			pos;
} LatencyItem;

static int
latency_cmp(const void *a, const void *b)
{
	const LatencyItem *la = a;
	const LatencyItem *lb = b;

	if ((la->latency < 0) != (lb->latency < 0))
		return la->latency < 0 ? -1 : 1;	/* no figure yet: measure it */
	if (la->latency != lb->latency)
		return la->latency < lb->latency ? -1 : 1;
	return la->pos - lb->pos;
}

static void
order_fastest(AigRoute *route, const AigOrderContext *ctx, AigCandidate *c, int n)
{
	LatencyItem *items = palloc(sizeof(LatencyItem) * n);
	double		explore = route->explore_ratio >= 0 ? route->explore_ratio :
		aig_fastest_explore_ratio;

	for (int i = 0; i < n; i++)
	{
		items[i].c = c[i];
		items[i].latency = latency_of(c[i].target);
		items[i].pos = i;
	}
	qsort(items, n, sizeof(LatencyItem), latency_cmp);
	for (int i = 0; i < n; i++)
	{
		c[i] = items[i].c;
		c[i].reason = items[i].latency >= 0 ?
			REASON(ctx, "average latency %.1f ms", items[i].latency) :
			REASON(ctx, "no latency figure yet: measured first");
	}
	if (n > 1 && items[0].latency >= 0 && aig_random_double() < explore)
	{
		int			other = 1 + (int) (aig_random_double() * (n - 1));

		other = Min(other, n - 1);
		c[other].reason = REASON(ctx, "%s; picked to explore (%.0f%% of calls)",
								 c[other].reason, explore * 100);
		move_to(c, other, 0);
	}
	pfree(items);
}

static void
order_round_robin(AigRoute *route, const AigOrderContext *ctx, AigCandidate *c, int n)
{
	uint64		pos = 0;
	AigCandidate *tmp;

	if (route->state)
		pos = ctx->explain ? pg_atomic_read_u64(&route->state->counter) :
			pg_atomic_fetch_add_u64(&route->state->counter, 1);
	tmp = palloc(sizeof(AigCandidate) * n);
	for (int i = 0; i < n; i++)
		tmp[i] = c[(pos + i) % n];
	for (int i = 0; i < n; i++)
	{
		c[i] = tmp[i];
		c[i].reason = i == 0 ? REASON(ctx, "round robin: turn " UINT64_FORMAT, pos) :
			REASON(ctx, "round robin: next in turn");
	}
	pfree(tmp);
}

int
aig_order_targets(AigRoute *route, const AigOrderContext *ctx, AigCandidate *out)
{
	int			n = 0;
	int			nout;

	/* eligible targets first, in priority order */
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];
		char	   *why;

		if (ineligible(t, ctx, &why))
			continue;
		out[n].target = t;
		out[n].eligible = true;
		out[n].reason = NULL;
		out[n].est_cost_usd = estimate_cost(t, ctx);
		n++;
	}
	nout = n;
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];
		char	   *why;

		if (!ineligible(t, ctx, &why))
			continue;
		out[nout].target = t;
		out[nout].eligible = false;
		out[nout].reason = why;
		out[nout].est_cost_usd = estimate_cost(t, ctx);
		nout++;
	}

	if (n == 0)
		return 0;
	switch (route->strategy)
	{
		case AIG_STRATEGY_FALLBACK:
			for (int i = 0; i < n; i++)
				out[i].reason = REASON(ctx, "priority %d", out[i].target->priority);
			break;
		case AIG_STRATEGY_WEIGHTED:
			order_weighted(route, ctx, out, n);
			break;
		case AIG_STRATEGY_CHEAPEST:
			order_cheapest(ctx, out, n);
			break;
		case AIG_STRATEGY_FASTEST:
			order_fastest(route, ctx, out, n);
			break;
		case AIG_STRATEGY_ROUND_ROBIN:
			order_round_robin(route, ctx, out, n);
			break;
	}
	return n;
}

/* Define ai_gateway.fastest_explore_ratio (called from _PG_init). */
void
aig_strategy_define_gucs(void)
{
	DefineCustomRealVariable("ai_gateway.fastest_explore_ratio",
							 "Share of calls that the fastest strategy sends to another target to keep its latency fresh.",
							 NULL,
							 &aig_fastest_explore_ratio,
							 0.05, 0.0, 0.5,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}
