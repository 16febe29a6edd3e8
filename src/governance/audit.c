/*
 * audit.c — the audit trail between the caller and ai_gateway.audit_log.
 *
 * A call ends by serializing one record into a ring buffer in shared memory
 * (ai_gateway.audit_queue_kb); the background worker (worker.c) drains it in
 * batches into ai_gateway.audit_log (audit_writer.c).  So the row does not
 * depend on the caller's transaction — a ROLLBACK cannot erase it — and the
 * caller pays a memcpy under a lock, not a table write.
 *
 * Records are valid by construction: every string is cut on a character
 * boundary of the database encoding, and a JSON value over its cap
 * (metadata 8 kB, a logged prompt 64 kB) becomes a valid JSON object that
 * says so: {"truncated": true, "bytes": N, "head": "<its start, escaped>"}.
 * What the database still refuses, the writer sets aside (audit_writer.c).
 *
 * Shared memory: the queue (header + ring), sized by aig_audit_shmem_size()
 * and created by aig_audit_shmem_startup() (init/shmem.c calls both);
 * audit_internal.h is its layout, shared with the writer.
 *
 * Locking: queue->lock, the "ai_gateway audit" tranche's only lock, guards
 * head (next write position), tail (next read position), the worker's
 * latch and the last set-aside error; head and tail are byte counts that
 * only grow; the buffer offset is position % size.  Producers copy a record
 * in and advance head under the lock in exclusive mode.  The worker reads
 * head under the lock, copies records out and writes them without holding
 * it, and advances tail under the lock only after its transaction
 * committed — a crash of the worker mid-batch loses nothing, the batch is
 * written again.
 *
 * Loss: the queue lives in shared memory, so a server crash (or an
 * immediate shutdown) loses the records not yet written: at most what
 * arrived during one flush interval (ai_gateway.audit_flush_ms) plus one
 * batch in flight.  When the queue is full a caller waits up to
 * ai_gateway.audit_wait_ms for the worker; after that the record is dropped
 * and counted (ai_gateway.audit_stats()), never silently.  Error paths
 * (PG_CATCH) do not wait.  Each served database has its own queue (one
 * per slot of core/dbslots.h, drained by that database's worker); records
 * of a database no worker serves (not on ai_gateway.databases, or no slot
 * free) are counted, not queued.
 * Records of denied calls (grant, quota, rate limit, policy) never wait
 * and are bounded per session and to half the queue (refusal_admitted()).
 * On a hot standby (ai_gateway.standby_calls = 'unaudited') a record is not
 * queued: it goes to the server log as JSON, counted (standby.c).
 *
 * This file is the producer side (queue, records, counters, GUCs); the
 * worker's writer is audit_writer.c; the SQL functions audit_stats() and
 * audit_flush() are in api/audit_api.c.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/guc.h"

#include "core/dbslots.h"
#include "core/preload.h"
#include "governance/audit.h"
#include "governance/audit_internal.h"
#include "governance/identity.h"
#include "governance/standby.h"
#include "base/compat.h"
#include "mb/pg_wchar.h"

int			aig_audit_queue_kb = 8192;
int			aig_audit_wait_ms = 1000;
int			aig_audit_flush_ms = 100;
char	   *aig_audit_retention = NULL;
bool		aig_log_prompts = false;
int			aig_audit_refusals_per_second = 10;

AigAuditQueue *aig_audit_queue = NULL;
#define queue aig_audit_queue
static char *record_buf = NULL;	/* malloc'd once: no palloc in error paths */

#define AUDIT_TRANCHE "ai_gateway audit"

/*
 * One queue per database slot (core/dbslots.h), each with audit_queue_kb
 * of records and its own lock, and one header without a ring that only
 * counts the records of databases no worker serves.
 */
static char *queues = NULL;
static Size queue_stride = 0;
static AigAuditQueue *unserved = NULL;
static int	my_slot = -1;		/* this backend's database's slot, -1: none */
static uint64 my_gen = 0;

static Size
one_queue_size(void)
{
	return MAXALIGN(add_size(offsetof(AigAuditQueue, data), (Size) aig_audit_queue_kb * 1024));
}

/* Shared memory needed: a queue per database slot, and the unserved header. */
Size
aig_audit_shmem_size(void)
{
	return add_size(mul_size(one_queue_size(), aig_max_databases),
					MAXALIGN(offsetof(AigAuditQueue, data)));
}

/* Ask for the queues' locks (from the shmem request hook). */
void
aig_audit_shmem_request(void)
{
	RequestNamedLWLockTranche(AUDIT_TRANCHE, aig_max_databases + 1);
}

