/*
 * catalog.h — the gateway configuration (providers, routes, targets, model
 * prices) as a per-backend cache of the ai_gateway.* tables.
 */
#ifndef AIG_CATALOG_H
#define AIG_CATALOG_H

#include "postgres.h"

#include "providers/provider.h"
#include "routing/target_state.h"

typedef struct AigModelPrice
{
	bool		has_input_price;
	double		input_usd_per_mtok;
	bool		has_output_price;
	double		output_usd_per_mtok;
	int			context_window; /* -1 when unknown */
} AigModelPrice;

typedef struct AigTarget
{
	AigProvider *provider;
	char	   *model;
	int			priority;
	int			weight;
	bool		shadow;
	char	   *role;			/* only members of this role, or NULL */
	Oid			role_oid;		/* InvalidOid when role is NULL or missing */
	AigTargetState *state;		/* shared health, NULL when untracked */
	const AigModelPrice *price; /* NULL when unknown */
	struct AigStats *stats;		/* shared statistics of route + target */
} AigTarget;

typedef enum AigStrategy
{
	AIG_STRATEGY_FALLBACK,
	AIG_STRATEGY_WEIGHTED,
	AIG_STRATEGY_CHEAPEST,
	AIG_STRATEGY_FASTEST,
	AIG_STRATEGY_ROUND_ROBIN,
} AigStrategy;

typedef struct AigRoute
{
	char	   *name;			/* NULL for a direct provider/model call */
	int			version;		/* pinned version ("route@N"), 0 = current */
	AigStrategy strategy;
	int			timeout_ms;		/* options.timeout_ms, -1 */
	int			max_retries;	/* options.max_retries, -1 */
	char	   *system_prompt;	/* options.system_prompt, or NULL */
	char	   *sticky_key;		/* options.sticky_key: metadata key, or NULL */
	double		explore_ratio;	/* options.explore_ratio, < 0 = GUC */
	AigBreakerConf breaker;		/* GUC defaults overridden by options */
	char	   *request_hook_name;	/* options.request_hook, or NULL */
	char	   *response_hook_name; /* options.response_hook, or NULL */
	Oid			request_hook;	/* its function, InvalidOid */
	Oid			response_hook;
	char	   *hook_problem;	/* a hook that no longer resolves, or NULL */
	bool		has_shadows;	/* some target is a shadow target */
	int			redact_pii;		/* AIG_REDACT_OFF / ON / REVERSIBLE */
	int			ndeny;
	char	  **deny_patterns;	/* options.deny_patterns (regexes) */
	AigTargetState *state;		/* shared route counters, or NULL */
	int			cache_ttl_s;	/* options.cache_ttl_s, -1 = GUC */
	int			cache_scope;	/* options.cache_scope: AIG_CACHE_SCOPE_*, -1 = GUC */
	bool		cache_fp_set;	/* cache_fp computed (cache.c) */
	uint8		cache_fp[32];	/* SHA-256 of what makes this route's answers */
	bool		grant_public;	/* ai_gateway.route_grants */
	int			ngrants;
	Oid		   *grants;
	int			ntargets;
	int			target_cap;		/* allocated length of targets */
	AigTarget  *targets;		/* sorted by priority, then provider, model */
} AigRoute;

struct AigQuota;
struct AigRateLimit;

/* Make sure the cache reflects committed configuration; call once per call. */
extern void aig_catalog_ensure(void);

extern AigRoute *aig_catalog_route(const char *name);
extern AigProvider *aig_catalog_provider(const char *name);
extern const AigModelPrice *aig_catalog_price(const char *provider, const char *model);
/* ai_gateway.quotas and ai_gateway.rate_limits rows. */
extern const struct AigQuota *aig_catalog_quotas(int *n);
extern const struct AigRateLimit *aig_catalog_rate_limits(int *n);

/* May the current user call route / provider? (grants; admins always) */
extern bool aig_catalog_route_allowed(const AigRoute *route);
extern bool aig_catalog_provider_allowed(const AigProvider *p);

/* Every provider of the catalog (palloc'd array of pointers into the cache). */
extern int	aig_catalog_providers(AigProvider ***out);

/* The owner of the extension's tables (as of the last catalog load). */
extern Oid	aig_catalog_owner(void);

/* Superuser, extension owner, or member of ai_gateway_admin. */
extern bool aig_is_admin(void);

/* Direct "provider/model" routes, cached per catalog load by model string. */
extern AigRoute *aig_catalog_direct_route(const char *model);
extern void aig_catalog_remember_direct_route(const char *model, AigRoute *route);
extern MemoryContext aig_catalog_memory(void);

/* Shared statistics of a direct provider/model call, looked up once per load. */
extern struct AigStats *aig_catalog_direct_stats(const char *provider, const char *model);

/* Shared state of provider/model, looked up once per catalog load. */
extern AigTargetState *aig_catalog_target_state(const char *provider, const char *model);

#endif							/* AIG_CATALOG_H */
