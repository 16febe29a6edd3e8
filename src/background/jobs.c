/*
 * jobs.c — async jobs.
 *
 * ai_complete_async() inserts a row into ai_gateway.jobs (status queued)
 * in the caller's transaction and returns its id: nothing is sent unless
 * and until that transaction commits (a ROLLBACK takes the job with it),
 * and a commit callback wakes the job worker at once.  The "ai_gateway job
 * worker" (connected to ai_gateway.database) claims due jobs with FOR
 * UPDATE SKIP LOCKED, marks them running, and runs them through the batch
 * scheduler (batch.c): concurrently, each as the role that queued it (its
 * grants, quotas and audit rows), with the route's own retries inside.  A
 * job whose call failed with a retryable error is queued again with
 * next_attempt_at after an exponential backoff (or the provider's
 * Retry-After, when longer), up to
 * ai_gateway.job_max_attempts; then it is failed with its error.  Every
 * finished job is announced with NOTIFY ai_gateway_jobs, payload its id.
 *
 * Crash safety: a job is marked running (and its attempt counted) in a
 * transaction of its own before anything is sent; at start the worker puts
 * running jobs back in the queue, so a job in flight during a crash or an
 * immediate shutdown runs again — at-least-once delivery to the provider —
 * and its result is stored by an UPDATE ... WHERE status = 'running', so a
 * job has exactly one stored result.  A round that fails with an error (a
 * cancel, say) puts its claimed jobs back at once.  An interrupted job that
 * had used its last attempt fails ("interrupted") instead: no job is sent
 * more than ai_gateway.job_max_attempts times, crashes included.
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
#include "commands/async.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/preload.h"
#include "routing/attempt.h"
#include "governance/audit.h"
#include "core/catalog.h"
#include "background/jobs.h"
#include "core/jsonb_util.h"
#include "routing/router.h"
#include "routing/router_internal.h"
#include "core/search_path.h"

int			aig_job_max_attempts = 3;
char	   *aig_job_retention = NULL;

typedef struct JobsShared
{
	slock_t		mutex;
	Latch	   *latch;
	int			pid;
} JobsShared;

static JobsShared *js = NULL;
static bool wake_at_commit = false;
static bool callback_registered = false;

Size
aig_jobs_shmem_size(void)
{
	return sizeof(JobsShared);
}

void
aig_jobs_shmem_startup(void)
{
	bool		found;

	js = ShmemInitStruct("ai_gateway jobs", sizeof(JobsShared), &found);
	if (!found)
	{
		SpinLockInit(&js->mutex);
		js->latch = NULL;
		js->pid = 0;
	}
}

int
aig_jobs_worker_pid(void)
{
	int			pid;

	if (js == NULL)
		return 0;
	SpinLockAcquire(&js->mutex);
	pid = js->pid;
	SpinLockRelease(&js->mutex);
	return pid;
}

static void
jobs_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
	{
		Latch	   *l;

		SpinLockAcquire(&js->mutex);
		l = js->latch;
		SpinLockRelease(&js->mutex);
		if (l)
			SetLatch(l);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

/* Run one SPI statement as the owner of the jobs table. */
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
 * ai_complete_async(prompt text, model text, system_prompt text, options jsonb)
 * RETURNS bigint
 */
