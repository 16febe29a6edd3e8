/*
 * shadow.h — shadow traffic: copies of calls sent to a route's shadow
 * targets by a background worker, off the caller's path.
 */
#ifndef AIG_SHADOW_H
#define AIG_SHADOW_H

#include "postgres.h"

#include <signal.h>

#include "core/catalog.h"
#include "routing/router.h"

extern Size aig_shadow_shmem_size(void);
extern void aig_shadow_shmem_startup(void);

/* Queue a copy of a successful call for each shadow target of route. */
extern void aig_shadow_enqueue(const AigRoute *route, const char *messages_json,
							   const AigCallOptions *co);

/* The shadow worker's main loop (worker.c starts it), and its pid. */
extern void aig_shadow_worker_loop(volatile sig_atomic_t *stop);
extern int	aig_shadow_worker_pid(void);

typedef struct AigShadowCounters
{
	uint64		queued;
	uint64		sent;
	uint64		dropped;
} AigShadowCounters;
extern void aig_shadow_counters(AigShadowCounters *out);

#endif							/* AIG_SHADOW_H */
