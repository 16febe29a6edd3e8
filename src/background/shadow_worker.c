/*
 * shadow_worker.c — the "ai_gateway shadow worker" (connected to
 * ai_gateway.database): takes the copies of calls queued for shadow
 * targets (governance/shadow_queue.c) one at a time, each in a transaction
 * of its own, and hands each to the pipeline's shadow mode
 * (aig_pipeline_shadow: one attempt to the shadow target with the same
 * dialect code as a normal call — no retries, no failover: a shadow
 * measures the target as it is — and an audit record with shadow = true,
 * as the role of the primary call).  The copy was already hooked and
 * redacted by the primary call's stages; nothing runs twice.
 *
 * A copy whose provider was removed meanwhile is skipped; one that fails
 * with an error is logged, counted as dropped, and its transaction is
 * aborted before the next.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "background/shadow_worker.h"
#include "background/worker.h"
#include "core/catalog.h"
#include "core/jsonb_util.h"
#include "governance/audit.h"
#include "governance/identity.h"
#include "governance/shadow_queue.h"
#include "routing/messages.h"
#include "routing/pipeline.h"

/* Turn one queued copy into a request and send it; false when it was skipped or failed. */
static bool
run_copy(const char *json, Oid roleid)
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
	AigTarget	t;
	int			cap = 0;

	aig_catalog_ensure();
	p = pname ? aig_catalog_provider(pname) : NULL;
	if (p == NULL || model == NULL || m == NULL)
		return false;			/* the provider was removed meanwhile */
	aig_parse_call_options(o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL, &co);
	memset(&req, 0, sizeof(req));
	req.opts = co.gen;
	aig_parse_messages(JsonbValueToJsonb(m), &req, &cap);

	memset(&t, 0, sizeof(t));
	t.provider = p;
	t.model = model;
	t.price = aig_catalog_price(pname, model);
	aig_pipeline_shadow(route, &t, &req, &co, roleid);
	return true;
}

/* The worker's main loop: wait for copies, send each in a transaction of its own. */
void
aig_shadow_worker_loop(volatile sig_atomic_t *stop)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway shadow job",
											  ALLOCSET_DEFAULT_SIZES);
	char	   *job = MemoryContextAlloc(TopMemoryContext, AIG_SHADOW_SLOT_BYTES + 1);

	aig_shadow_worker_attach();
	aig_audit_prepare_worker();

	while (!*stop)
	{
		Oid			roleid = InvalidOid;
		Oid			session_roleid = InvalidOid;

		if (!aig_shadow_pop(job, &roleid, &session_roleid))
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
			/* audited with the primary call's login role too */
			aig_session_role_set(session_roleid);
			if (run_copy(job, roleid))
				aig_shadow_count(true);
			aig_session_role_set(InvalidOid);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			/* the worker's loop: the error is logged and its transaction aborted */
			aig_session_role_set(InvalidOid);
			aig_worker_round_failed(cxt);
			aig_shadow_count(false);
		}
		PG_END_TRY();
		pgstat_report_activity(STATE_IDLE, NULL);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cxt);
	}
}