PG_FUNCTION_INFO_V1(aig_complete_async);
Datum
aig_complete_async(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigRoute   *route;
	StringInfoData req;
	AigAsOwner owner_scope;
	Datum		args[2];
	Oid			types[2] = {NAMEOID, JSONBOID};
	volatile int64 id = 0;
	Jsonb	   *opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("prompt must not be NULL")));
	aig_require_preload();
	aig_catalog_ensure();
	aig_audit_prepare();
	if (!aig_audit_db_served())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("async jobs run only in database \"%s\"", aig_database ? aig_database : ""),
				 errhint("Set ai_gateway.database to this database, or call ai_complete() for a synchronous answer.")));
	/* fail now, not later, on what the caller can fix */
	route = aig_resolve_model(PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	aig_r_check_access(route);
	aig_parse_call_options(opts, &co);

	initStringInfo(&req);
	appendStringInfoString(&req, "{\"prompt\":");
	escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	appendStringInfoString(&req, ",\"model\":");
	if (PG_ARGISNULL(1))
		appendStringInfoString(&req, "null");
	else
		escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&req, ",\"system_prompt\":");
	if (PG_ARGISNULL(2))
		appendStringInfoString(&req, "null");
	else
		escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	appendStringInfo(&req, ",\"options\":%s}",
					 opts ? JsonbToCString(NULL, &opts->root, VARSIZE(opts)) : "{}");

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(req.data));
	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(jobs_owner(), &owner_scope);
	PG_TRY();
	{
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("INSERT INTO ai_gateway.jobs (role, request) VALUES ($1, $2) RETURNING id",
								  2, types, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not queue the job");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();

	if (!callback_registered)
	{
		RegisterXactCallback(jobs_xact_callback, NULL);
		callback_registered = true;
	}
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

/* ---------------------------------------------------------------------- */
/* the worker */

typedef struct Job
{
	int64		id;
	char	   *role;
	int			attempts;
	Jsonb	   *request;
	AigBatchItem item;
	AigRoute   *route;
	char	   *model;
	bool		failed_before_call;
} Job;

static void
exec_sql(const char *sql)
{
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run: %s", sql);
}

/* Claim up to `limit` due jobs: they are running once this commits. */
static Job *
claim(int limit, int *n)
{
	Job		   *jobs;
	char	   *sql = psprintf("UPDATE ai_gateway.jobs SET status = 'running', attempts = attempts + 1 "
							   "WHERE id IN (SELECT id FROM ai_gateway.jobs WHERE status = 'queued' "
							   "AND next_attempt_at <= now() ORDER BY id LIMIT %d FOR UPDATE SKIP LOCKED) "
							   "RETURNING id, role::text, attempts, request::text", limit);

	if (SPI_execute(sql, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim jobs");
	*n = (int) SPI_processed;
	jobs = MemoryContextAllocZero(TopTransactionContext, sizeof(Job) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		bool		isnull;

		jobs[i].id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		jobs[i].role = SPI_getvalue(tup, desc, 2);
		jobs[i].attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		jobs[i].request = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															 CStringGetDatum(SPI_getvalue(tup, desc, 4))));
		MemoryContextSwitchTo(old);
	}
	return jobs;
}

/* Build a job's call; false (and item.error) when it cannot be made. */
static bool
prepare_job(Job *j)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		char	   *prompt = aig_jsonb_get_string(j->request, "prompt", "job");
		char	   *system = aig_jsonb_get_string(j->request, "system_prompt", "job");
		JsonbValue *o = aig_jsonb_get(j->request, "options");
		AigChatRequest *req = palloc0(sizeof(AigChatRequest));
		int			cap = 4;

		j->route = aig_resolve_model(j->model);
		j->item.co = palloc(sizeof(AigCallOptions));
		aig_parse_call_options(o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL, j->item.co);
		req->opts = j->item.co->gen;
		req->messages = palloc(sizeof(AigChatMessage) * cap);
		if (system == NULL)
			system = j->route->system_prompt;
		if (system)
		{
			req->messages[req->nmessages].role = "system";
			req->messages[req->nmessages++].content = pg_server_to_any(system, strlen(system), PG_UTF8);
		}
		req->messages[req->nmessages].role = "user";
		req->messages[req->nmessages++].content = pg_server_to_any(prompt, strlen(prompt), PG_UTF8);
		j->item.req = req;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		if (ed->sqlerrcode == ERRCODE_QUERY_CANCELED || ed->elevel > ERROR)
			ReThrowError(ed);
		j->item.error = ed->message;
		j->item.req = NULL;
		j->failed_before_call = true;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static bool
same_model(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Run the claimed jobs of one role: one batch per model string. */
static void
run_role_jobs(Job *jobs, int n, const char *role)
{
	Oid			roleid = get_role_oid(role, true);
	Oid			save_user;
	int			save_sec;

	if (!OidIsValid(roleid))
	{
		for (int i = 0; i < n; i++)
			if (strcmp(jobs[i].role, role) == 0)
			{
				jobs[i].item.error = psprintf("role \"%s\" no longer exists", role);
				jobs[i].failed_before_call = true;
			}
		return;
	}
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		bool	   *done = palloc0(sizeof(bool) * n);
		AigBatchItem *items = palloc0(sizeof(AigBatchItem) * n);
		int		   *which = palloc(sizeof(int) * n);

		for (int i = 0; i < n; i++)
		{
			AigRoute   *route = NULL;
			int			k = 0;

			if (done[i] || strcmp(jobs[i].role, role) != 0)
				continue;
			for (int m = i; m < n; m++)
			{
				if (done[m] || strcmp(jobs[m].role, role) != 0 ||
					!same_model(jobs[m].model, jobs[i].model))
					continue;
				done[m] = true;
				if (!prepare_job(&jobs[m]))
					continue;
				route = jobs[m].route;
				items[k] = jobs[m].item;
				which[k++] = m;
			}
			if (k == 0)
				continue;
			aig_route_chat_batch(route, items, k, aig_batch_concurrency);
			for (int x = 0; x < k; x++)
				jobs[which[x]].item = items[x];
		}
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
}

/* Store each job's outcome (once: only a running job is updated) and announce it. */
static void
store_results(Job *jobs, int n)
{
	Oid			types[5] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT4OID};
	SPIPlanPtr	plan = SPI_prepare("UPDATE ai_gateway.jobs SET status = $2, result = $3, error = $4, "
								   "finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE now() END, "
								   "next_attempt_at = CASE WHEN $2 = 'queued' "
								   "  THEN clock_timestamp() + make_interval(secs => greatest("
								   "       power(2, attempts) * 0.5, $5 / 1000.0)) "
								   "  ELSE next_attempt_at END "
								   "WHERE id = $1 AND status = 'running'", 5, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare the job update");
	for (int i = 0; i < n; i++)
	{
		AigBatchItem *it = &jobs[i].item;
		Datum		v[5];
		char		nulls[5] = {' ', ' ', 'n', 'n', ' '};
		const char *status;

		if (it->ok)
		{
			status = "succeeded";
			v[2] = JsonbPGetDatum(aig_chat_result_jsonb(&it->result, &it->info));
			nulls[2] = ' ';
		}
		else
		{
			status = (!jobs[i].failed_before_call && it->retryable &&
					  jobs[i].attempts < aig_job_max_attempts) ? "queued" : "failed";
			v[3] = CStringGetTextDatum(it->error ? it->error : "failed");
			nulls[3] = ' ';
		}
		v[0] = Int64GetDatum(jobs[i].id);
		v[1] = CStringGetTextDatum(status);
		/* a provider's Retry-After is honoured when longer than the backoff */
		v[4] = Int32GetDatum(Max(it->retry_after_ms, 0));
		if (SPI_execute_plan(plan, v, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not store the result of job " INT64_FORMAT, jobs[i].id);
		if (strcmp(status, "queued") != 0 && SPI_processed == 1)
			Async_Notify("ai_gateway_jobs", psprintf(INT64_FORMAT, jobs[i].id));
	}
	SPI_freeplan(plan);
}

static bool
jobs_table_present(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("jobs", nsp));
}

/*
 * Put jobs left running back in the queue, in a transaction of its own:
 * every running job (ids == NULL: at the worker's start, after a crash, an
 * immediate shutdown or a killed worker), or the `n` jobs of `ids` (a round
 * that failed).  A job that has used its last attempt fails instead, and is
 * announced.  false when this failed (the error is logged).
 */
static bool
requeue_running(const int64 *ids, int n)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (jobs_table_present())
		{
			Oid			types[2] = {INT4OID, INT8ARRAYOID};
			Datum		v[2];
			char		nulls[2] = {' ', ids ? ' ' : 'n'};
			int			level;

			v[0] = Int32GetDatum(aig_job_max_attempts);
			v[1] = (Datum) 0;
			if (ids)
			{
				Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

				for (int i = 0; i < n; i++)
					d[i] = Int64GetDatum(ids[i]);
				v[1] = PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64),
													   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			}
			level = aig_pin_search_path();
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute_with_args("UPDATE ai_gateway.jobs SET "
									  "status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END, "
									  "error = CASE WHEN attempts >= $1 THEN format('interrupted during "
									  "attempt %s of %s (server crash, shutdown or job worker error); "
									  "not sent again', attempts, $1) ELSE error END, "
									  "finished_at = CASE WHEN attempts >= $1 THEN now() END "
									  "WHERE status = 'running' AND ($2 IS NULL OR id = ANY ($2)) "
									  "RETURNING id, status",
									  2, types, v, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
				elog(ERROR, "could not requeue the running jobs");
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				char	   *status = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

				if (strcmp(status, "failed") == 0)
					Async_Notify("ai_gateway_jobs",
								 psprintf(INT64_FORMAT,
										  DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc,
																	  1, &isnull))));
			}
			SPI_finish();
			aig_restore_search_path(level);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/* One round of work: claim due jobs, run them, store the outcomes; returns how many it claimed. */
static int
jobs_round(void)
{
	volatile int n = 0;
	int64	   *volatile claimed = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		Job		   *jobs = NULL;

		/* claim in a transaction of its own: running is durable before any send */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (jobs_table_present())
		{
			int			got;
			int			level = aig_pin_search_path();

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			jobs = claim(aig_batch_concurrency * 4, &got);
			n = got;
			SPI_finish();
			aig_restore_search_path(level);
		}
		PopActiveSnapshot();
		if (n > 0)
		{
			/* keep the claimed rows beyond this transaction */
			Job		   *copy = MemoryContextAlloc(cxt, sizeof(Job) * n);
			int64	   *ids = MemoryContextAlloc(cxt, sizeof(int64) * n);

			for (int i = 0; i < n; i++)
				ids[i] = jobs[i].id;
			for (int i = 0; i < n; i++)
			{
				copy[i].id = jobs[i].id;
				copy[i].role = MemoryContextStrdup(cxt, jobs[i].role);
				copy[i].attempts = jobs[i].attempts;
				copy[i].request = (Jsonb *) MemoryContextAlloc(cxt, VARSIZE(jobs[i].request));
				memcpy(copy[i].request, jobs[i].request, VARSIZE(jobs[i].request));
				memset(&copy[i].item, 0, sizeof(AigBatchItem));
				copy[i].route = NULL;
				copy[i].model = aig_jsonb_get_string(copy[i].request, "model", "job");
				if (copy[i].model)
					copy[i].model = MemoryContextStrdup(cxt, copy[i].model);
				copy[i].failed_before_call = false;
			}
			jobs = copy;
			claimed = ids;
		}
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);

		if (n > 0)
		{
			int			level;

			/*
			 * Load the configuration in a short transaction of its own, so
			 * the long one that waits for the providers holds no lock on the
			 * ai_gateway tables (DROP EXTENSION need not wait for it); the
			 * cache stays valid until the next round calls
			 * aig_catalog_ensure() again.
			 */
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			aig_catalog_ensure();
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);

			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, "running async jobs");
			aig_audit_prepare_worker();
			for (int i = 0; i < n; i++)
			{
				bool		seen = false;

				for (int k = 0; k < i; k++)
					seen |= strcmp(jobs[k].role, jobs[i].role) == 0;
				if (!seen)
					run_role_jobs(jobs, n, jobs[i].role);
			}
			level = aig_pin_search_path();
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			store_results(jobs, n);
			SPI_finish();
			aig_restore_search_path(level);
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		/*
		 * The claimed jobs must not stay running: queue them again now, or
		 * (when even that fails) exit, and the next start of the worker
		 * requeues them.
		 */
		if (claimed && !requeue_running(claimed, n))
			proc_exit(1);
		n = 0;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return n;
}