/* A queue's header as new, for database db under generation gen (its lock is set). */
static void
queue_reset(AigAuditQueue *q, uint64 size, Oid db, uint64 gen)
{
	q->head = q->tail = 0;
	q->size = size;
	q->dbid = db;
	q->gen = gen;
	q->worker_latch = NULL;
	q->worker_dbid = InvalidOid;
	q->last_set_aside[0] = '\0';
	pg_atomic_init_u64(&q->enqueued, 0);
	pg_atomic_init_u64(&q->written, 0);
	pg_atomic_init_u64(&q->dropped_full, 0);
	pg_atomic_init_u64(&q->dropped_other_db, 0);
	pg_atomic_init_u64(&q->waits, 0);
	pg_atomic_init_u64(&q->set_aside, 0);
	pg_atomic_init_u64(&q->set_aside_lost, 0);
	pg_atomic_init_u64(&q->refusals_suppressed, 0);
	pg_atomic_init_u64(&q->logged_on_standby, 0);
}

static AigAuditQueue *
queue_at(int slot)
{
	return (AigAuditQueue *) (queues + queue_stride * slot);
}

/* Create or attach the queues; caller holds AddinShmemInitLock. */
void
aig_audit_shmem_startup(void)
{
	bool		found;

	queue_stride = one_queue_size();
	queues = ShmemInitStruct("ai_gateway audit queue", aig_audit_shmem_size(), &found);
	unserved = (AigAuditQueue *) (queues + queue_stride * aig_max_databases);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(AUDIT_TRANCHE);

		for (int i = 0; i <= aig_max_databases; i++)
		{
			AigAuditQueue *q = i < aig_max_databases ? queue_at(i) : unserved;

			q->lock = &locks[i].lock;
			queue_reset(q, i < aig_max_databases ? (uint64) aig_audit_queue_kb * 1024 : 0,
						InvalidOid, 0);
		}
	}
	queue = unserved;
}

/*
 * Is the current queue this backend's database's, under the slot's current
 * generation?  A slot the launcher freed and gave to a database again is
 * set up anew by whoever comes first.  Caller holds queue->lock exclusive.
 */
static bool
queue_bind(void)
{
	if (queue == unserved || my_slot < 0)
		return false;
	if (queue->gen == my_gen && queue->dbid == MyDatabaseId)
		return true;
	if (!aig_dbslot_current(my_slot, MyDatabaseId, my_gen))
		return false;
	queue_reset(queue, queue->size, MyDatabaseId, my_gen);
	return true;
}

/*
 * The longest prefix of s (len bytes) of at most limit bytes that ends on a
 * character boundary of the database encoding.  Never raises, no palloc.
 */
int
aig_audit_clip(const char *s, int len, int limit)
{
	if (len <= limit)
		return len;
	return pg_encoding_mbcliplen(GetDatabaseEncoding(), s, len, limit);
}

/* A string as its length and bytes, cut at a character boundary within cap. */
static void
put_string(char **p, const char *s, size_t cap)
{
	uint32		len = PG_UINT32_MAX;

	if (s)
		len = (uint32) aig_audit_clip(s, (int) strnlen(s, cap + 1), (int) cap);
	memcpy(*p, &len, sizeof(len));
	*p += sizeof(len);
	if (s)
	{
		memcpy(*p, s, len);
		*p += len;
	}
}

/*
 * A JSON document (text) within cap bytes, valid JSON whatever its size:
 * as it is when it fits, else an object that says it was cut, its size and
 * the start of its text as a JSON string:
 *   {"truncated": true, "bytes": N, "head": "..."}
 * The head is cut on a character boundary and escaped (quotes, backslashes,
 * control characters), so the record stays valid JSON and valid text.
 */
static void
put_json(char **p, const char *s, size_t cap)
{
	size_t		full;
	char	   *start;
	char	   *out;
	char	   *limit;
	uint32		len;
	int			n;
	const char *in;
	const char *in_end;

	if (s == NULL || (full = strlen(s)) <= cap)
	{
		put_string(p, s, cap);
		return;
	}
	start = *p + sizeof(uint32);
	n = snprintf(start, cap, "{\"truncated\": true, \"bytes\": %zu, \"head\": \"", full);
	out = start + n;
	limit = start + cap - 2;	/* room for the closing quote and brace */
	in = s;
	/* characters whole: a multibyte one is copied only if all of it fits */
	in_end = s + aig_audit_clip(s, (int) Min(full, (size_t) PG_INT32_MAX), (int) cap);
	while (in < in_end)
	{
		unsigned char c = (unsigned char) *in;
		char		esc[8];
		int			elen;
		int			clen = 1;

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			elen = 2;
		}
		else if (c < 0x20)
			elen = snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
		{
			clen = pg_encoding_mblen(GetDatabaseEncoding(), in);
			if (clen < 1 || in + clen > in_end)
				break;
			elen = 0;
		}
		if (out + (elen ? elen : clen) > limit)
			break;
		if (elen)
			memcpy(out, esc, elen);
		else
			memcpy(out, in, clen);
		out += elen ? elen : clen;
		in += clen;
	}
	*out++ = '"';
	*out++ = '}';
	len = (uint32) (out - start);
	memcpy(*p, &len, sizeof(len));
	*p += sizeof(len) + len;
}

