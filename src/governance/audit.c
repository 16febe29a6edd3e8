/*
 * audit.c — the audit trail between the caller and ai_gateway.audit_log.
 *
 * A call ends by serializing one record into a ring buffer in shared memory
 * (ai_gateway.audit_queue_kb); the background worker (worker.c) drains it in
 * batches into ai_gateway.audit_log.  So the row does not depend on the
 * caller's transaction — a ROLLBACK cannot erase it — and the caller pays a
 * memcpy under a lock, not a table write.
 *
 * Shared memory: the queue (header + ring), sized by aig_audit_shmem_size()
 * and created by aig_audit_shmem_startup() (init/shmem.c calls both).
 *
 * Locking: queue->lock, the "ai_gateway audit" tranche's only lock, guards
 * head (next write position), tail (next read position) and the worker's
 * latch; head and tail are byte counts that only grow; the buffer
 * offset is position % size.  Producers copy a record in and advance head
 * under the lock in exclusive mode.  The worker reads head under the lock,
 * copies records out and writes them without holding it, and advances tail
 * under the lock only after its transaction committed — a crash of the
 * worker mid-batch loses nothing, the batch is written again.
 *
 * Loss: the queue lives in shared memory, so a server crash (or an
 * immediate shutdown) loses the records not yet written: at most what
 * arrived during one flush interval (ai_gateway.audit_flush_ms) plus one
 * batch in flight.  When the queue is full a caller waits up to
 * ai_gateway.audit_wait_ms for the worker; after that the record is dropped
 * and counted (ai_gateway.audit_stats()), never silently.  Error paths
 * (PG_CATCH) do not wait.  Records of databases other than
 * ai_gateway.database, where the worker runs, are counted, not queued.
 *
 * This file is the writer side (queue, worker's batch writer, counters);
 * the SQL functions audit_stats() and audit_flush() are in api/audit_api.c.
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

#include "core/preload.h"
#include "governance/audit.h"
#include "base/compat.h"

int			aig_audit_queue_kb = 8192;
int			aig_audit_wait_ms = 1000;
int			aig_audit_flush_ms = 100;
char	   *aig_audit_retention = NULL;
bool		aig_log_prompts = false;

#define NSTRINGS 8
#define CAP_NAME 256
#define CAP_ERROR 2048
#define CAP_METADATA 8192
#define CAP_TEXT 65536
#define RECORD_MAX (sizeof(RecordHead) + NSTRINGS * sizeof(uint32) + \
					3 * CAP_NAME + 16 + CAP_ERROR + CAP_METADATA + 2 * CAP_TEXT)

typedef struct RecordHead
{
	uint32		len;			/* whole record, this header included */
	Oid			dbid;
	Oid			roleid;
	int32		http_status;
	TimestampTz ts;
	int32		attempts;
	uint32		flags;
	double		latency_ms;
	int64		input_tokens;
	int64		output_tokens;
	double		cost_usd;
} RecordHead;

#define F_HAS_COST 1
#define F_CACHE_HIT 2
#define F_SHADOW 4

typedef struct AuditQueue
{
	LWLock	   *lock;			/* the "ai_gateway audit" tranche's lock */
	uint64		head;			/* under lock */
	uint64		tail;			/* under lock */
	uint64		size;
	Latch	   *worker_latch;	/* under lock; NULL when none */
	Oid			worker_dbid;
	int			worker_pid;
	pg_atomic_uint64 enqueued;
	pg_atomic_uint64 written;
	pg_atomic_uint64 dropped_full;
	pg_atomic_uint64 dropped_other_db;
	pg_atomic_uint64 waits;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} AuditQueue;

static AuditQueue *queue = NULL;
static char *record_buf = NULL;	/* malloc'd once: no palloc in error paths */

#define AUDIT_TRANCHE "ai_gateway audit"

/* Shared memory needed: the queue header and audit_queue_kb of records. */
Size
aig_audit_shmem_size(void)
{
	return add_size(offsetof(AuditQueue, data), (Size) aig_audit_queue_kb * 1024);
}

/* Ask for the queue's lock (from the shmem request hook). */
void
aig_audit_shmem_request(void)
{
	RequestNamedLWLockTranche(AUDIT_TRANCHE, 1);
}

