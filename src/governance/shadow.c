/*
 * shadow.c — shadow targets (route_targets.shadow = true).
 *
 * When a call on a route with shadow targets succeeds, the caller queues
 * one job per shadow target in shared memory — the normalized request as
 * JSON, a memcpy — and returns; it never waits for the shadow nor sees its
 * answer.  A dedicated background worker ("ai_gateway shadow worker",
 * connected to ai_gateway.database) takes the jobs one at a time, sends
 * each to its target with the same dialect code as a normal call (one
 * attempt, no retries, no failover: a shadow measures the target as it
 * is), and queues an audit record with shadow = true: the shadow's answer
 * status, latency, tokens and cost, ready to be compared with the primary
 * rows in SQL.  Shadow calls are not charged to the caller's quotas.
 *
 * The queue has AIG_SHADOW_SLOTS slots of AIG_SHADOW_SLOT_BYTES; a job that
 * does not fit, or arrives while all slots are taken, is dropped and
 * counted (ai_gateway.audit_stats().shadow_dropped): shadow traffic is a
 * best-effort sample, the caller's call is never slowed down for it.  Only
 * calls made in ai_gateway.database are shadowed.
 *
 * Locking: a spinlock guards the slot ring positions; the worker copies a
 * job out before releasing its slot.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "routing/attempt.h"
#include "governance/audit.h"
#include "core/jsonb_util.h"
#include "governance/shadow.h"

#define AIG_SHADOW_SLOTS 32
#define AIG_SHADOW_SLOT_BYTES (64 * 1024)

typedef struct ShadowSlot
{
	uint32		len;
	Oid			roleid;
	char		data[AIG_SHADOW_SLOT_BYTES];
} ShadowSlot;

typedef struct ShadowQueue
{
	slock_t		mutex;
	uint64		head;
	uint64		tail;
	Latch	   *worker_latch;
	int			worker_pid;
	pg_atomic_uint64 queued;
	pg_atomic_uint64 sent;
	pg_atomic_uint64 dropped;
	ShadowSlot	slots[AIG_SHADOW_SLOTS];
} ShadowQueue;

static ShadowQueue *sq = NULL;

Size
aig_shadow_shmem_size(void)
{
	return sizeof(ShadowQueue);
}

void
aig_shadow_shmem_startup(void)
{
	bool		found;

	sq = ShmemInitStruct("ai_gateway shadow queue", sizeof(ShadowQueue), &found);
	if (!found)
	{
		SpinLockInit(&sq->mutex);
		sq->head = sq->tail = 0;
		sq->worker_latch = NULL;
		pg_atomic_init_u64(&sq->queued, 0);
		pg_atomic_init_u64(&sq->sent, 0);
		pg_atomic_init_u64(&sq->dropped, 0);
	}
}

void
aig_shadow_counters(AigShadowCounters *out)
{
	out->queued = sq ? pg_atomic_read_u64(&sq->queued) : 0;
	out->sent = sq ? pg_atomic_read_u64(&sq->sent) : 0;
	out->dropped = sq ? pg_atomic_read_u64(&sq->dropped) : 0;
}

static void
push(const char *job, size_t len)
{
	bool		ok = false;
	Latch	   *wake;

	if (len <= AIG_SHADOW_SLOT_BYTES)
	{
		SpinLockAcquire(&sq->mutex);
		if (sq->head - sq->tail < AIG_SHADOW_SLOTS)
		{
			ShadowSlot *slot = &sq->slots[sq->head % AIG_SHADOW_SLOTS];

			/* the slot is ours until head moves past it: copy, then publish */
			slot->len = (uint32) len;
			slot->roleid = GetUserId();
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

