/*
 * catalog.h — the gateway configuration (providers, routes, targets, model
 * prices) as a per-backend cache of the ai_gateway.* tables.
 */
#ifndef AIG_CATALOG_H
#define AIG_CATALOG_H

#include "postgres.h"

#include "provider.h"

typedef struct AigTarget
{
	AigProvider *provider;
	char	   *model;
	int			priority;
	int			weight;
	bool		shadow;
} AigTarget;

typedef struct AigRoute
{
	char	   *name;			/* NULL for a direct provider/model call */
	char	   *strategy;
	int			timeout_ms;		/* options.timeout_ms, -1 */
	char	   *system_prompt;	/* options.system_prompt, or NULL */
	int			ntargets;
	int			target_cap;		/* allocated length of targets */
	AigTarget  *targets;		/* sorted by priority, then provider, model */
} AigRoute;

typedef struct AigModelPrice
{
	bool		has_input_price;
	double		input_usd_per_mtok;
	bool		has_output_price;
	double		output_usd_per_mtok;
	int			context_window; /* -1 when unknown */
} AigModelPrice;

/* Make sure the cache reflects committed configuration; call once per call. */
extern void aig_catalog_ensure(void);

extern AigRoute *aig_catalog_route(const char *name);
extern AigProvider *aig_catalog_provider(const char *name);
extern const AigModelPrice *aig_catalog_price(const char *provider, const char *model);

#endif							/* AIG_CATALOG_H */
