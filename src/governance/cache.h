/*
 * cache.h — the response cache: exact-match answers of chat calls, kept in
 * the table ai_gateway.cache (shared by every backend, kept across
 * restarts) with a per-backend in-memory front.
 */
#ifndef AIG_CACHE_H
#define AIG_CACHE_H

#include "postgres.h"

#include "core/catalog.h"
#include "providers/provider.h"

/* options.cache: true (the route's or the GUC's TTL, else an hour) */
#define AIG_CACHE_TTL_DEFAULT (-2)
#define AIG_CACHE_MAX_TTL_S (366 * 86400)

/* AIG_CACHE_SCOPE_*, AIG_CACHE_MAX_TTL_S, aig_cache_scope_from_name(): core/catalog.h */

/* A call's place in the cache, decided before it runs. */
typedef struct AigCacheKey
{
	int			ttl_s;			/* > 0 */
	Oid			scope_role;		/* InvalidOid when global */
	uint8		digest[32];		/* SHA-256 of the normalized request */
} AigCacheKey;

extern int	aig_cache_ttl_s;
extern int	aig_cache_scope;
extern int	aig_cache_local_kb;
extern bool aig_cache_hits_count_quota;
extern int	aig_cache_max_ttl_s;
extern int	aig_cache_max_entries_per_role;

/* Define the cache GUCs (cache_gucs.c; called from _PG_init). */
extern void aig_cache_define_gucs(void);

/*
 * Is this call cached (opt_ttl_s: the call's options.cache — -1 unset, 0
 * off, > 0 a TTL, AIG_CACHE_TTL_DEFAULT for true —, the route's
 * cache_ttl_s, the GUC)?
 * When it is, fill key (the digest covers the route's configuration, the
 * scope, the messages and every option that changes the answer).
 */
extern bool aig_cache_prepare(AigRoute *route, const AigChatRequest *req,
							  int opt_ttl_s, AigCacheKey *key);

/*
 * A live entry for key: fills result (content, finish reason, reported
 * model; tokens 0) and *target (the route's target that answered), or
 * returns false.
 */
extern bool aig_cache_get(AigRoute *route, const AigCacheKey *key,
						  AigChatResult *result, AigTarget **target);

/* Remember a successful answer.  Never fails the call (a failed write warns). */
extern void aig_cache_put(AigRoute *route, const AigCacheKey *key,
						  const AigChatResult *result, const AigTarget *target);

extern Size aig_cache_shmem_size(void);
extern void aig_cache_shmem_startup(void);

/* Worker: delete expired rows (in its transaction, SPI connected). */
extern uint64 aig_cache_expire(void);

#endif							/* AIG_CACHE_H */
