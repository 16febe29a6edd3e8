/*
 * cache_gucs.c — definitions of the response cache's ai_gateway.* GUCs.
 * The variables live in cache.c and are declared in cache.h.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "governance/cache.h"

static const struct config_enum_entry cache_scope_options[] = {
	{"role", AIG_CACHE_SCOPE_ROLE, false},
	{"global", AIG_CACHE_SCOPE_GLOBAL, false},
	{NULL, 0, false}
};

/* Define the response cache's ai_gateway.* GUCs (called from _PG_init). */
void
aig_cache_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.cache_ttl_s",
							"Cache every chat call's answer for this long; 0 caches only calls that ask.",
							"A call asks with options.cache (true or a TTL in seconds); a route with options.cache_ttl_s.",
							&aig_cache_ttl_s,
							0, 0, AIG_CACHE_MAX_TTL_S,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("ai_gateway.cache_scope",
							 "Whose calls may share a cached answer, unless the route's options.cache_scope says.",
							 "role: only calls by the same role; global: every role that may call the route.",
							 &aig_cache_scope,
							 AIG_CACHE_SCOPE_ROLE,
							 cache_scope_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.cache_local_kb",
							"Memory each backend may keep cached answers in, in front of ai_gateway.cache; 0 turns the front off.",
							NULL,
							&aig_cache_local_kb,
							4096, 0, 1024 * 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.cache_hits_count_quota",
							 "A call answered from the cache counts as one request against the role's quotas and rate limits.",
							 "It never costs tokens or money.",
							 &aig_cache_hits_count_quota,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.cache_max_ttl_s",
							"Longest time any answer stays in the response cache; longer TTLs asked for are cut to it.",
							"Applies to options.cache, a route's cache_ttl_s and ai_gateway.cache_ttl_s alike.",
							&aig_cache_max_ttl_s,
							86400, 1, AIG_CACHE_MAX_TTL_S,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.cache_max_entries_per_role",
							"Rows of ai_gateway.cache one role's calls may keep; storing beyond it evicts that role's oldest rows.",
							"0 keeps no answers in the table (each backend's own front still does).",
							&aig_cache_max_entries_per_role,
							10000, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}
