/*
 * jobs_api.c — the SQL side of async jobs: ai_complete_async and ai_result.
 *
 * ai_complete_async() checks what the caller can fix now (the route, its
 * grant, the options), inserts a row into ai_gateway.jobs (status queued)
 * in the caller's transaction and returns its id: nothing is sent unless
 * and until that transaction commits (a ROLLBACK takes the job with it),
 * and a commit callback wakes the job worker (background/jobs.c) at once.
 * The worker runs the job through the call pipeline as the role that
 * queued it: hooks, deny patterns and redaction apply as for ai_complete.
 *
 * A role's queue is bounded: its jobs queued or running (its own
 * uncommitted ones included) may not exceed
 * ai_gateway.max_queued_jobs_per_role (SUSET: a caller cannot raise its
 * own); one more is refused with 53400.  Queueing takes a transaction-level
 * advisory lock per role, so concurrent sessions of one role cannot both
 * pass the count.  A request larger than ai_gateway.job_max_request_kb is
 * refused (54000): the worker prepares jobs one after another, so one huge
 * request would hold every role's jobs.  A caller already at a quota is
 * refused at once (53400), as ai_complete would be, rather than filling the
 * queue with jobs that can only fail.
 *
 * ai_result(id, wait_ms) returns {"status", "result", "error", "attempts"},
 * waiting up to wait_ms for the job to finish.  A role reads only its own
 * jobs (42501 otherwise; administrators read all).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "core/catalog.h"
#include "core/job_signal.h"
#include "core/preload.h"
#include "governance/standby.h"
#include "governance/identity.h"
#include "core/search_path.h"
#include "governance/audit.h"
#include "governance/cache.h"
#include "governance/quota.h"
#include "routing/call_options.h"
#include "routing/pipeline.h"
#include "routing/pipeline_batch.h"
#include "routing/router.h"

/* first key of the advisory lock that serializes one role's queueing ('AIJQ') */
#define AIG_JOB_QUEUE_LOCK 0x41494a51

static bool wake_at_commit = false;
static bool callback_registered = false;

/* At commit of a transaction that queued a job: wake the worker. */
/*
 * The queue depth this transaction last counted for depth_role, plus the
 * jobs it queued since: while it holds the role's advisory lock no other
 * session adds jobs for the role (the worker only finishes them), so a
 * statement queueing many jobs counts once, not once per job.  An
 * overestimate at worst (a job finished meanwhile, a rolled-back
 * savepoint), never an underestimate.  Forgotten at the transaction's end.
 */
static Oid	depth_role = InvalidOid;
static int64 depth_known = 0;

static void
jobs_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		aig_jobs_wake();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		wake_at_commit = false;
		depth_role = InvalidOid;
	}
}

/* A rolled-back savepoint may have taken the role's lock with it: count again. */
static void
jobs_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		depth_role = InvalidOid;
}

/* The owner of the jobs table: queueing and reading run as it. */
static Oid
jobs_owner(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", false);
	Oid			rel = get_relname_relid("jobs", nsp);
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "ai_gateway.jobs is missing");
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * 53400 when role `role` (its name as a Datum) already has
 * ai_gateway.max_queued_jobs_per_role jobs queued or running.  SPI
 * connected, as the table's owner; the role's advisory lock is held to the
 * end of the transaction.
 */
static int64
check_queue_depth(Oid roleid, Datum role)
{
	Oid			types[1] = {NAMEOID};
	Datum		args[1];
	bool		isnull;
	int64		depth;

	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(AIG_JOB_QUEUE_LOCK),
						Int32GetDatum((int32) roleid));
	if (depth_role == roleid)
		depth = depth_known;
	else
	{
		args[0] = role;
		if (SPI_execute_with_args("SELECT count(*) FROM ai_gateway.jobs "
								  "WHERE role = $1 AND status IN ('queued', 'running')",
								  1, types, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not count the queued jobs");
		depth = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	depth_role = InvalidOid;	/* known again once the job is queued */
	if (depth >= aig_max_queued_jobs_per_role)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("role \"%s\" already has " INT64_FORMAT " async jobs queued or running",
						NameStr(*DatumGetName(role)), depth),
				 errdetail("ai_gateway.max_queued_jobs_per_role is %d.", aig_max_queued_jobs_per_role),
				 errhint("Wait for queued jobs to finish (ai_result), or ask a superuser to raise "
						 "ai_gateway.max_queued_jobs_per_role.")));
	return depth;
}

/*
 * ai_complete_async(prompt text, model text, system_prompt text, options jsonb)
 * RETURNS bigint
 */
