/*
 * shadow_queue.c — the queue of shadow copies (route_targets.shadow = true).
 *
 * When a call on a route with shadow targets succeeds, the pipeline's last
 * stage queues one copy per shadow target in shared memory — the request
 * as sent (hooked and redacted) as JSON, a memcpy — and the caller returns;
 * it never waits for the shadow nor sees its answer.  The shadow worker
 * (background/shadow_worker.c) takes the copies one at a time and hands
 * each to the pipeline's shadow mode.  Shadow calls are not charged to
 * the caller's quotas.
 *
 * The queue has AIG_SHADOW_SLOTS slots of AIG_SHADOW_SLOT_BYTES; a copy
 * that does not fit, or arrives while all slots are taken, is dropped and
 * counted (ai_gateway.audit_stats().shadow_dropped): shadow traffic is a
 * best-effort sample, the caller's call is never slowed down for it.  A
 * role holds at most AIG_SHADOW_ROLE_SLOTS of the slots, so one role's
 * burst of calls cannot crowd every other role's copies out.  Each
 * served database has its own queue (one per slot of core/dbslots.h) and
 * its own shadow worker; calls in a database no worker serves are not
 * shadowed.
 *
 * Locking: a spinlock (sq->mutex) guards the ring positions (head, tail)
 * and the worker's latch and pid; a pusher copies into its slot under it,
 * and the worker copies a job out before releasing its slot.  The counters
 * are atomics, read without the lock.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/json.h"

#include "core/dbslots.h"
#include "governance/audit.h"
#include "governance/identity.h"
#include "governance/standby.h"
#include "governance/shadow_queue.h"

#define AIG_SHADOW_SLOTS 32
#define AIG_SHADOW_ROLE_SLOTS (AIG_SHADOW_SLOTS / 4)

typedef struct ShadowSlot
{
	uint32		len;
	Oid			roleid;
	Oid			session_roleid; /* the caller's login role (identity.h) */
	char		data[AIG_SHADOW_SLOT_BYTES];
} ShadowSlot;

typedef struct ShadowQueue
{
	slock_t		mutex;
	uint64		gen;			/* the database slot generation it serves */
	uint64		head;
	uint64		tail;
	Latch	   *worker_latch;
	pg_atomic_uint64 queued;
	pg_atomic_uint64 sent;
	pg_atomic_uint64 dropped;
	ShadowSlot	slots[AIG_SHADOW_SLOTS];
} ShadowQueue;

/* one queue per database slot (core/dbslots.h); sq: this backend's */
static ShadowQueue *queues = NULL;
static ShadowQueue *sq = NULL;

/* Shared memory the queues need. */
Size
aig_shadow_shmem_size(void)
{
	return mul_size(sizeof(ShadowQueue), aig_max_databases);
}

/* Create or attach the queues (postmaster, at shared-memory startup). */
void
aig_shadow_shmem_startup(void)
{
	bool		found;

	queues = ShmemInitStruct("ai_gateway shadow queue", aig_shadow_shmem_size(), &found);
	if (!found)
		for (int i = 0; i < aig_max_databases; i++)
		{
			SpinLockInit(&queues[i].mutex);
			queues[i].gen = 0;
			queues[i].head = queues[i].tail = 0;
			queues[i].worker_latch = NULL;
			pg_atomic_init_u64(&queues[i].queued, 0);
			pg_atomic_init_u64(&queues[i].sent, 0);
			pg_atomic_init_u64(&queues[i].dropped, 0);
		}
}

/*
 * Point sq at this database's queue; false when it has none.  A queue
 * whose slot went to another database is set up anew by whoever comes
 * first under the new generation.
 */
static bool
locate(void)
{
	uint64		gen;
	int			slot = aig_audit_slot(&gen);

	sq = NULL;
	if (queues == NULL || slot < 0)
		return false;
	sq = &queues[slot];
	SpinLockAcquire(&sq->mutex);
	if (sq->gen != gen)
	{
		sq->gen = gen;
		sq->head = sq->tail = 0;
		sq->worker_latch = NULL;
		pg_atomic_write_u64(&sq->queued, 0);
		pg_atomic_write_u64(&sq->sent, 0);
		pg_atomic_write_u64(&sq->dropped, 0);
	}
	SpinLockRelease(&sq->mutex);
	return true;
}

