/*
 * jobs.c — the async job worker (ai_complete_async / ai_result are
 * api/jobs_api.c).
 *
 * ai_complete_async() inserts a row into ai_gateway.jobs (status queued)
 * in the caller's transaction; a commit callback wakes this worker at once.
 * The "ai_gateway job worker" (connected to ai_gateway.database) claims due
 * jobs, marks them running, and runs them through the call pipeline
 * (routing/pipeline.c), many at once, each as the role that queued it.
 *
 * Scheduling is fair and has no barrier: up to ai_gateway.batch_concurrency
 * jobs are in flight, their attempts on one scheduler (routing/batch.c's
 * AigAttempts, the backend's curl multi handle).  Each job's outcome is
 * stored (and announced) in a short transaction as soon as its attempts
 * end, and its place goes to the next claim while slow jobs still run.  A
 * claim lets the roles with due jobs take turns, oldest job first within a
 * role, and gives a role no more than ai_gateway.job_max_running_per_role
 * jobs in flight, so a role's long queue (or slow jobs) never holds another
 * role's.  A job refused by its role's grant, quota or policy fails at
 * once, costing the others nothing.  Because a job outlives transactions,
 * it holds the catalog cache it was resolved from (aig_catalog_hold).
 *
 * Each job runs as the role that queued it, so its grants, request hook,
 * deny patterns and redaction, quotas, response hook and audit rows are
 * exactly those of a synchronous call — nothing unredacted reaches the provider.  A job
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
 * job has exactly one stored result.  A step that fails with an error (a
 * cancel, say) aborts its transaction, stops the jobs in flight and puts
 * them back in the queue at once.  An interrupted job that had used its last attempt fails
 * ("interrupted") instead: no job is sent more than
 * ai_gateway.job_max_attempts times, crashes included.
 *
 * Its transactions, the table statistics it reports (so autovacuum sees
 * the dead tuples its updates leave) and retention: jobs_xact.c.
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
#include "background/pipelines.h"
#include "background/provider_batches.h"
#include "background/worker.h"
#include "core/jsonb_util.h"
#include "core/isolate.h"
#include "routing/messages.h"
#include "routing/pipeline.h"
#include "core/search_path.h"
#include "routing/router.h"

int			aig_job_max_attempts = 3;
char	   *aig_job_retention = NULL;

/* ---------------------------------------------------------------------- */
/* the worker */

int			aig_job_max_running_per_role = 0;


/* A claimed job, in flight until its outcome is stored (its own memory context). */
typedef struct Job
{
	int64		id;
	char	   *role;
	Oid			roleid;
	int			attempts;
	Jsonb	   *request;
	char	   *model;
	AigChatCall item;
	AigRoute   *route;
	bool		failed_before_call;
	void	   *held;			/* the catalog cache it holds (aig_catalog_hold), or NULL */
	bool		in_attempts;	/* handed to the attempts scheduler */
	bool		finished;		/* outcome known: to finish and store */
	MemoryContext cxt;
} Job;

/* The worker's jobs in flight and the scheduler that runs their attempts. */
typedef struct JobSet
{
	MemoryContext cxt;			/* long-lived: the set, the scheduler */
	AigAttempts *attempts;		/* NULL until jobs come */
	int			slots;			/* jobs in flight at most */
	Job		  **jobs;
	int			njobs;
	bool		claim_wanted;	/* a wake, a finished job, or time */
	TimestampTz last_claim;
} JobSet;

/* Jobs of one role the worker runs at once. */
static int
role_cap(const JobSet *set)
{
	if (aig_job_max_running_per_role > 0)
		return Min(aig_job_max_running_per_role, set->slots);
	/* a quarter of the places stays free for other roles */
	return Max(1, set->slots * 3 / 4);
}

/* Jobs of `role` in flight now. */
static int
running_of(const JobSet *set, const char *role)
{
	int			n = 0;

	for (int i = 0; i < set->njobs; i++)
		n += strcmp(set->jobs[i]->role, role) == 0;
	return n;
}

/* A claimed row as a job in flight, in a memory context of its own. */
static void
add_job(JobSet *set, HeapTuple tup, TupleDesc desc)
{
	MemoryContext jcxt = AllocSetContextCreate(set->cxt, "ai_gateway job", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(jcxt);
	Job		   *j = palloc0(sizeof(Job));
	bool		isnull;

	j->cxt = jcxt;
	j->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	j->role = SPI_getvalue(tup, desc, 2);
	j->attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	j->request = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(SPI_getvalue(tup, desc, 4))));
	j->model = aig_jsonb_get_string(j->request, "model", "job");
	aig_chat_call_init(&j->item, NULL, NULL, NULL, NULL);
	MemoryContextSwitchTo(old);
	set->jobs[set->njobs++] = j;
}