void
aig_shadow_enqueue(const AigRoute *route, const char *messages_json,
				   const AigCallOptions *co)
{
	const char *options = co->raw ?
		JsonbToCString(NULL, &co->raw->root, VARSIZE(co->raw)) : "{}";

	if (sq == NULL || !aig_audit_db_served())
		return;
	for (int i = 0; i < route->ntargets; i++)
	{
		const AigTarget *t = &route->targets[i];
		StringInfoData job;

		if (!t->shadow)
			continue;
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

/* Run one job: one attempt to the shadow target, then its audit record. */
static void
run_job(const char *json, Oid roleid)
{
	Jsonb	   *doc = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	char	   *route = aig_jsonb_get_string(doc, "route", "shadow job");
	char	   *pname = aig_jsonb_get_string(doc, "provider", "shadow job");
	char	   *model = aig_jsonb_get_string(doc, "model", "shadow job");
	JsonbValue *m = aig_jsonb_get(doc, "messages");
	JsonbValue *o = aig_jsonb_get(doc, "options");
	AigProvider *p;
	AigCallOptions co;
	AigChatRequest req;
	AigChatResult res;
	AigChatAttempt a;
	AigAttemptError err;
	AigTarget	t;
	AigHttpLimits lim;
	AigAuditRecord rec;
	instr_time	t0,
				t1;
	int			cap = 0;
	bool		ok;

	aig_catalog_ensure();
	p = pname ? aig_catalog_provider(pname) : NULL;
	if (p == NULL || model == NULL || m == NULL)
		return;					/* the provider was removed meanwhile */
	aig_parse_call_options(o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL, &co);
	memset(&req, 0, sizeof(req));
	req.opts = co.gen;
	aig_parse_messages(JsonbValueToJsonb(m), &req, &cap);

	memset(&t, 0, sizeof(t));
	t.provider = p;
	t.model = model;
	t.price = aig_catalog_price(pname, model);
	lim.timeout_ms = co.timeout_ms > 0 ? co.timeout_ms :
		p->timeout_ms > 0 ? p->timeout_ms : aig_timeout_ms;
	lim.connect_timeout_ms = Min(p->connect_timeout_ms > 0 ? p->connect_timeout_ms :
								 aig_connect_timeout_ms, lim.timeout_ms);
	lim.max_bytes = (size_t) aig_max_response_bytes;
	a.req = &req;
	a.result = &res;
	memset(&err, 0, sizeof(err));
	memset(&res, 0, sizeof(res));
	INSTR_TIME_SET_CURRENT(t0);
	ok = aig_attempt_chat(&t, &lim, &a, &err);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);

	memset(&rec, 0, sizeof(rec));
	rec.roleid = roleid;
	rec.route = route;
	rec.provider = pname;
	rec.model = model;
	rec.status = ok ? "ok" : "error";
	rec.http_status = ok ? 200 : (int) err.http_status;
	rec.attempts = 1;
	rec.latency_ms = INSTR_TIME_GET_MILLISEC(t1);
	rec.input_tokens = ok ? res.input_tokens : -1;
	rec.output_tokens = ok ? res.output_tokens : -1;
	rec.shadow = true;
	rec.error = ok ? NULL : err.message;
	if (ok && t.price && t.price->has_input_price && res.input_tokens >= 0 &&
		t.price->has_output_price && res.output_tokens >= 0)
	{
		rec.has_cost = true;
		rec.cost_usd = res.input_tokens * t.price->input_usd_per_mtok / 1e6 +
			res.output_tokens * t.price->output_usd_per_mtok / 1e6;
	}
	if (co.metadata)
		rec.metadata = JsonbToCString(NULL, &co.metadata->root, VARSIZE(co.metadata));
	rec.output = aig_log_prompts && ok ? res.content : NULL;
	aig_audit_enqueue(&rec, true);
	pg_atomic_fetch_add_u64(&sq->sent, 1);
}

static void
shadow_detach(int code, Datum arg)
{
	SpinLockAcquire(&sq->mutex);
	sq->worker_latch = NULL;
	sq->worker_pid = 0;
	SpinLockRelease(&sq->mutex);
}

void
aig_shadow_worker_loop(volatile sig_atomic_t *stop)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway shadow job",
											  ALLOCSET_DEFAULT_SIZES);
	char	   *job = MemoryContextAlloc(TopMemoryContext, AIG_SHADOW_SLOT_BYTES + 1);

	SpinLockAcquire(&sq->mutex);
	sq->worker_latch = MyLatch;
	sq->worker_pid = MyProcPid;
	SpinLockRelease(&sq->mutex);
	before_shmem_exit(shadow_detach, 0);
	aig_audit_prepare_worker();

	while (!*stop)
	{
		bool		have = false;
		Oid			roleid = InvalidOid;

		SpinLockAcquire(&sq->mutex);
		if (sq->tail < sq->head)
		{
			ShadowSlot *slot = &sq->slots[sq->tail % AIG_SHADOW_SLOTS];

			memcpy(job, slot->data, slot->len);
			job[slot->len] = '\0';
			roleid = slot->roleid;
			sq->tail++;
			have = true;
		}
		SpinLockRelease(&sq->mutex);

		if (!have)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			continue;
		}

		PG_TRY();
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			MemoryContextSwitchTo(cxt);
			pgstat_report_activity(STATE_RUNNING, "sending a shadow request");
			run_job(job, roleid);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			pg_atomic_fetch_add_u64(&sq->dropped, 1);
		}
		PG_END_TRY();
		pgstat_report_activity(STATE_IDLE, NULL);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cxt);
	}
}

int
aig_shadow_worker_pid(void)
{
	int			pid;

	if (sq == NULL)
		return 0;
	SpinLockAcquire(&sq->mutex);
	pid = sq->worker_pid;
	SpinLockRelease(&sq->mutex);
	return pid;
}