/* Queued, sent and dropped copies since the server started. */
void
aig_shadow_counters(AigShadowCounters *out)
{
	(void) locate();
	out->queued = sq ? pg_atomic_read_u64(&sq->queued) : 0;
	out->sent = sq ? pg_atomic_read_u64(&sq->sent) : 0;
	out->dropped = sq ? pg_atomic_read_u64(&sq->dropped) : 0;
}

/* Copy a job into a free slot and wake the worker; dropped (and counted) when none. */
static void
push(const char *job, size_t len)
{
	bool		ok = false;
	Latch	   *wake;

	if (len <= AIG_SHADOW_SLOT_BYTES)
	{
		Oid			me = GetUserId();
		int			mine = 0;

		SpinLockAcquire(&sq->mutex);
		for (uint64 i = sq->tail; i < sq->head; i++)
			mine += sq->slots[i % AIG_SHADOW_SLOTS].roleid == me;
		if (sq->head - sq->tail < AIG_SHADOW_SLOTS && mine < AIG_SHADOW_ROLE_SLOTS)
		{
			ShadowSlot *slot = &sq->slots[sq->head % AIG_SHADOW_SLOTS];

			/* the slot is ours until head moves past it: copy, then publish */
			slot->len = (uint32) len;
			slot->roleid = me;
			slot->session_roleid = aig_session_role();
			memcpy(slot->data, job, len);
			sq->head++;
			ok = true;
		}
		wake = sq->worker_latch;
		SpinLockRelease(&sq->mutex);
		if (ok && wake)
			SetLatch(wake);
	}
	pg_atomic_fetch_add_u64(ok ? &sq->queued : &sq->dropped, 1);
}

/* Queue one copy per shadow target of route (options_json: the call's options). */
void
aig_shadow_enqueue(const AigRoute *route, const char *messages_json,
				   const char *options_json)
{
	const char *options = options_json;

	if (!aig_audit_db_served() || !locate())
		return;
	for (int i = 0; i < route->ntargets; i++)
	{
		const AigTarget *t = &route->targets[i];
		StringInfoData job;

		if (!t->shadow)
			continue;
		/* no shadow worker runs during recovery: dropped, counted */
		if (aig_on_standby())
		{
			pg_atomic_fetch_add_u64(&sq->dropped, 1);
			continue;
		}
		initStringInfo(&job);
		appendStringInfoString(&job, "{\"route\":");
		escape_json(&job, route->name);
		appendStringInfoString(&job, ",\"provider\":");
		escape_json(&job, t->provider->name);
		appendStringInfoString(&job, ",\"model\":");
		escape_json(&job, t->model);
		appendStringInfo(&job, ",\"messages\":%s,\"options\":%s}", messages_json, options);
		push(job.data, job.len);
	}
}

/* The worker is gone: pushes stop waking it. */
static void
shadow_detach(int code, Datum arg)
{
	SpinLockAcquire(&sq->mutex);
	sq->worker_latch = NULL;
	SpinLockRelease(&sq->mutex);
}

/* The worker takes the queue: its latch is woken by every push. */
void
aig_shadow_worker_attach(void)
{
	if (!locate())
		elog(ERROR, "ai_gateway shadow worker: no slot for this database");
	SpinLockAcquire(&sq->mutex);
	sq->worker_latch = MyLatch;
	SpinLockRelease(&sq->mutex);
	before_shmem_exit(shadow_detach, 0);
}

/* Copy the oldest job out (NUL-terminated, buf of AIG_SHADOW_SLOT_BYTES + 1); false when none. */
bool
aig_shadow_pop(char *buf, Oid *roleid, Oid *session_roleid)
{
	bool		have = false;

	SpinLockAcquire(&sq->mutex);
	if (sq->tail < sq->head)
	{
		ShadowSlot *slot = &sq->slots[sq->tail % AIG_SHADOW_SLOTS];

		memcpy(buf, slot->data, slot->len);
		buf[slot->len] = '\0';
		*roleid = slot->roleid;
		*session_roleid = slot->session_roleid;
		sq->tail++;
		have = true;
	}
	SpinLockRelease(&sq->mutex);
	return have;
}

/* Count a job as sent, or as dropped (it failed before its audit record). */
void
aig_shadow_count(bool sent)
{
	pg_atomic_fetch_add_u64(sent ? &sq->sent : &sq->dropped, 1);
}