/* Serialize into record_buf; returns the length.  No palloc, no ereport. */
static uint32
serialize(const AigAuditRecord *rec)
{
	AigAuditHead h;
	char	   *p = record_buf + sizeof(AigAuditHead);

	memset(&h, 0, sizeof(h));
	h.dbid = MyDatabaseId;
	h.roleid = OidIsValid(rec->roleid) ? rec->roleid : GetUserId();
	h.session_roleid = OidIsValid(rec->session_roleid) ? rec->session_roleid :
		aig_session_role();
	h.ts = GetCurrentTimestamp();
	h.http_status = rec->http_status;
	h.sqlerrcode = rec->sqlerrcode;
	h.attempts = rec->attempts;
	h.latency_ms = rec->latency_ms;
	h.input_tokens = rec->input_tokens;
	h.output_tokens = rec->output_tokens;
	h.cost_usd = rec->cost_usd;
	h.flags = (rec->has_cost ? AIG_AUDIT_F_HAS_COST : 0) |
		(rec->cache_hit ? AIG_AUDIT_F_CACHE_HIT : 0) |
		(rec->shadow ? AIG_AUDIT_F_SHADOW : 0);
	put_string(&p, rec->route, AIG_AUDIT_CAP_NAME);
	put_string(&p, rec->provider, AIG_AUDIT_CAP_NAME);
	put_string(&p, rec->model, AIG_AUDIT_CAP_NAME);
	put_string(&p, rec->status, AIG_AUDIT_CAP_STATUS);
	put_string(&p, rec->error, AIG_AUDIT_CAP_ERROR);
	put_json(&p, rec->metadata, AIG_AUDIT_CAP_METADATA);
	put_json(&p, rec->prompt, AIG_AUDIT_CAP_TEXT);
	put_string(&p, rec->output, AIG_AUDIT_CAP_TEXT);
	h.len = (uint32) (p - record_buf);
	memcpy(record_buf, &h, sizeof(h));
	return h.len;
}

/* Copy len bytes in or out of the ring at position pos. */
void
aig_audit_ring_copy(uint64 pos, char *local, uint32 len, bool in)
{
	uint64		off = pos % queue->size;
	uint64		first = Min((uint64) len, queue->size - off);

	if (in)
	{
		memcpy(queue->data + off, local, first);
		memcpy(queue->data, local + first, len - first);
	}
	else
	{
		memcpy(local, queue->data + off, first);
		memcpy(local + first, queue->data, len - first);
	}
}

/*
 * Refusal records (calls refused for a grant, quota, rate limit or policy)
 * cost the refused caller nothing, so a hostile one could flood the queue
 * with them.  Two bounds: each backend queues at most
 * ai_gateway.audit_refusals_per_second of them (a token bucket, burst of
 * one second's worth), and none is queued while the queue is more than half
 * full, so the other half stays for everyone's calls.  What is held back is
 * counted (audit_stats().refusals_suppressed) and the backend's next
 * refusal record says how many of its own were not recorded.
 */
static double refusal_tokens = -1;
static TimestampTz refusal_refilled = 0;
static uint64 refusals_held = 0;

static bool
refusal_admitted(void)
{
	TimestampTz now = GetCurrentTimestamp();
	double		rate = aig_audit_refusals_per_second;

	if (rate <= 0)
		return false;
	if (refusal_tokens < 0)
		refusal_tokens = rate;
	else
		refusal_tokens = Min(rate, refusal_tokens + (double) (now - refusal_refilled) / 1e6 * rate);
	refusal_refilled = now;
	if (refusal_tokens < 1)
		return false;
	refusal_tokens -= 1;
	return true;
}

/* Is this backend's database on the allow-list?  -1 until aig_audit_prepare(). */
static int	audited_db = -1;
static bool warned_full = false;

/*
 * Called at the start of every call, in a normal transaction state, so the
 * error path never needs a catalog lookup: finds (or claims, which starts
 * its workers) this database's slot.  Warns once per backend when this
 * database is not on the allow-list, or when every slot is taken.
 */
