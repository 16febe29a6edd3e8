/*
 * shadow_queue.h — the queue of shadow copies in shared memory: calls on a
 * route with shadow targets queue a copy per shadow target; the shadow
 * worker (background/shadow_worker.c) takes them.
 */
#ifndef AIG_SHADOW_QUEUE_H
#define AIG_SHADOW_QUEUE_H

#include "postgres.h"

#include "core/catalog.h"

/* The largest copy a slot holds (the request JSON). */
#define AIG_SHADOW_SLOT_BYTES (64 * 1024)

extern Size aig_shadow_shmem_size(void);
extern void aig_shadow_shmem_startup(void);

/*
 * Queue a copy of a successful call for each shadow target of route:
 * messages_json (the messages as sent) and options_json (its options).
 */
extern void aig_shadow_enqueue(const AigRoute *route, const char *messages_json,
							   const char *options_json);

/* Worker side: attach (its latch is woken by pushes), take a copy, count it. */
extern void aig_shadow_worker_attach(void);
extern bool aig_shadow_pop(char *buf, Oid *roleid, Oid *session_roleid);
extern void aig_shadow_count(bool sent);

typedef struct AigShadowCounters
{
	uint64		queued;
	uint64		sent;
	uint64		dropped;
} AigShadowCounters;
extern void aig_shadow_counters(AigShadowCounters *out);

#endif							/* AIG_SHADOW_QUEUE_H */