static void
jobs_detach(int code, Datum arg)
{
	SpinLockAcquire(&js->mutex);
	js->latch = NULL;
	js->pid = 0;
	SpinLockRelease(&js->mutex);
}

void
aig_jobs_worker_loop(volatile sig_atomic_t *stop)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway jobs",
											  ALLOCSET_DEFAULT_SIZES);
	TimestampTz last_cleanup = 0;

	SpinLockAcquire(&js->mutex);
	js->latch = MyLatch;
	js->pid = MyProcPid;
	SpinLockRelease(&js->mutex);
	before_shmem_exit(jobs_detach, 0);
	MemoryContextSwitchTo(cxt);
	/* jobs in flight at a crash run again; should this fail, try at the next start */
	if (!requeue_running(NULL, 0))
		proc_exit(1);

	while (!*stop)
	{
		TimestampTz now;

		MemoryContextReset(cxt);
		if (jobs_round() > 0)
			continue;			/* more may be due */
		now = GetCurrentTimestamp();
		if (aig_job_retention && aig_job_retention[0] &&
			TimestampDifferenceExceeds(last_cleanup, now, 60 * 1000))
		{
			last_cleanup = now;
			PG_TRY();
			{
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				if (jobs_table_present() && SPI_connect() == SPI_OK_CONNECT)
				{
					int			level = aig_pin_search_path();

					exec_sql(psprintf("DELETE FROM ai_gateway.jobs WHERE status IN ('succeeded', 'failed') "
									  "AND finished_at < now() - %s::interval",
									  quote_literal_cstr(aig_job_retention)));
					aig_restore_search_path(level);
					SPI_finish();
				}
				PopActiveSnapshot();
				CommitTransactionCommand();
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
			}
			PG_END_TRY();
			MemoryContextSwitchTo(cxt);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 500, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}