void
aig_audit_prepare(void)
{
	if (audited_db < 0)
	{
		audited_db = aig_database_allowed(get_database_name(MyDatabaseId)) ? 1 : 0;
		if (!audited_db)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ai_gateway workers do not serve this database"),
					 errdetail("Calls in this database are not audited; ai_gateway.databases is \"%s\".",
							   aig_databases && aig_databases[0] ? aig_databases :
							   (aig_database ? aig_database : "")),
					 errhint("Add this database to ai_gateway.databases in postgresql.conf (or empty it), and restart the server.")));
	}
	my_slot = audited_db == 1 ? aig_dbslot_claim(MyDatabaseId, &my_gen) : -1;
	queue = my_slot >= 0 ? queue_at(my_slot) : unserved;
	if (audited_db == 1 && my_slot < 0 && !warned_full)
	{
		warned_full = true;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("ai_gateway serves at most %d databases, and all of them are taken", aig_max_databases),
				 errdetail("Calls in this database are not audited until a slot is free."),
				 errhint("Raise ai_gateway.max_databases (and max_worker_processes) and restart the server.")));
	}
}

/* The per-database workers: their database's slot, set by the launcher. */
void
aig_audit_prepare_worker(void)
{
	audited_db = 1;
	my_slot = aig_dbslot_of(MyDatabaseId, &my_gen);
	queue = my_slot >= 0 ? queue_at(my_slot) : unserved;
}

bool
aig_audit_db_served(void)
{
	return audited_db == 1 && my_slot >= 0;
}

int
aig_audit_slot(uint64 *gen)
{
	if (gen)
		*gen = my_gen;
	return my_slot;
}

/* Point at this database's queue without claiming a slot (for the SQL functions). */
static void
locate(void)
{
	if (my_slot < 0 && audited_db != 0)
	{
		my_slot = aig_dbslot_of(MyDatabaseId, &my_gen);
		queue = my_slot >= 0 ? queue_at(my_slot) : unserved;
	}
}

void
aig_audit_enqueue(const AigAuditRecord *rec, bool may_wait)
{
	uint32		len;
	int			waited = 0;
	Latch	   *wake = NULL;
	AigAuditRecord copy;
	char		note[AIG_AUDIT_CAP_ERROR];

	if (queue == NULL)
		return;
	if (audited_db == 0 || queue == unserved)
	{
		pg_atomic_fetch_add_u64(&queue->dropped_other_db, 1);
		return;
	}
	if (record_buf == NULL)
	{
		record_buf = malloc(AIG_AUDIT_RECORD_MAX);
		if (record_buf == NULL)
		{
			pg_atomic_fetch_add_u64(&queue->dropped_full, 1);
			return;
		}
	}
	if (rec->refusal)
	{
		bool		crowded;

		LWLockAcquire(queue->lock, LW_SHARED);
		crowded = queue->head - queue->tail > queue->size / 2;
		LWLockRelease(queue->lock);
		if (crowded || !refusal_admitted())
		{
			refusals_held++;
			pg_atomic_fetch_add_u64(&queue->refusals_suppressed, 1);
			return;
		}
		if (refusals_held > 0)
		{
			const char *err = rec->error ? rec->error : "denied";

			copy = *rec;
			/* the message cut on a character boundary, then the count */
			snprintf(note, sizeof(note), "%.*s (and " UINT64_FORMAT " earlier denied calls of this session not recorded)",
					 aig_audit_clip(err, (int) strnlen(err, sizeof(note)), (int) sizeof(note) - 100),
					 err, refusals_held);
			copy.error = note;
			rec = &copy;
			refusals_held = 0;
		}
		may_wait = false;
	}
	/* a standby has no worker and cannot write: the record goes to the server log */
	if (aig_on_standby())
	{
		aig_standby_log_record(rec, may_wait);
		/* one server-wide count: it outlives the slots a promotion assigns */
		pg_atomic_fetch_add_u64(&unserved->logged_on_standby, 1);
		return;
	}
	len = serialize(rec);

	for (;;)
	{
		bool		done = false;

		LWLockAcquire(queue->lock, LW_EXCLUSIVE);
		if (!queue_bind())
		{
			/* the slot went to another database (the extension was dropped) */
			LWLockRelease(queue->lock);
			pg_atomic_fetch_add_u64(&unserved->dropped_other_db, 1);
			return;
		}
		if (queue->size - (queue->head - queue->tail) >= len)
		{
			aig_audit_ring_copy(queue->head, record_buf, len, true);
			queue->head += len;
			done = true;
		}
		/* wake the worker when a quarter of the queue waits for it */
		if (queue->head - queue->tail > queue->size / 4 || !done)
			wake = queue->worker_latch;
		LWLockRelease(queue->lock);
		if (wake)
			SetLatch(wake);
		if (done)
		{
			pg_atomic_fetch_add_u64(&queue->enqueued, 1);
			return;
		}
		if (!may_wait || waited >= aig_audit_wait_ms)
		{
			pg_atomic_fetch_add_u64(&queue->dropped_full, 1);
			if (may_wait)
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("ai_gateway audit queue is full; an audit record was dropped"),
						 errhint("Check that the ai_gateway worker runs; raise ai_gateway.audit_queue_kb.")));
			return;
		}
		if (waited == 0)
			pg_atomic_fetch_add_u64(&queue->waits, 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		waited += 10;
	}
}

