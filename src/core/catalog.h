/*
 * catalog.h — the gateway configuration (providers, routes, targets, model
 * prices, quotas, rate limits) as a per-backend cache of the ai_gateway.*
 * tables, and the configuration types the layers above read from it:
 * breaker settings, quota and rate-limit rows, cache and redaction modes.
 *
 * The catalog holds the shared state of targets and routes and their
 * statistics entries only as opaque pointers (struct AigTargetState,
 * struct AigStats: routing/target_state.h, governance/stats.h); it gets
 * them, and validates deny patterns, through aig_catalog_hooks, which
 * the module entry fills at load.  Nothing here includes a header of a
 * higher layer.
 */
#ifndef AIG_CATALOG_H
#define AIG_CATALOG_H

#include "postgres.h"

#include "providers/provider.h"

struct AigTargetState;			/* routing/target_state.h */
struct AigStats;				/* governance/stats.h */

/* Circuit breaker thresholds: GUCs (ai_gateway.breaker_*), overridden by route options. */
typedef struct AigBreakerConf
{
	int			failures;		/* consecutive failures that open it */
	double		error_rate;		/* error share over the window that opens it */
	int			min_requests;	/* requests in the window before the rate counts */
	int			window_ms;
	int			cooldown_ms;
} AigBreakerConf;

/* The GUC defaults (catalog_options.c); a route's options override them. */
extern AigBreakerConf aig_breaker_defaults;

typedef enum AigPeriod
{
	AIG_PERIOD_MINUTE = 0,
	AIG_PERIOD_HOUR,
	AIG_PERIOD_DAY,
	AIG_PERIOD_MONTH,
} AigPeriod;

/* One row of ai_gateway.quotas (enforced by governance/quota.c). */
typedef struct AigQuota
{
	char	   *role;
	Oid			role_oid;		/* InvalidOid when the role does not exist */
	AigPeriod	period;
	int64		max_requests;	/* -1: no limit */
	int64		max_tokens;
	double		max_cost_usd;	/* < 0: no limit */
} AigQuota;

/* One row of ai_gateway.rate_limits. */
typedef struct AigRateLimit
{
	char	   *role;
	Oid			role_oid;
	int			requests_per_minute;	/* -1: none */
	int			tokens_per_minute;
} AigRateLimit;

/* Cache modes: who may share a cached answer (route option, GUC). */
#define AIG_CACHE_SCOPE_ROLE 0
#define AIG_CACHE_SCOPE_GLOBAL 1
#define AIG_CACHE_MAX_TTL_S (366 * 86400)

/* "role" / "global" -> AIG_CACHE_SCOPE_*, -1 when neither. */
extern int	aig_cache_scope_from_name(const char *name);

/* Redaction modes (route option redact_pii; governance/policy.c applies them). */
#define AIG_REDACT_OFF 0
#define AIG_REDACT_ON 1
#define AIG_REDACT_REVERSIBLE 2

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
	struct AigTargetState *state;	/* shared health, NULL when untracked */
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

/* The strategies' names, as the routes table's CHECK lists them. */
#define AIG_STRATEGY_LIST "fallback, weighted, cheapest, fastest, round_robin"

/* Is s one of AIG_STRATEGY_LIST? */
extern bool aig_strategy_valid(const char *s);

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
	Oid			hook_owner;		/* routes.hook_owner: hooks run as this role */
	char	   *hook_problem;	/* a hook that no longer resolves, or NULL */
	bool		has_shadows;	/* some target is a shadow target */
	int			redact_pii;		/* AIG_REDACT_OFF / ON / REVERSIBLE */
	int			ndeny;
	char	  **deny_patterns;	/* options.deny_patterns (regexes) */
	struct AigTargetState *state;	/* shared route counters, or NULL */
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

/*
 * What the catalog needs from the layers above it, filled once by _PG_init
 * (init/ai_gateway.c): the shared entries a load attaches to targets and
 * routes (routing/target_state.c, governance/stats.c), and the validation
 * of deny patterns (governance/policy.c).  A NULL hook leaves the pointer
 * NULL (untracked) or skips the check.
 */
typedef struct AigCatalogHooks
{
	struct AigTargetState *(*target_state) (const char *provider, const char *model);
	struct AigTargetState *(*route_state) (const char *route);
	struct AigStats *(*stats_entry) (const char *route, const char *provider,
									 const char *model);
	void		(*check_patterns) (const char *route, int n, char **patterns);
} AigCatalogHooks;

extern AigCatalogHooks aig_catalog_hooks;

/* Make sure the cache reflects committed configuration; call once per call. */
extern void aig_catalog_ensure(void);
/* A call holds pointers into the cache from its resolve stage to its end:
 * a reload meanwhile keeps the old cache alive (freed at the last unpin,
 * or at the end of the transaction). */
extern void aig_catalog_pin(void);
extern void aig_catalog_unpin(void);
/* The same for a call that outlives its transaction (the job worker's):
 * hold the current cache, release it with the token hold returned. */
extern void *aig_catalog_hold(void);
extern void aig_catalog_release(void *token);

extern AigRoute *aig_catalog_route(const char *name);
extern AigProvider *aig_catalog_provider(const char *name);
/* Are this database's providers loaded (aig_catalog_provider meaningful)? */
extern bool aig_catalog_providers_loaded(void);
/* Reload this backend's cache at its next call (a shared entry it holds was
 * reclaimed: look the entries up again). */
extern void aig_catalog_mark_stale(void);
extern const AigModelPrice *aig_catalog_price(const char *provider, const char *model);
/* ai_gateway.quotas and ai_gateway.rate_limits rows. */
extern const AigQuota *aig_catalog_quotas(int *n);
extern const AigRateLimit *aig_catalog_rate_limits(int *n);

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
extern struct AigTargetState *aig_catalog_target_state(const char *provider, const char *model);

#endif							/* AIG_CATALOG_H */
