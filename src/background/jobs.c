/*
 * jobs.c — the async job worker (ai_complete_async / ai_result are
 * api/jobs_api.c).
 *
 * ai_complete_async() inserts a row into ai_gateway.jobs (status queued)
 * in the caller's transaction; a commit callback wakes this worker at once.
 * The "ai_gateway job worker" (connected to ai_gateway.database) claims due
 * jobs with FOR UPDATE SKIP LOCKED, marks them running, and runs them
 * through the call pipeline (routing/pipeline.c), many at once: each as
 * the role that queued it, so its grants, request hook, deny patterns and
 * redaction, quotas, response hook and audit rows are exactly those of a
 * synchronous call — nothing unredacted reaches the provider.  A job
 * refused by a grant, a hook or the policy fails at once with the error
 * text (not retried).  A job whose call failed with a retryable error is
 * queued again with next_attempt_at after an exponential backoff (or the
 * provider's Retry-After, when longer), up to ai_gateway.job_max_attempts;
 * then it is failed with its error.  Every finished job is announced with
 * NOTIFY ai_gateway_jobs, payload its id.
 *
 * Crash safety: a job is marked running (and its attempt counted) in a
 * transaction of its own before anything is sent; at start the worker puts
 * running jobs back in the queue, so a job in flight during a crash or an
 * immediate shutdown runs again — at-least-once delivery to the provider —
 * and its result is stored by an UPDATE ... WHERE status = 'running', so a
 * job has exactly one stored result.  A round that fails with an error (a
 * cancel, say) aborts its transaction and puts its claimed jobs back at
 * once.  An interrupted job that had used its last attempt fails
 * ("interrupted") instead: no job is sent more than
 * ai_gateway.job_max_attempts times, crashes included.
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
#include "background/worker.h"
#include "core/jsonb_util.h"
#include "core/isolate.h"
#include "routing/messages.h"
#include "routing/pipeline.h"
#include "core/search_path.h"

int			aig_job_max_attempts = 3;
char	   *aig_job_retention = NULL;

/* ---------------------------------------------------------------------- */
/* the worker */

typedef struct Job
{
	int64		id;
	char	   *role;
	int			attempts;
	Jsonb	   *request;
	AigChatCall item;
	AigRoute   *route;
	char	   *model;
	bool		failed_before_call;
} Job;

/* Run a statement (SPI connected) or raise. */
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

/* Argument handling of a job: its stored request as a normalized call. */
static void
build_job(void *arg)
{
	Job		   *j = (Job *) arg;
	char	   *prompt = aig_jsonb_get_string(j->request, "prompt", "job");
	char	   *system = aig_jsonb_get_string(j->request, "system_prompt", "job");
	char	   *session = aig_jsonb_get_string(j->request, "session_role", "job");
	JsonbValue *o = aig_jsonb_get(j->request, "options");
	Jsonb	   *opts = o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL;
	AigChatRequest *req = palloc0(sizeof(AigChatRequest));
	AigCallOptions *co = palloc(sizeof(AigCallOptions));
	int			cap = 0;

	j->route = aig_pipeline_resolve(j->model);
	aig_parse_call_options(opts, co);
	req->opts = co->gen;
	if (system == NULL)
		system = j->route->system_prompt;
	else
		system = pg_server_to_any(system, strlen(system), PG_UTF8);
	if (system)
		aig_add_message(req, &cap, "system", system);
	aig_add_message(req, &cap, "user", pg_server_to_any(prompt, strlen(prompt), PG_UTF8));
	aig_chat_call_init(&j->item, j->route, req, co, opts);
	j->item.want_object = true;
	/* held to the quotas of the session that queued it too (identity.h) */
	j->item.session_role = session ? get_role_oid(session, true) : InvalidOid;
}

/* Build a job's call; false (and item.error) when it cannot be made. */
static bool
prepare_job(Job *j)
{
	ErrorData  *ed;

	if (aig_isolate(build_job, j, &ed))
		return true;
	j->item.error = ed->message;
	j->item.req = NULL;
	j->failed_before_call = true;
	return false;
}

/* Same model string (NULL = the default route)? */
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
		AigChatCall *items = palloc0(sizeof(AigChatCall) * n);
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
			/* the role's grants, hooks, policy and quotas, per job */
			aig_pipeline_chat_many(route, items, k, aig_batch_concurrency, true);
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
		AigChatCall *it = &jobs[i].item;
		Datum		v[5];
		char		nulls[5] = {' ', ' ', 'n', 'n', ' '};
		const char *status;

		if (it->ok)
		{
			status = "succeeded";
			v[2] = JsonbPGetDatum(it->response);
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

/* Is ai_gateway.jobs there (the extension may be dropped meanwhile)? */
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
		aig_worker_round_failed(cxt);
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
				memset(&copy[i].item, 0, sizeof(AigChatCall));
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
		/* the worker's round: logged, its transaction aborted */
		aig_worker_round_failed(cxt);
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

/* The job worker's main loop: rounds of due jobs, retention cleanup, reloads. */
void
aig_jobs_worker_loop(volatile sig_atomic_t *stop)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway jobs",
											  ALLOCSET_DEFAULT_SIZES);
	TimestampTz last_cleanup = 0;

	aig_jobs_worker_attach();
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
				aig_worker_round_failed(NULL);
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