void
aig_audit_set_worker(Latch *latch, Oid dbid)
{
	if (latch)
		aig_audit_prepare_worker();
	if (queue == unserved)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (latch && !queue_bind())
	{
		LWLockRelease(queue->lock);
		return;
	}
	queue->worker_latch = latch;
	queue->worker_dbid = dbid;
	LWLockRelease(queue->lock);
}

bool
aig_audit_pending(void)
{
	bool		pending;

	LWLockAcquire(queue->lock, LW_SHARED);
	pending = queue->head != queue->tail;
	LWLockRelease(queue->lock);
	return pending;
}

void
aig_audit_counters(AigAuditCounters *out)
{
	locate();
	out->enqueued = pg_atomic_read_u64(&queue->enqueued);
	out->written = pg_atomic_read_u64(&queue->written);
	out->dropped_full = pg_atomic_read_u64(&queue->dropped_full);
	out->dropped_other_db = pg_atomic_read_u64(&queue->dropped_other_db);
	out->waits = pg_atomic_read_u64(&queue->waits);
	out->set_aside = pg_atomic_read_u64(&queue->set_aside);
	out->set_aside_lost = pg_atomic_read_u64(&queue->set_aside_lost);
	out->refusals_suppressed = pg_atomic_read_u64(&queue->refusals_suppressed);
	out->logged_on_standby = pg_atomic_read_u64(&unserved->logged_on_standby);
	LWLockAcquire(queue->lock, LW_SHARED);
	strlcpy(out->last_set_aside, queue->last_set_aside, sizeof(out->last_set_aside));
	out->queued_bytes = queue->head - queue->tail;
	out->queue_bytes = queue->size;
	LWLockRelease(queue->lock);
}

/* The queue position after the last record queued so far. */
uint64
aig_audit_queue_head(void)
{
	uint64		head;

	locate();
	LWLockAcquire(queue->lock, LW_SHARED);
	head = queue->head;
	LWLockRelease(queue->lock);
	return head;
}

/*
 * Has the worker written (and committed) every record queued before pos?
 * If not, wake it so it does not wait for its next flush interval.
 */
bool
aig_audit_written_through(uint64 pos)
{
	Latch	   *wake;
	bool		done;

	LWLockAcquire(queue->lock, LW_SHARED);
	done = queue->tail >= pos;
	wake = queue->worker_latch;
	LWLockRelease(queue->lock);
	if (!done && wake)
		SetLatch(wake);
	return done;
}

/* Define the audit trail's ai_gateway.* GUCs (called from _PG_init). */
void
aig_audit_define_gucs(void)
{
	/* PGC_POSTMASTER: defined only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ai_gateway.audit_queue_kb",
								"Size of the shared-memory audit queue.",
								NULL,
								&aig_audit_queue_kb,
								8192, 1024, 1024 * 1024,
								PGC_POSTMASTER,
								GUC_UNIT_KB,
								NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.log_prompts",
							 "Keep prompts and outputs in the audit log and request logs.",
							 NULL,
							 &aig_log_prompts,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.audit_wait_ms",
							"How long a call waits for room in a full audit queue before the record is dropped (and counted).",
							NULL,
							&aig_audit_wait_ms,
							1000, 0, 60000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.audit_refusals_per_second",
							"Refusal records (grant, quota, rate limit, policy) a session may queue per second; beyond, they are counted, not queued.",
							"0 records no refusal; they are counted in audit_stats().refusals_suppressed.",
							&aig_audit_refusals_per_second,
							10, 0, 100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.audit_flush_ms",
							"How often the worker writes queued audit records.",
							"Also bounds what a crash can lose.",
							&aig_audit_flush_ms,
							100, 10, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.audit_retention",
							   "Audit rows older than this interval are deleted by the worker; empty keeps them.",
							   NULL,
							   &aig_audit_retention,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
}
