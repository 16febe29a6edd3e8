/*
 * audit_api.c — the SQL functions over the audit trail that
 * governance/audit.c keeps: ai_gateway.audit_stats() (the queue's counters,
 * the records set aside, the refusals suppressed, the records logged on a standby, and the shadow queue's) and ai_gateway.audit_flush() (wait until what is
 * queued now has been written by the worker).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "storage/latch.h"
#include "utils/tuplestore.h"

#include "base/compat.h"
#include "core/catalog.h"
#include "core/preload.h"
#include "governance/audit.h"
#include "governance/shadow_queue.h"

/* ai_gateway.audit_stats() */
PG_FUNCTION_INFO_V1(aig_audit_stats);
Datum
aig_audit_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigAuditCounters c;
	AigShadowCounters sc;
	Datum		values[15];
	bool		nulls[15] = {0};

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	aig_audit_counters(&c);
	values[0] = Int64GetDatum((int64) c.enqueued);
	values[1] = Int64GetDatum((int64) c.written);
	values[2] = Int64GetDatum((int64) c.dropped_full);
	values[3] = Int64GetDatum((int64) c.dropped_other_db);
	values[4] = Int64GetDatum((int64) c.waits);
	values[5] = Int64GetDatum((int64) c.queued_bytes);
	values[6] = Int64GetDatum((int64) c.queue_bytes);
	aig_shadow_counters(&sc);
	values[7] = Int64GetDatum((int64) sc.queued);
	values[8] = Int64GetDatum((int64) sc.sent);
	values[9] = Int64GetDatum((int64) sc.dropped);
	values[10] = Int64GetDatum((int64) c.set_aside);
	values[11] = Int64GetDatum((int64) c.set_aside_lost);
	/* the refusal's message may quote a record: administrators only */
	aig_catalog_ensure();
	nulls[12] = c.last_set_aside[0] == '\0' || !aig_is_admin();
	values[12] = nulls[12] ? (Datum) 0 : CStringGetTextDatum(c.last_set_aside);
	values[13] = Int64GetDatum((int64) c.refusals_suppressed);
	values[14] = Int64GetDatum((int64) c.logged_on_standby);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* ai_gateway.audit_flush(timeout_ms): wait for what is queued now to be written. */
PG_FUNCTION_INFO_V1(aig_audit_flush);
Datum
aig_audit_flush(PG_FUNCTION_ARGS)
{
	int			timeout = PG_ARGISNULL(0) ? 10000 : PG_GETARG_INT32(0);
	uint64		target;
	int			waited = 0;

	aig_require_preload();
	target = aig_audit_queue_head();
	for (;;)
	{
		if (aig_audit_written_through(target))
			PG_RETURN_BOOL(true);
		if (waited >= timeout)
			PG_RETURN_BOOL(false);
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		waited += 10;
	}
}