/*
 * Claim up to `room` due jobs, fairly (SPI connected): the roles with due
 * jobs take turns, one job each per turn, oldest first within a role, and
 * a role already running role_cap() jobs gets none.  The claimed jobs are
 * running once this transaction commits.
 */
static void
claim(JobSet *set, int room)
{
	int			cap = role_cap(set);
	Oid			types[1] = {INT4OID};
	Datum		args[1];
	int			ncand;
	char	  **cand_role;
	int64	   *cand_id;
	bool	   *taken;
	int64	   *ids;
	int			nids = 0;
	Datum	   *d;
	Oid			atypes[1] = {INT8ARRAYOID};

	/* each role's oldest due jobs, up to what it could take (an index scan per role) */
	args[0] = Int32GetDatum(Min(cap, room));
	if (SPI_execute_with_args("WITH RECURSIVE r(role) AS ("
							  " (SELECT role FROM ai_gateway.jobs WHERE status = 'queued' ORDER BY role LIMIT 1)"
							  " UNION ALL SELECT (SELECT j.role FROM ai_gateway.jobs j WHERE j.status = 'queued'"
							  "  AND j.role > r.role ORDER BY j.role LIMIT 1) FROM r WHERE r.role IS NOT NULL) "
							  "SELECT c.role::text, c.id FROM r CROSS JOIN LATERAL (SELECT j.role, j.id "
							  " FROM ai_gateway.jobs j WHERE j.role = r.role AND j.status = 'queued'"
							  " AND NOT j.batch AND j.next_attempt_at <= now() ORDER BY j.id LIMIT $1) c ORDER BY c.id",
							  1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the due jobs");
	ncand = (int) SPI_processed;
	if (ncand == 0)
		return;
	cand_role = palloc(sizeof(char *) * ncand);
	cand_id = palloc(sizeof(int64) * ncand);
	taken = palloc0(sizeof(bool) * ncand);
	ids = palloc(sizeof(int64) * ncand);
	for (int i = 0; i < ncand; i++)
	{
		bool		isnull;

		cand_role[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		cand_id[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
												 2, &isnull));
	}

	/*
	 * Turns: each pass gives every role (the one with the oldest job first)
	 * its next job, while it is under its cap and there is room.
	 */
	for (bool progress = true; progress && nids < room;)
	{
		progress = false;
		for (int i = 0; i < ncand && nids < room; i++)
		{
			bool		first_of_role = true;
			int			mine = 0;

			if (taken[i])
				continue;
			/* only the oldest untaken job of each role takes a turn this pass */
			for (int k = 0; k < i && first_of_role; k++)
				if (!taken[k] && strcmp(cand_role[k], cand_role[i]) == 0)
					first_of_role = false;
			if (!first_of_role)
				continue;
			for (int k = 0; k < ncand; k++)
				mine += taken[k] && strcmp(cand_role[k], cand_role[i]) == 0;
			if (running_of(set, cand_role[i]) + mine >= cap)
				continue;
			taken[i] = true;
			ids[nids++] = cand_id[i];
			progress = true;
		}
	}
	if (nids == 0)
		return;

	d = palloc(sizeof(Datum) * nids);
	for (int i = 0; i < nids; i++)
		d[i] = Int64GetDatum(ids[i]);
	args[0] = PointerGetDatum(construct_array(d, nids, INT8OID, sizeof(int64),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("UPDATE ai_gateway.jobs SET status = 'running', attempts = attempts + 1 "
							  "WHERE id = ANY ($1) AND status = 'queued' "
							  "RETURNING id, role::text, attempts, request::text",
							  1, atypes, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim jobs");
	for (uint64 i = 0; i < SPI_processed; i++)
		add_job(set, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
}

/* A job's stored request as a normalized call, its route resolved as the current user. */
void
aig_job_build_call(Jsonb *request, AigChatCall *c)
{
	char	   *model = aig_jsonb_get_string(request, "model", "job");
	char	   *prompt = aig_jsonb_get_string(request, "prompt", "job");
	char	   *system = aig_jsonb_get_string(request, "system_prompt", "job");
	char	   *session = aig_jsonb_get_string(request, "session_role", "job");
	JsonbValue *o = aig_jsonb_get(request, "options");
	Jsonb	   *opts = o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL;
	AigChatRequest *req = palloc0(sizeof(AigChatRequest));
	AigCallOptions *co = palloc(sizeof(AigCallOptions));
	AigRoute   *route;
	int			cap = 0;

	route = aig_pipeline_resolve(model);
	aig_parse_call_options(opts, co);
	req->opts = co->gen;
	if (system == NULL)
		system = route->system_prompt;
	else
		system = pg_server_to_any(system, strlen(system), PG_UTF8);
	if (system)
		aig_add_message(req, &cap, "system", system);
	aig_add_message(req, &cap, "user", pg_server_to_any(prompt, strlen(prompt), PG_UTF8));
	aig_chat_call_init(c, route, req, co, opts);
	c->want_object = true;
	/* held to the quotas of the session that queued it too (identity.h) */
	c->session_role = session ? get_role_oid(session, true) : InvalidOid;
}

/* Argument handling of a job (isolated by the caller). */
static void
build_job(void *arg)
{
	Job		   *j = (Job *) arg;

	aig_job_build_call(j->request, &j->item);
	j->route = j->item.route;
}

/* A job that ends before any attempt, with this error. */
static void
fail_before_call(Job *j, const char *error)
{
	j->item.error = pstrdup(error);
	j->item.req = NULL;
	j->failed_before_call = true;
	j->finished = true;
}

/*
 * Stages 1–7 of a new job, as the role that queued it, in the job's
 * memory: it joins the scheduler, or is finished already (refused,
 * failed, or a cache hit).
 */
static void
start_job(JobSet *set, Job *j)
{
	MemoryContext old = MemoryContextSwitchTo(j->cxt);
	Oid			save_user;
	int			save_sec;
	ErrorData  *ed;

	j->roleid = get_role_oid(j->role, true);
	if (!OidIsValid(j->roleid))
	{
		fail_before_call(j, psprintf("role \"%s\" no longer exists", j->role));
		MemoryContextSwitchTo(old);
		return;
	}
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(j->roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		if (!aig_isolate(build_job, j, &ed))
			fail_before_call(j, ed->message);
		else
		{
			/* its route outlives this transaction: keep the cache it came from */
			j->held = aig_catalog_hold();
			/* the role's grants, hooks, policy and quotas */
			if (aig_pipeline_many_prepare(&j->item, true))
			{
				aig_attempts_add(set->attempts, j->route, &j->item, j->cxt);
				j->in_attempts = true;
			}
			else
				j->finished = true;
		}
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
}

/* Stages 9–14 of a finished job, as its role (nothing for one that failed before its call). */
static void
finish_job(Job *j)
{
	MemoryContext old;
	Oid			save_user;
	int			save_sec;

	if (j->failed_before_call)
		return;
	old = MemoryContextSwitchTo(j->cxt);
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(j->roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		aig_pipeline_many_finish(&j->item);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
}

/* A job in attempts is dropped (the worker's error): settled and audited as its role.  Never raises. */
static void
cancel_job(Job *j)
{
	Oid			save_user;
	int			save_sec;

	if (!j->in_attempts || j->finished)
		return;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(j->roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	aig_pipeline_many_cancel(&j->item, "job worker interrupted; the job is queued again");
	SetUserIdAndSecContext(save_user, save_sec);
}

/*
 * The statement that stores a job's outcome (SPI connected; free it with
 * SPI_freeplan).  Only a running job is updated, so a job has one stored
 * result; whatever the outcome, the job leaves its provider batch.
 */
SPIPlanPtr
aig_job_store_prepare(void)
{
	Oid			types[6] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT4OID, BOOLOID};

	/*
	 * A run that made no attempt (every target's breaker open, opened by
	 * the job's own earlier failures, say) keeps the earlier run's error
	 * first: the underlying failure, then what stopped this run.
	 */
	SPIPlanPtr	plan = SPI_prepare("UPDATE ai_gateway.jobs SET status = $2, result = $3, "
								   "error = CASE WHEN $6 AND error IS NOT NULL "
								   "  THEN regexp_replace(error, '; then not sent: .*$', '') "
								   "       || '; then not sent: ' || $4 ELSE $4 END, "
								   "finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE clock_timestamp() END, "
								   "next_attempt_at = CASE WHEN $2 = 'queued' "
								   "  THEN clock_timestamp() + make_interval(secs => greatest("
								   "       power(2, attempts) * 0.5, $5 / 1000.0)) "
								   "  ELSE next_attempt_at END, "
								   "provider_batch = NULL "
								   "WHERE id = $1 AND status = 'running'", 6, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare the job update");
	return plan;
}

/*
 * Store the outcome of job `id` (with aig_job_store_prepare's plan): its
 * result, or its error — queued again with a backoff when may_retry — and
 * announce a final one with NOTIFY ai_gateway_jobs.
 */
void
aig_job_store(SPIPlanPtr plan, int64 id, const AigChatCall *it, bool may_retry)
{
	Datum		v[6];
	char		nulls[6] = {' ', ' ', 'n', 'n', ' ', ' '};
	const char *status;

	if (it->ok)
	{
		status = "succeeded";
		v[2] = JsonbPGetDatum(it->response);
		nulls[2] = ' ';
	}
	else
	{
		status = may_retry ? "queued" : "failed";
		v[3] = CStringGetTextDatum(it->error ? it->error : "failed");
		nulls[3] = ' ';
	}
	v[0] = Int64GetDatum(id);
	v[1] = CStringGetTextDatum(status);
	/* a provider's Retry-After is honoured when longer than the backoff */
	v[4] = Int32GetDatum(Max(it->retry_after_ms, 0));
	v[5] = BoolGetDatum(!it->ok && it->info.attempts == 0);
	if (SPI_execute_plan(plan, v, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store the result of job " INT64_FORMAT, id);
	if (strcmp(status, "queued") != 0 && SPI_processed == 1)
		Async_Notify("ai_gateway_jobs", psprintf(INT64_FORMAT, id));
}

/* Store each finished job's outcome and announce it. */
static void
store_results(JobSet *set)
{
	SPIPlanPtr	plan = aig_job_store_prepare();

	for (int i = 0; i < set->njobs; i++)
	{
		Job		   *j = set->jobs[i];

		if (j->finished)
			aig_job_store(plan, j->id, &j->item,
						  !j->failed_before_call && j->item.retryable &&
						  j->attempts < aig_job_max_attempts);
	}
	SPI_freeplan(plan);
}

/* Let go of job i of the set: its catalog hold and its memory. */
static void
drop_job(JobSet *set, int i)
{
	Job		   *j = set->jobs[i];

	if (j->held)
		aig_catalog_release(j->held);
	MemoryContextDelete(j->cxt);
	set->jobs[i] = set->jobs[--set->njobs];
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
		if (aig_jobs_table_present())
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
									  "WHERE status = 'running' AND provider_batch IS NULL "
									  "  AND ($2 IS NULL OR id = ANY ($2)) "
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
		aig_jobs_report_stats();
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

/*
 * The worker's error: every job in flight is dropped (its transfers
 * stopped, its charge settled and audited) and queued again at once — or,
 * when even that fails, at the worker's next start.
 */
static void
drop_all(JobSet *set, MemoryContext cxt)
{
	int64	   *ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(set->njobs, 1));
	int			n = set->njobs;

	for (int i = 0; i < set->njobs; i++)
	{
		ids[i] = set->jobs[i]->id;
		cancel_job(set->jobs[i]);
	}
	aig_worker_round_failed(cxt);
	aig_attempts_end(set->attempts);
	set->attempts = NULL;
	while (set->njobs > 0)
		drop_job(set, set->njobs - 1);
	if (n > 0 && !requeue_running(ids, n))
		proc_exit(1);
}

/*
 * One step of the worker (every ~100 ms while jobs are in flight): claim
 * due jobs when there is room (in a transaction of its own: running is
 * durable before any send), start them, take every job whose attempts
 * ended, finish it and store its outcome — while the others stay in
 * flight.  Returns whether it claimed or finished any job.
 */
static bool
jobs_step(JobSet *set, MemoryContext cxt)
{
	volatile bool worked = false;

	PG_TRY();
	{
		int			first_new = set->njobs;
		int			room = set->slots - set->njobs;
		int			level;
		bool		stored = false;

		/* a job queued meanwhile (its commit set the latch): look now */
		if (set->njobs > 0 &&
			(WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 0,
					   PG_WAIT_EXTENSION) & WL_LATCH_SET))
		{
			ResetLatch(MyLatch);
			set->claim_wanted = true;
		}
		if (room > 0 && (set->claim_wanted ||
						 TimestampDifferenceExceeds(set->last_claim, GetCurrentTimestamp(), 1000)))
		{
			set->claim_wanted = false;
			set->last_claim = GetCurrentTimestamp();
			level = aig_jobs_begin_xact();
			if (aig_jobs_table_present())
				claim(set, room);
			aig_jobs_commit_xact(level, cxt);
		}
		if (set->njobs == 0)
		{
			/* nothing in flight: a scheduler of the current concurrency next time */
			aig_attempts_end(set->attempts);
			set->attempts = NULL;
		}
		else
		{
			level = aig_jobs_begin_xact();
			pgstat_report_activity(STATE_RUNNING, "running async jobs");
			aig_audit_prepare_worker();
			if (set->njobs > first_new)
			{
				worked = true;
				aig_catalog_ensure();
				if (set->attempts == NULL)
				{
					MemoryContext old = MemoryContextSwitchTo(set->cxt);

					set->attempts = aig_attempts_begin(set->slots);
					MemoryContextSwitchTo(old);
				}
				for (int i = first_new; i < set->njobs; i++)
					start_job(set, set->jobs[i]);
			}
			if (set->attempts && aig_attempts_active(set->attempts) > 0)
			{
				long		wait = worked ? 0 : 100;
				AigChatCall *done;

				while ((done = aig_attempts_next_done(set->attempts, wait)) != NULL)
				{
					for (int i = 0; i < set->njobs; i++)
						if (&set->jobs[i]->item == done)
							set->jobs[i]->finished = true;
					wait = 0;
				}
				if (aig_attempts_woken(set->attempts))
					set->claim_wanted = true;
			}
			for (int i = 0; i < set->njobs; i++)
				if (set->jobs[i]->finished)
				{
					finish_job(set->jobs[i]);
					stored = true;
				}
			/* (the extension may have been dropped meanwhile: nothing to store into) */
			if (stored && aig_jobs_table_present())
				store_results(set);
			aig_jobs_commit_xact(level, cxt);
			if (stored)
			{
				/* stored: these jobs are done, their places free for others */
				for (int i = set->njobs - 1; i >= 0; i--)
					if (set->jobs[i]->finished)
						drop_job(set, i);
				set->claim_wanted = worked = true;
			}
		}
	}
	PG_CATCH();
	{
		/* logged, the transaction aborted, the jobs in flight queued again */
		drop_all(set, cxt);
		worked = false;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return worked;
}

/* The job worker's main loop: jobs in flight, claims, retention cleanup, reloads. */
void
aig_jobs_worker_loop(volatile sig_atomic_t *stop)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway jobs",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext step_cxt = AllocSetContextCreate(cxt, "ai_gateway jobs step",
												   ALLOCSET_DEFAULT_SIZES);
	TimestampTz last_cleanup = 0;
	bool		cleanup_more = false;
	TimestampTz last_batch_round = 0;
	bool		batch_wanted = true;
	bool		busy;
	JobSet		set;

	memset(&set, 0, sizeof(set));
	set.cxt = cxt;
	set.slots = Max(1, Min(aig_batch_concurrency, 1024));
	set.jobs = MemoryContextAllocZero(cxt, sizeof(Job *) * 1024);
	set.claim_wanted = true;

	aig_jobs_worker_attach();
	MemoryContextSwitchTo(step_cxt);
	/* jobs in flight at a crash run again; should this fail, try at the next start */
	if (!requeue_running(NULL, 0))
		proc_exit(1);

	while (!*stop)
	{
		TimestampTz now;

		MemoryContextReset(step_cxt);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (set.njobs == 0)
			set.slots = Max(1, Min(aig_batch_concurrency, 1024));
		busy = jobs_step(&set, step_cxt) || set.njobs > 0;

		/* provider batches: submissions when woken, polls when due (at most once a second) */
		now = GetCurrentTimestamp();
		if (batch_wanted || TimestampDifferenceExceeds(last_batch_round, now, 1000))
		{
			batch_wanted = false;
			last_batch_round = now;
			if (aig_provider_batches_round())
				batch_wanted = true;	/* more may be due */
			MemoryContextSwitchTo(step_cxt);
		}

		/*
		 * Retention runs on its timer busy or not (a queue that never
		 * empties must not keep every finished job): one batch a round
		 * while jobs are in flight, so their transfers wait little, more
		 * when idle; a round that left more to do comes back in a second.
		 */
		now = GetCurrentTimestamp();
		if (aig_job_retention && aig_job_retention[0] &&
			TimestampDifferenceExceeds(last_cleanup, now, cleanup_more ? 1000 : 60 * 1000))
		{
			last_cleanup = now;
			cleanup_more = aig_jobs_cleanup_finished(busy ? 1 : AIG_JOB_CLEANUP_BATCHES);
			MemoryContextSwitchTo(step_cxt);
		}
		if (busy)
		{
			CHECK_FOR_INTERRUPTS();
			continue;			/* jobs in flight, or more may be due */
		}
		/* no job in flight: a batch of an enrichment pipeline (pipelines.c) */
		if (aig_pipelines_round())
		{
			MemoryContextSwitchTo(step_cxt);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 500, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		set.claim_wanted = batch_wanted = true;
		CHECK_FOR_INTERRUPTS();
	}
}