/* Create or attach the queue; caller holds AddinShmemInitLock. */
void
aig_audit_shmem_startup(void)
{
	bool		found;

	queue = ShmemInitStruct("ai_gateway audit queue", aig_audit_shmem_size(), &found);
	if (!found)
	{
		queue->lock = &(GetNamedLWLockTranche(AUDIT_TRANCHE))->lock;
		queue->head = queue->tail = 0;
		queue->size = (uint64) aig_audit_queue_kb * 1024;
		queue->worker_latch = NULL;
		queue->worker_dbid = InvalidOid;
		pg_atomic_init_u64(&queue->enqueued, 0);
		pg_atomic_init_u64(&queue->written, 0);
		pg_atomic_init_u64(&queue->dropped_full, 0);
		pg_atomic_init_u64(&queue->dropped_other_db, 0);
		pg_atomic_init_u64(&queue->waits, 0);
	}
}

static void
put_string(char **p, const char *s, size_t cap)
{
	uint32		len = s ? (uint32) strnlen(s, cap) : PG_UINT32_MAX;

	if (s && len == cap)
	{
		/* cut on a UTF-8 character boundary */
		while (len > 0 && (((unsigned char) s[len]) & 0xC0) == 0x80)
			len--;
	}
	memcpy(*p, &len, sizeof(len));
	*p += sizeof(len);
	if (s)
	{
		memcpy(*p, s, len);
		*p += len;
	}
}

/* Serialize into record_buf; returns the length.  No palloc, no ereport. */
static uint32
serialize(const AigAuditRecord *rec)
{
	RecordHead	h;
	char	   *p = record_buf + sizeof(RecordHead);

	memset(&h, 0, sizeof(h));
	h.dbid = MyDatabaseId;
	h.roleid = OidIsValid(rec->roleid) ? rec->roleid : GetUserId();
	h.ts = GetCurrentTimestamp();
	h.http_status = rec->http_status;
	h.attempts = rec->attempts;
	h.latency_ms = rec->latency_ms;
	h.input_tokens = rec->input_tokens;
	h.output_tokens = rec->output_tokens;
	h.cost_usd = rec->cost_usd;
	h.flags = (rec->has_cost ? F_HAS_COST : 0) | (rec->cache_hit ? F_CACHE_HIT : 0) |
		(rec->shadow ? F_SHADOW : 0);
	put_string(&p, rec->route, CAP_NAME);
	put_string(&p, rec->provider, CAP_NAME);
	put_string(&p, rec->model, CAP_NAME);
	put_string(&p, rec->status, 16);
	put_string(&p, rec->error, CAP_ERROR);
	put_string(&p, rec->metadata, CAP_METADATA);
	put_string(&p, rec->prompt, CAP_TEXT);
	put_string(&p, rec->output, CAP_TEXT);
	h.len = (uint32) (p - record_buf);
	memcpy(record_buf, &h, sizeof(h));
	return h.len;
}

/* Copy len bytes in or out of the ring at position pos. */
static void
ring_copy(uint64 pos, char *local, uint32 len, bool in)
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

/* Is this backend's database the worker's?  -1 until aig_audit_prepare(). */
static int	audited_db = -1;

/*
 * Called at the start of every call, in a normal transaction state, so the
 * error path never needs a catalog lookup.  Warns once per backend when
 * this database is not the one the worker writes to.
 */
void
aig_audit_prepare(void)
{
	char	   *db;

	if (audited_db >= 0)
		return;
	db = get_database_name(MyDatabaseId);
	audited_db = (db != NULL && aig_database != NULL && strcmp(db, aig_database) == 0) ? 1 : 0;
	if (!audited_db)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ai_gateway audit log is written only in database \"%s\"",
						aig_database ? aig_database : ""),
				 errdetail("Calls in this database are not audited."),
				 errhint("Set ai_gateway.database to this database in postgresql.conf, or use the extension there.")));
}

void
aig_audit_prepare_worker(void)
{
	audited_db = 1;
}

bool
aig_audit_db_served(void)
{
	return audited_db == 1;
}

