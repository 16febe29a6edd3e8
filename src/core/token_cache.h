/*
 * token_cache.h — OAuth access tokens of providers, cached in shared memory
 * and refreshed by one backend at a time (core/token_cache.c).
 */
#ifndef AIG_TOKEN_CACHE_H
#define AIG_TOKEN_CACHE_H

#include "postgres.h"

#include "providers/provider.h"

/* Shared memory: size, lock tranche request, create/attach (init/shmem.c). */
extern Size aig_token_shmem_size(void);
extern void aig_token_shmem_request(void);
extern void aig_token_shmem_startup(void);

/*
 * A valid access token for provider p (whose auth is not AIG_AUTH_KEY),
 * palloc'd: the cached one, or one fetched now.  rejected: a token the
 * upstream just answered 401 to (it is dropped and a new one fetched), or
 * NULL.  NULL when none could be had: *errmsg says why (never a secret) and
 * *retryable whether trying again may help.  A query cancel is raised.
 */
extern char *aig_token_get(AigProvider *p, const char *rejected, char **errmsg,
						   bool *retryable);

/* Token requests sent by this server since it started. */
extern uint64 aig_token_fetches(void);
/* ... by this backend */
extern uint64 aig_token_backend_fetches(void);

#endif							/* AIG_TOKEN_CACHE_H */