PG_FUNCTION_INFO_V1(aig_complete_async);
Datum
aig_complete_async(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	StringInfoData req;
	AigAsOwner owner_scope;
	Datum		args[3];
	Oid			types[3] = {NAMEOID, JSONBOID, BOOLOID};
	volatile int64 id = 0;
	int64		depth;
	AigRoute   *route;
	Jsonb	   *opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	char	   *model = NULL;
	Oid			caller = GetUserId();

	/* as ai_complete: a NULL prompt is no call (no job, a NULL id) */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	aig_require_preload();
	/* the job table cannot be written during recovery */
	aig_standby_check_async();
	aig_catalog_ensure();
	aig_audit_prepare();
	if (!aig_audit_db_served())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("async jobs do not run in this database: the ai_gateway workers do not serve it"),
				 errhint("Add it to ai_gateway.databases (or raise ai_gateway.max_databases), or call ai_complete() for a synchronous answer.")));
	/*
	 * The model is resolved now, in the caller's session: without one, the
	 * caller's ai_gateway.default_route, not the worker's, is what runs.
	 */
	if (!PG_ARGISNULL(1))
		model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	else if (aig_default_route != NULL && aig_default_route[0] != '\0')
		model = pstrdup(aig_default_route);
	/* fail now, not later, on what the caller can fix: the route, its grant, the options */
	route = aig_pipeline_precheck(model);
	/* a caller already at a quota: refused now, as ai_complete would be */
	if (aig_cache_hits_count_quota)
		aig_quota_precheck();
	aig_parse_call_options(opts, &co);
	/* a batch job needs a target with a Batch API, and no reversible redaction */
	if (co.batch)
		aig_pipeline_batch_precheck(route);

	initStringInfo(&req);
	appendStringInfoString(&req, "{\"prompt\":");
	escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	appendStringInfoString(&req, ",\"model\":");
	escape_json(&req, model);
	appendStringInfoString(&req, ",\"system_prompt\":");
	if (PG_ARGISNULL(2))
		appendStringInfoString(&req, "null");
	else
		escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	appendStringInfo(&req, ",\"options\":%s",
					 opts ? JsonbToCString(NULL, &opts->root, VARSIZE(opts)) : "{}");
	/* the login role too: the job is held to its quotas when it runs */
	appendStringInfoString(&req, ",\"session_role\":");
	escape_json(&req, GetUserNameFromId(aig_session_role(), false));
	appendStringInfoChar(&req, '}');
	if ((int64) req.len > (int64) aig_job_max_request_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("async job request of %d bytes is larger than ai_gateway.job_max_request_kb (%d kB)",
						req.len, aig_job_max_request_kb),
				 errhint("Send a shorter prompt, call ai_complete() for a synchronous answer, or ask a superuser to raise ai_gateway.job_max_request_kb.")));

	/* before anything is counted: the count is forgotten when the transaction ends */
	if (!callback_registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		RegisterSubXactCallback(jobs_subxact_callback, NULL);
		callback_registered = true;
	}
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(caller, false)));
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(req.data));
	args[2] = BoolGetDatum(co.batch);
	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(jobs_owner(), &owner_scope);
	PG_TRY();
	{
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		depth = check_queue_depth(caller, args[0]);
		if (SPI_execute_with_args("INSERT INTO ai_gateway.jobs (role, request, batch) VALUES ($1, $2, $3) RETURNING id",
								  3, types, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not queue the job");
		depth_known = depth + 1;
		depth_role = caller;
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();

	wake_at_commit = true;
	PG_RETURN_INT64(id);
}

/* One look at a job, as the table's owner: false when it does not exist. */
static bool
read_job(int64 id, char **role, char **status, char **doc)
{
	AigAsOwner owner_scope;
	Datum		args[1];
	Oid			types[1] = {INT8OID};
	volatile bool found = false;

	args[0] = Int64GetDatum(id);
	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(jobs_owner(), &owner_scope);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT role::text, status, jsonb_build_object('status', status, "
								  "'result', result, 'error', error, 'attempts', attempts)::text "
								  "FROM ai_gateway.jobs WHERE id = $1",
								  1, types, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read ai_gateway.jobs");
		if (SPI_processed == 1)
		{
			MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);

			*role = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			*doc = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
			MemoryContextSwitchTo(old);
			found = true;
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();
	return found;
}

/* ai_result(job_id bigint, wait_ms int) RETURNS jsonb */
PG_FUNCTION_INFO_V1(aig_result);
Datum
aig_result(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int			wait = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int			waited = 0;
	Oid			me = GetUserId();
	bool		admin;

	aig_require_preload();
	aig_catalog_ensure();
	admin = aig_is_admin();
	if (wait < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait_ms must not be negative")));
	for (;;)
	{
		char	   *doc = NULL;
		char	   *role = NULL;
		char	   *status = NULL;

		if (!read_job(id, &role, &status, &doc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("job " INT64_FORMAT " does not exist", id),
					 errhint("Finished jobs are removed after ai_gateway.job_retention.")));
		if (!admin)
		{
			Oid			owner = get_role_oid(role, true);

			if (owner != me && !(OidIsValid(owner) && has_privs_of_role(me, owner)))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for job " INT64_FORMAT, id),
						 errdetail("The job belongs to another role.")));
		}
		if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 || waited >= wait)
			PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(doc)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(50, wait - waited), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited += 50;
	}
}