void
aig_audit_enqueue(const AigAuditRecord *rec, bool may_wait)
{
	uint32		len;
	int			waited = 0;
	Latch	   *wake = NULL;

	if (queue == NULL)
		return;
	if (audited_db == 0)
	{
		pg_atomic_fetch_add_u64(&queue->dropped_other_db, 1);
		return;
	}
	if (record_buf == NULL)
	{
		record_buf = malloc(RECORD_MAX);
		if (record_buf == NULL)
		{
			pg_atomic_fetch_add_u64(&queue->dropped_full, 1);
			return;
		}
	}
	len = serialize(rec);

	for (;;)
	{
		bool		done = false;

		LWLockAcquire(queue->lock, LW_EXCLUSIVE);
		if (queue->size - (queue->head - queue->tail) >= len)
		{
			ring_copy(queue->head, record_buf, len, true);
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
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->worker_latch = latch;
	queue->worker_dbid = dbid;
	queue->worker_pid = latch ? MyProcPid : 0;
	LWLockRelease(queue->lock);
}

int
aig_audit_worker_pid(void)
{
	int			pid;

	if (queue == NULL)
		return 0;
	LWLockAcquire(queue->lock, LW_SHARED);
	pid = queue->worker_pid;
	LWLockRelease(queue->lock);
	return pid;
}

static char *
get_string(const char **p)
{
	uint32		len;
	char	   *s;

	memcpy(&len, *p, sizeof(len));
	*p += sizeof(len);
	if (len == PG_UINT32_MAX)
		return NULL;
	s = pnstrdup(*p, len);
	*p += len;
	return s;
}

#define NCOLS 18
#define BATCH_ROWS 1000			/* rows per INSERT, at most */
#define BATCH_BYTES (4 * 1024 * 1024)	/* and record bytes (prompts can be big) */

/* The columns written, in order, with the type of each array of values. */
static const Oid col_types[NCOLS] = {
	TIMESTAMPTZOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID,
	FLOAT8OID, INT8OID, INT8OID, FLOAT8OID, BOOLOID, BOOLOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID
};

/*
 * Rows go in by batches, one INSERT over arrays of column values each:
 * executor start-up is paid per batch instead of per row.  The arrays are
 * unnested in the target list, in lockstep (no tuplestore per column), and
 * the plan is prepared once per worker.
 */
#define BATCH_INSERT \
	"INSERT INTO ai_gateway.audit_log (ts, role, route, provider, model, status, " \
	"http_status, attempts, latency_ms, input_tokens, output_tokens, cost_usd, " \
	"cache_hit, shadow, error, metadata, prompt, output) " \
	"SELECT pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), " \
	"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), " \
	"pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), " \
	"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)::numeric, " \
	"pg_catalog.unnest($13), pg_catalog.unnest($14), pg_catalog.unnest($15), " \
	"pg_catalog.unnest($16)::jsonb, pg_catalog.unnest($17)::jsonb, pg_catalog.unnest($18)"

static SPIPlanPtr batch_plan = NULL;

typedef struct AuditBatch
{
	int			nrows;
	Size		bytes;			/* of the records in it */
	Datum		values[NCOLS][BATCH_ROWS];
	bool		nulls[NCOLS][BATCH_ROWS];
} AuditBatch;

/* Decode one record into the next row of the batch. */
static void
batch_add(AuditBatch *b, const RecordHead *h, const char *p)
{
	int			r = b->nrows++;
	char	   *s[NSTRINGS];
	char	   *rolename;

	b->bytes += h->len;
	for (int i = 0; i < NSTRINGS; i++)
		s[i] = get_string(&p);
	for (int c = 0; c < NCOLS; c++)
		b->nulls[c][r] = false;
	rolename = GetUserNameFromId(h->roleid, true);
	b->values[0][r] = TimestampTzGetDatum(h->ts);
	b->values[1][r] = DirectFunctionCall1(namein, CStringGetDatum(rolename ? rolename :
																   psprintf("%u", h->roleid)));
	for (int i = 0; i < 4; i++)
	{
		b->values[2 + i][r] = s[i] ? CStringGetTextDatum(s[i]) : (Datum) 0;
		b->nulls[2 + i][r] = s[i] == NULL;
	}
	b->values[6][r] = Int32GetDatum(h->http_status);
	b->nulls[6][r] = h->http_status <= 0;
	b->values[7][r] = Int32GetDatum(h->attempts);
	b->values[8][r] = Float8GetDatum(h->latency_ms);
	b->values[9][r] = Int64GetDatum(h->input_tokens);
	b->nulls[9][r] = h->input_tokens < 0;
	b->values[10][r] = Int64GetDatum(h->output_tokens);
	b->nulls[10][r] = h->output_tokens < 0;
	b->values[11][r] = Float8GetDatum(h->cost_usd);
	b->nulls[11][r] = (h->flags & F_HAS_COST) == 0;
	b->values[12][r] = BoolGetDatum((h->flags & F_CACHE_HIT) != 0);
	b->values[13][r] = BoolGetDatum((h->flags & F_SHADOW) != 0);
	for (int i = 4; i < NSTRINGS; i++)
	{
		b->values[10 + i][r] = s[i] ? CStringGetTextDatum(s[i]) : (Datum) 0;
		b->nulls[10 + i][r] = s[i] == NULL;
	}
}

/* Insert the batch's rows with one statement; empties the batch. */
static void
batch_write(AuditBatch *b)
{
	Datum		arrays[NCOLS];
	int			lb = 1;

	if (b->nrows == 0)
		return;
	if (batch_plan == NULL)
	{
		Oid			types[NCOLS];
		SPIPlanPtr	plan;

		for (int c = 0; c < NCOLS; c++)
			types[c] = get_array_type(col_types[c]);
		plan = SPI_prepare(BATCH_INSERT, NCOLS, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the audit insert: %s",
				 SPI_result_code_string(SPI_result));
		batch_plan = plan;
	}
	for (int c = 0; c < NCOLS; c++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(col_types[c], &typlen, &typbyval, &typalign);
		arrays[c] = PointerGetDatum(construct_md_array(b->values[c], b->nulls[c], 1,
														&b->nrows, &lb, col_types[c],
														typlen, typbyval, typalign));
	}
	if (SPI_execute_plan(batch_plan, arrays, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) b->nrows)
		elog(ERROR, "could not insert into ai_gateway.audit_log");
	b->nrows = 0;
	b->bytes = 0;
}

/*
 * Write the queued records to ai_gateway.audit_log.  Called by the worker
 * inside a transaction with SPI connected; returns the number written.  The
 * tail is advanced by the caller's commit through aig_audit_commit().
 */
static uint64 pending_tail = 0;

int
aig_audit_drain(void)
{
	uint64		head;
	uint64		pos;
	int			n = 0;
	char	   *local = palloc(RECORD_MAX);
	AuditBatch *batch = palloc(sizeof(AuditBatch));
	MemoryContext batchcxt = AllocSetContextCreate(CurrentMemoryContext, "ai_gateway audit batch",
												   ALLOCSET_DEFAULT_SIZES);

	batch->nrows = 0;
	batch->bytes = 0;
	LWLockAcquire(queue->lock, LW_SHARED);
	head = queue->head;
	pos = queue->tail;
	LWLockRelease(queue->lock);

	/* at most ~4 MB per transaction */
	while (pos < head && n < 20000)
	{
		RecordHead	h;
		MemoryContext old;

		ring_copy(pos, (char *) &h, sizeof(h), false);
		if (h.len < sizeof(h) || h.len > RECORD_MAX)
			elog(ERROR, "corrupt ai_gateway audit queue record of %u bytes", h.len);
		ring_copy(pos, local, h.len, false);
		pos += h.len;
		if (h.dbid != MyDatabaseId)
		{
			pg_atomic_fetch_add_u64(&queue->dropped_other_db, 1);
			continue;
		}
		old = MemoryContextSwitchTo(batchcxt);
		batch_add(batch, &h, local + sizeof(RecordHead));
		if (batch->nrows == BATCH_ROWS || batch->bytes >= BATCH_BYTES)
		{
			batch_write(batch);
			MemoryContextReset(batchcxt);
		}
		MemoryContextSwitchTo(old);
		n++;
	}
	batch_write(batch);
	MemoryContextDelete(batchcxt);
	pfree(batch);
	pfree(local);
	pending_tail = pos;
	return n;
}

/* After the drain's transaction committed: free the space it wrote. */
void
aig_audit_commit(int written)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (pending_tail > queue->tail && pending_tail <= queue->head)
		queue->tail = pending_tail;
	LWLockRelease(queue->lock);
	pg_atomic_fetch_add_u64(&queue->written, written);
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
	out->enqueued = pg_atomic_read_u64(&queue->enqueued);
	out->written = pg_atomic_read_u64(&queue->written);
	out->dropped_full = pg_atomic_read_u64(&queue->dropped_full);
	out->dropped_other_db = pg_atomic_read_u64(&queue->dropped_other_db);
	out->waits = pg_atomic_read_u64(&queue->waits);
	LWLockAcquire(queue->lock, LW_SHARED);
	out->queued_bytes = queue->head - queue->tail;
	out->queue_bytes = queue->size;
	LWLockRelease(queue->lock);
}

/* The queue position after the last record queued so far. */
uint64
aig_audit_queue_head(void)
{
	uint64		head;

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
