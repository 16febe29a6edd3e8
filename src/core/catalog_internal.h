/*
 * catalog_internal.h — what catalog.c (the per-backend cache: lifecycle,
 * invalidation, lookups) shares with catalog_load.c (reading the
 * configuration tables into it).  Nothing else includes this.
 */
#ifndef AIG_CATALOG_INTERNAL_H
#define AIG_CATALOG_INTERNAL_H

#include "postgres.h"

#include "utils/hsearch.h"

#include "core/catalog.h"

#define AIG_NAME_KEYLEN 256
#define AIG_PRICE_KEYLEN 512	/* "provider\x1fmodel" */

typedef struct ProviderEntry
{
	char		key[AIG_NAME_KEYLEN];
	AigProvider *provider;
} ProviderEntry;

typedef struct RouteEntry
{
	char		key[AIG_NAME_KEYLEN];
	AigRoute   *route;
} RouteEntry;

typedef struct PriceEntry
{
	char		key[AIG_PRICE_KEYLEN];
	AigModelPrice price;
} PriceEntry;

/* The cache, all in aig_catalog_cxt; catalog.c resets and re-creates it
 * before each load. */
extern MemoryContext aig_catalog_cxt;
extern HTAB *aig_provider_hash;
extern HTAB *aig_route_hash;	/* routes, "route@N" versions, direct routes */
extern HTAB *aig_price_hash;
extern AigQuota *aig_quotas;
extern int	aig_nquotas;
extern AigRateLimit *aig_rate_limits;
extern int	aig_nrate_limits;
extern Oid	aig_admin_role;		/* ai_gateway_admin, or InvalidOid */

/* The hooks of the layers above (aig_catalog_hooks), NULL when unset. */
static inline struct AigTargetState *
aig_catalog_hook_target_state(const char *provider, const char *model)
{
	return aig_catalog_hooks.target_state ?
		aig_catalog_hooks.target_state(provider, model) : NULL;
}

static inline struct AigTargetState *
aig_catalog_hook_route_state(const char *route)
{
	return aig_catalog_hooks.route_state ? aig_catalog_hooks.route_state(route) : NULL;
}

static inline struct AigStats *
aig_catalog_hook_stats(const char *route, const char *provider, const char *model)
{
	return aig_catalog_hooks.stats_entry ?
		aig_catalog_hooks.stats_entry(route, provider, model) : NULL;
}

/* catalog_load.c; both run inside SPI_connect, as the tables' owner */

/* providers, prices, routes with their targets, quotas, rate limits, grants */
extern void aig_catalog_load_tables(void);

/* "route@N": version N of route name, cached under key; NULL if none */
extern AigRoute *aig_catalog_load_route_version(const char *key,
												const char *name, int version);

#endif							/* AIG_CATALOG_INTERNAL_H */
