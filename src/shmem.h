/*
 * shmem.h — ai_gateway's shared-memory segment.
 *
 * One AigSharedState struct, allocated by the shmem startup hook and found by
 * every backend.  Later features (circuit breakers, latency figures, quota
 * buckets, the audit queue) hang their state off it.  Locking: `lock` (from
 * the "ai_gateway" LWLock tranche) guards structural changes; hot counters
 * use atomics.
 */
#ifndef AIG_SHMEM_H
#define AIG_SHMEM_H

#include "postgres.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

typedef struct AigSharedState
{
	LWLock	   *lock;
	pg_atomic_uint64 calls;		/* provider calls attempted, all backends */
	pg_atomic_uint64 errors;	/* calls that ended in an error */
} AigSharedState;

extern AigSharedState *aig_shared;

extern void aig_shmem_init_hooks(void);

#endif							/* AIG_SHMEM_H */
