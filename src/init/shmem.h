/*
 * shmem.h — the registry of ai_gateway's shared memory (init/shmem.c).
 *
 * Every subsystem owns its shared struct, its LWLock tranche and its
 * locking rules (see the header comment of target_state.c, stats.c,
 * quota.c, audit.c, cache.c, shadow.c, jobs.c); this registry only adds up
 * their sizes, asks for their tranches and calls their startups.  Nothing
 * outside init/ includes this header.
 */
#ifndef AIG_SHMEM_H
#define AIG_SHMEM_H

#include "postgres.h"

/* Install the shmem request and startup hooks (from _PG_init, preloading). */
extern void aig_shmem_init_hooks(void);

#endif							/* AIG_SHMEM_H */
