/*
 * shmem.h — ai_gateway's shared-memory segment.
 *
 * One AigSharedState struct, allocated by the shmem startup hook and found by
 * every backend, and the shared hash of target_state.c (circuit breakers,
 * latency figures, route counters).  Later features (quota buckets, the
 * audit queue) hang their state off it too.  Locking: `lock` (from the
 * "ai_gateway" LWLock tranche) guards structural changes such as inserting
 * into the target hash; hot counters use atomics or per-entry spinlocks.
 */
#ifndef AIG_SHMEM_H
#define AIG_SHMEM_H

#include "postgres.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

typedef struct AigSharedState
{
	LWLock	   *lock;			/* target hash structure */
	LWLock	   *audit_lock;		/* audit queue positions */
	LWLock	   *quota_lock;		/* quota usage and rate buckets */
} AigSharedState;

extern AigSharedState *aig_shared;

extern void aig_shmem_init_hooks(void);

#endif							/* AIG_SHMEM_H */
