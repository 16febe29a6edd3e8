/*
 * provider_batches.c — the job worker's provider batches: async jobs queued
 * with options.batch, submitted through a provider's Batch API (OpenAI's
 * Batch API, Anthropic's Message Batches: providers/batch_api.h), polled,
 * and their results mapped back to the jobs, at the batch price.
 *
 * Submission (aig_provider_batches_round, every second or when a job is
 * queued):
 *   1. claim up to ai_gateway.batch_max_items due batch jobs, oldest first
 *      (running, attempt counted: durable before anything is sent);
 *   2. in one transaction, each job as its role through the call pipeline's
 *      stages 2–7 (grant, hooks, policy, quota, cache: a cache hit is
 *      answered at once) and its target: the first candidate with a Batch
 *      API (routing/pipeline_batch.c); the jobs grouped by target, each
 *      group uploaded and created as one provider batch, recorded in
 *      ai_gateway.provider_batches, its jobs pointing at it.  A submission
 *      that fails puts its jobs back in the queue (retryable) or fails them.
 *
 * Polling: a submitted batch whose next_poll_at has come is retrieved
 * (every ai_gateway.batch_poll_interval); once it ended, its results are
 * fetched (from the provider's base URL only) and, in one transaction,
 * each job of the batch is finished as its role (aig_pipeline_batch_finish:
 * the answer checked, charged at the batch price, hooked, audited) and
 * stored.  An item that errored, expired or was cancelled, or that the
 * results lack, is an error: retryable ones go back to the queue (to a
 * later batch) while attempts remain.
 *
 * Crash safety: a job is running before its batch is submitted; a crash
 * before the batch is recorded puts it back in the queue at the worker's
 * start (the provider may then run it twice: at least once, as for any
 * job).  Jobs of a recorded batch stay with it across restarts, and the
 * results are mapped in one transaction: a crash in between maps them
 * again (quota charges and audit records, which no ROLLBACK takes back,
 * may then count twice).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "background/jobs.h"
#include "background/provider_batches.h"
#include "background/provider_batches_internal.h"
#include "background/worker.h"
#include "base/errcodes.h"
#include "core/catalog.h"
#include "core/isolate.h"
#include "core/jsonb_util.h"
#include "governance/audit.h"
#include "governance/identity.h"
#include "providers/batch_api.h"
#include "routing/attempt.h"
#include "routing/pipeline.h"
#include "routing/pipeline_batch.h"
#include "routing/router_internal.h"

int			aig_batch_poll_interval_ms = 60000;
int			aig_batch_max_items = 1000;


/* The jobs of one provider batch being submitted. */
typedef struct BatchGroup
{
	AigTarget  *target;
	List	   *jobs;			/* AigBatchJob * */
} BatchGroup;

/* A row of a claim or a batch's job list as an AigBatchJob. */
static AigBatchJob *
job_from_row(HeapTuple tup, TupleDesc desc)
{
	AigBatchJob   *j = palloc0(sizeof(AigBatchJob));
	bool		isnull;

	j->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	j->role = SPI_getvalue(tup, desc, 2);
	j->attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	j->request = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(SPI_getvalue(tup, desc, 4))));
	j->roleid = get_role_oid(j->role, true);
	return j;
}

static void
build_fn(void *arg)
{
	AigBatchJob   *j = (AigBatchJob *) arg;

	aig_job_build_call(j->request, &j->call);
}

/* A job that ends with this error before reaching the pipeline. */
static void
fail_job(AigBatchJob *j, const char *error)
{
	aig_chat_call_init(&j->call, NULL, NULL, NULL, NULL);
	j->call.error = pstrdup(error);
	j->finished = true;
}

/* Build the job's call as its role (false: failed, its error set). */
static bool
build_aig_pb_as_role(AigBatchJob *j)
{
	ErrorData  *ed;

	if (!OidIsValid(j->roleid))
	{
		fail_job(j, psprintf("role \"%s\" no longer exists", j->role));
		return false;
	}
	if (!aig_isolate(build_fn, j, &ed))
	{
		fail_job(j, ed->message);
		return false;
	}
	j->built = true;
	return true;
}

/* Run fn(j) as j's role. */
void
aig_pb_as_role(AigBatchJob *j, void (*fn) (AigBatchJob *, void *), void *arg)
{
	Oid			save_user;
	int			save_sec;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(j->roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		fn(j, arg);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
}

/* Store the outcomes of the finished jobs of `jobs` (and their pipelines' rows). */
static void
store_finished(List *jobs)
{
	SPIPlanPtr	plan = aig_job_store_prepare();
	ListCell   *lc;

	foreach(lc, jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);
		bool		retry;

		if (!j->finished)
			continue;
		retry = j->built && !j->call.ok && j->call.retryable && j->attempts < aig_job_max_attempts;
		aig_job_store(plan, j->id, &j->call, retry);
		aig_pb_pipeline_row_finished(j, !retry);
	}
	SPI_freeplan(plan);
}

/* ---- submission ------------------------------------------------------------ */

/* Stages 2–7 of a batch job and its target, as its role; finished when it ends here. */
static void
prepare_fn(AigBatchJob *j, void *arg)
{
	if (!build_aig_pb_as_role(j))
		return;
	if (!aig_pipeline_many_prepare(&j->call, true))
	{
		/* refused, failed, or answered from the cache */
		aig_pipeline_many_finish(&j->call);
		j->finished = true;
		return;
	}
	if (!aig_pipeline_batch_target(&j->call, &j->target, &j->hreq))
		j->finished = true;
}

/* The limits of a Batch API request to p (results may be as large as their items' answers). */
static AigHttpLimits
batch_limits(const AigProvider *p, int items)
{
	AigCallOptions co;
	AigHttpLimits lim;

	aig_parse_call_options(NULL, &co);
	lim = aig_r_attempt_limits(p, &co, Max(aig_timeout_ms, 60000));
	/* as much as the items' answers may be, and never more than 256 MB in the worker */
	lim.max_bytes = (size_t) Min((double) aig_max_response_bytes * Max(items, 1),
								 256.0 * 1024 * 1024);
	return lim;
}

/*
 * Upload and create the provider batch of group g (its input built from
 * its items).  true with *st; false with *err.
 */
static bool
submit_group(BatchGroup *g, AigBatchStatus *st, AigAttemptError *err)
{
	AigProvider *p = g->target->provider;
	const AigBatchApi *api = aig_batch_api_for(p);
	AigHttpLimits lim = batch_limits(p, list_length(g->jobs));
	StringInfoData input;
	AigHttpRequest hreq;
	AigHttpResponse resp;
	char	   *why = NULL;
	char	   *file_id = NULL;
	int			i = 0;
	ListCell   *lc;

	initStringInfo(&input);
	foreach(lc, g->jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);

		api->add_item(&input, i++, psprintf("job-" INT64_FORMAT, j->id),
					  j->hreq.body, j->hreq.body_len);
	}
	api->end_input(&input);
	memset(err, 0, sizeof(*err));
	err->retry_after_ms = -1;

	if (api->build_upload)
	{
		api->build_upload(p, input.data, input.len, &hreq);
		aig_http_perform(&hreq, &lim, &resp);
		if (!aig_exchange_ok(p, &resp, err))
			return false;
		if (!api->parse_upload(resp.body, resp.body_len, &file_id, &why))
			return aig_exchange_invalid(p, &resp, why, err);
		api->build_create(p, file_id, strlen(file_id), &hreq);
	}
	else
		api->build_create(p, input.data, input.len, &hreq);
	aig_http_perform(&hreq, &lim, &resp);
	if (!aig_exchange_ok(p, &resp, err))
		return false;
	if (!api->parse_status(resp.body, resp.body_len, st, &why))
		return aig_exchange_invalid(p, &resp, why, err);
	return true;
}

/* BatchGroup g submitted: each job handed over; the batch recorded, its jobs pointing at it. */
static void
record_group(BatchGroup *g, const AigBatchStatus *st)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID};
	Datum		v[6];
	Datum	   *ids = palloc(sizeof(Datum) * list_length(g->jobs));
	Oid			utypes[2] = {INT8OID, INT8ARRAYOID};
	Datum		u[2];
	bool		isnull;
	int			n = 0;
	ListCell   *lc;

	foreach(lc, g->jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);

		aig_pipeline_batch_handed(&j->call);
		ids[n++] = Int64GetDatum(j->id);
	}
	v[0] = CStringGetTextDatum(g->target->provider->name);
	v[1] = CStringGetTextDatum(g->target->model);
	v[2] = CStringGetTextDatum(st->id);
	v[3] = CStringGetTextDatum(st->remote_status);
	v[4] = Int32GetDatum(n);
	v[5] = Int32GetDatum(aig_batch_poll_interval_ms);
	if (SPI_execute_with_args("INSERT INTO ai_gateway.provider_batches (provider, model, status, remote_id, "
							  " remote_status, items, submitted_at, next_poll_at) "
							  "VALUES ($1, $2, 'submitted', $3, $4, $5, now(), "
							  " now() + make_interval(secs => $6 / 1000.0)) RETURNING id",
							  6, types, v, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record a provider batch");
	u[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	u[1] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("UPDATE ai_gateway.jobs SET provider_batch = $1 WHERE id = ANY ($2)",
							  2, utypes, u, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not attach jobs to a provider batch");
}

/* BatchGroup g could not be submitted: each job fails (settled, audited), or is queued again. */
static void
group_failed(BatchGroup *g, const AigAttemptError *err)
{
	ListCell   *lc;

	foreach(lc, g->jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);

		j->call.ok = false;
		j->call.answered = false;
		j->call.info.target = g->target;
		j->call.info.sqlerrcode = err->sqlerrcode;
		j->call.info.http_status = err->http_status;
		j->call.error = psprintf("submitting the provider batch failed: %s",
								 err->message ? err->message : "no answer");
		j->call.retryable = err->retryable;
		j->call.retry_after_ms = err->retry_after_ms;
		aig_pipeline_many_finish(&j->call);
		j->finished = true;
	}
}

/* Claim due batch jobs (own transaction): running, attempt counted.  NIL when none. */
static List *
claim_batch_jobs(MemoryContext cxt)
{
	List	   *jobs = NIL;
	int			level = aig_jobs_begin_xact();

	if (aig_jobs_table_present())
	{
		Oid			types[1] = {INT4OID};
		Datum		v[1] = {Int32GetDatum(aig_batch_max_items)};

		if (SPI_execute_with_args("UPDATE ai_gateway.jobs SET status = 'running', attempts = attempts + 1 "
								  "WHERE id IN (SELECT id FROM ai_gateway.jobs WHERE status = 'queued' AND batch "
								  " AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) "
								  "RETURNING id, role::text, attempts, request::text",
								  1, types, v, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not claim batch jobs");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			jobs = lappend(jobs, job_from_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc));
			MemoryContextSwitchTo(old);
		}
	}
	aig_jobs_commit_xact(level, cxt);
	return jobs;
}

/* Submission (header comment): true when jobs were claimed. */
static bool
submit_due(MemoryContext cxt)
{
	List	   *jobs = claim_batch_jobs(cxt);
	List	   *groups = NIL;
	ListCell   *lc;
	int			level;

	if (jobs == NIL)
		return false;
	level = aig_jobs_begin_xact();
	pgstat_report_activity(STATE_RUNNING, "submitting a provider batch");
	aig_audit_prepare_worker();
	aig_catalog_ensure();
	foreach(lc, jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);
		ListCell   *gc;
		BatchGroup	   *g = NULL;

		aig_pb_as_role(j, prepare_fn, NULL);
		if (j->finished)
			continue;
		foreach(gc, groups)
		{
			BatchGroup	   *o = (BatchGroup *) lfirst(gc);

			if (o->target->provider == j->target->provider &&
				strcmp(o->target->model, j->target->model) == 0)
				g = o;
		}
		if (g == NULL)
		{
			g = palloc0(sizeof(BatchGroup));
			g->target = j->target;
			groups = lappend(groups, g);
		}
		g->jobs = lappend(g->jobs, j);
	}
	foreach(lc, groups)
	{
		BatchGroup	   *g = (BatchGroup *) lfirst(lc);
		AigBatchStatus st;
		AigAttemptError err;

		if (submit_group(g, &st, &err))
			record_group(g, &st);
		else
		{
			ereport(LOG,
					(errmsg("ai_gateway: submitting a batch of %d jobs to provider \"%s\" failed: %s",
							list_length(g->jobs), g->target->provider->name,
							err.message ? err.message : "no answer")));
			group_failed(g, &err);
		}
	}
	store_finished(jobs);
	aig_catalog_unpin();
	aig_jobs_commit_xact(level, cxt);
	return true;
}

/* ---- polling and results ------------------------------------------------------- */

typedef struct Results
{
	HTAB	   *items;			/* job id -> AigBatchItem */
} Results;

typedef struct ItemEntry
{
	int64		job;
	AigBatchItem item;
} ItemEntry;

/* Read the JSONL results of ref into r (items whose custom_id names a job). */
static bool
read_results(AigProvider *p, const AigBatchApi *api, const AigBatchStatus *st,
			 const char *ref, int items, Results *r, AigAttemptError *err)
{
	AigHttpLimits lim = batch_limits(p, items);
	AigHttpRequest hreq;
	AigHttpResponse resp;
	char	   *line;
	char	   *end;

	api->build_results(p, st, ref, &hreq);
	aig_http_perform(&hreq, &lim, &resp);
	if (!aig_exchange_ok(p, &resp, err))
		return false;
	line = resp.body ? resp.body : "";
	end = line + resp.body_len;
	while (line < end)
	{
		char	   *nl = memchr(line, '\n', end - line);
		size_t		len = (nl ? nl : end) - line;
		AigBatchItem item;
		char	   *why = NULL;
		int64		job;
		char	   *tail;

		if (len > 0 && !(len == 1 && line[0] == '\r'))
		{
			if (!api->parse_item(line, len, &item, &why))
				return aig_exchange_invalid(p, &resp, why, err);
			/* "job-<id>": anything else is not ours */
			if (strncmp(item.custom_id, "job-", 4) == 0)
			{
				errno = 0;
				job = strtoi64(item.custom_id + 4, &tail, 10);
				if (errno == 0 && *tail == '\0' && job > 0)
				{
					bool		found;
					ItemEntry  *e = hash_search(r->items, &job, HASH_ENTER, &found);

					e->item = item;
				}
			}
		}
		line += len + 1;
	}
	return true;
}

/* The target a batch ran on: the route's (provider, model) target, or a direct one. */
static AigTarget *
batch_target(AigRoute *route, AigProvider *p, const char *model)
{
	for (int i = 0; i < route->ntargets; i++)
		if (route->targets[i].provider == p && strcmp(route->targets[i].model, model) == 0)
			return &route->targets[i];
	return &aig_direct_route(p, model)->targets[0];
}

typedef struct FinishArgs
{
	AigProvider *provider;
	const char *model;
	const char *label;
	Results    *results;
	const char *missing;		/* why an item without a result has none */
} FinishArgs;

typedef struct FinishOne
{
	AigBatchJob   *job;
	AigTarget  *target;
	AigHttpResponse *resp;
	const char *label;
} FinishOne;

static void
finish_one_fn(void *arg)
{
	FinishOne  *f = (FinishOne *) arg;

	aig_pipeline_batch_finish(&f->job->call, f->target, f->resp, f->label);
}

/* Finish job j of an ended batch with its item, as its role. */
static void
finish_fn(AigBatchJob *j, void *arg)
{
	FinishArgs *a = (FinishArgs *) arg;
	ItemEntry  *e = a->results ? hash_search(a->results->items, &j->id, HASH_FIND, NULL) : NULL;
	AigHttpResponse resp;

	if (!build_aig_pb_as_role(j))
		return;
	aig_session_role_set(j->call.session_role);
	memset(&resp, 0, sizeof(resp));
	resp.retry_after_ms = -1;
	if (e != NULL && (e->item.kind == AIG_ITEM_ANSWERED || e->item.kind == AIG_ITEM_ERROR))
	{
		resp.status = e->item.status;
		resp.body = e->item.body;
		resp.body_len = e->item.body_len;
		resp.content_type = "application/json";
	}
	else
	{
		resp.failed = true;
		resp.retryable = true;
		resp.sqlerrcode = AIG_ERRCODE_PROVIDER_UNAVAILABLE;
		resp.error = e == NULL ? psprintf("provider batch %s: %s", a->label, a->missing) :
			psprintf("provider batch %s: the request %s before it ran", a->label,
					 e->item.kind == AIG_ITEM_EXPIRED ? "expired" : "was cancelled");
	}
	{
		FinishOne	f = {j, batch_target(j->call.route, a->provider, a->model), &resp, a->label};
		ErrorData  *ed;

		/* an error here is this job's, not the batch's: the others are still mapped */
		if (!aig_isolate(finish_one_fn, &f, &ed))
		{
			j->call.ok = false;
			j->call.error = ed->message;
			j->call.info.sqlerrcode = ed->sqlerrcode;
			j->call.retryable = false;
		}
	}
	aig_session_role_set(InvalidOid);
	j->finished = true;
}

/* The running jobs of batch `batch_id`, oldest first (SPI connected). */
static List *
batch_jobs(int64 batch_id)
{
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(batch_id)};
	List	   *jobs = NIL;

	if (SPI_execute_with_args("SELECT id, role::text, attempts, request::text FROM ai_gateway.jobs "
							  "WHERE provider_batch = $1 AND status = 'running' ORDER BY id",
							  1, types, v, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read a provider batch's jobs");
	for (uint64 i = 0; i < SPI_processed; i++)
		jobs = lappend(jobs, job_from_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc));
	return jobs;
}

/* Finish every job of batch `batch_id` (SPI connected), stored; the batch row closed. */
static void
finish_batch(int64 batch_id, FinishArgs *a, const char *final_status, const char *remote_status,
			 const char *error)
{
	Oid			utypes[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		u[4];
	char		unulls[4] = {' ', ' ', ' ', error ? ' ' : 'n'};
	List	   *jobs = NIL;
	ListCell   *lc;

	jobs = batch_jobs(batch_id);
	foreach(lc, jobs)
		aig_pb_as_role((AigBatchJob *) lfirst(lc), finish_fn, a);
	store_finished(jobs);
	u[0] = Int64GetDatum(batch_id);
	u[1] = CStringGetTextDatum(final_status);
	u[2] = CStringGetTextDatum(remote_status);
	u[3] = error ? CStringGetTextDatum(error) : (Datum) 0;
	if (SPI_execute_with_args("UPDATE ai_gateway.provider_batches SET status = $2, remote_status = $3, "
							  "error = $4, ended_at = now(), polls = polls + 1 WHERE id = $1",
							  4, utypes, u, unulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close a provider batch");
}

/* A poll that found the batch still running, or could not tell: the next poll later. */
static void
poll_again(int64 batch_id, const char *remote_status, const char *error)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		v[4] = {Int64GetDatum(batch_id),
		remote_status ? CStringGetTextDatum(remote_status) : (Datum) 0,
		error ? CStringGetTextDatum(error) : (Datum) 0,
	Int32GetDatum(aig_batch_poll_interval_ms)};
	char		nulls[4] = {' ', remote_status ? ' ' : 'n', error ? ' ' : 'n', ' '};

	if (SPI_execute_with_args("UPDATE ai_gateway.provider_batches SET polls = polls + 1, "
							  "remote_status = coalesce($2, remote_status), error = $3, "
							  "next_poll_at = now() + make_interval(secs => $4 / 1000.0) WHERE id = $1",
							  4, types, v, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update a provider batch");
}

/* Every job of a batch that cannot be finished fails with `why`; the batch too (SPI connected). */
static void
fail_batch_jobs(int64 batch_id, const char *why)
{
	SPIPlanPtr	plan = aig_job_store_prepare();
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		v[2] = {Int64GetDatum(batch_id), CStringGetTextDatum(why)};
	List	   *jobs = NIL;
	ListCell   *lc;

	jobs = batch_jobs(batch_id);
	foreach(lc, jobs)
	{
		AigBatchJob   *j = (AigBatchJob *) lfirst(lc);

		fail_job(j, why);
		aig_job_store(plan, j->id, &j->call, false);
	}
	SPI_freeplan(plan);
	if (SPI_execute_with_args("UPDATE ai_gateway.provider_batches SET status = 'failed', error = $2, "
							  "ended_at = now() WHERE id = $1", 2, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close a provider batch");
}

/* Poll one due batch (own transaction); true when one was due. */
static bool
poll_one(MemoryContext cxt)
{
	int			level = aig_jobs_begin_xact();
	bool		isnull;
	int64		batch_id;
	char	   *pname;
	char	   *model;
	char	   *remote_id;
	int			items;
	bool		overdue;
	AigProvider *p;
	const AigBatchApi *api;
	AigHttpRequest hreq;
	AigHttpResponse resp;
	AigAttemptError err;
	AigBatchStatus st;
	FinishArgs	a;
	char	   *why = NULL;

	if (!aig_jobs_table_present() ||
		SPI_execute("SELECT id, provider, model, remote_id, items, "
					" submitted_at < now() - interval '25 hours' FROM ai_gateway.provider_batches "
					"WHERE status = 'submitted' AND next_poll_at <= now() "
					"ORDER BY next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED", false, 1) != SPI_OK_SELECT ||
		SPI_processed == 0)
	{
		aig_jobs_commit_xact(level, cxt);
		return false;
	}
	batch_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	model = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	remote_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	items = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	overdue = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	pgstat_report_activity(STATE_RUNNING, "polling a provider batch");
	aig_audit_prepare_worker();
	aig_catalog_ensure();
	memset(&a, 0, sizeof(a));
	a.model = model;
	a.label = remote_id;
	p = aig_catalog_provider(pname);
	api = p ? aig_batch_api_for(p) : NULL;
	if (api == NULL || !aig_batch_id_ok(remote_id))
	{
		/* the provider was dropped or changed kind: the batch's results cannot be had */
		char	   *gone = psprintf("provider batch %s: provider \"%s\" no longer exists or has no Batch API",
								    remote_id, pname);

		fail_batch_jobs(batch_id, gone);
		aig_catalog_unpin();
		aig_jobs_commit_xact(level, cxt);
		return true;
	}
	a.provider = p;

	memset(&err, 0, sizeof(err));
	api->build_retrieve(p, remote_id, &hreq);
	{
		AigHttpLimits lim = batch_limits(p, 1);

		aig_http_perform(&hreq, &lim, &resp);
	}
	if (!aig_exchange_ok(p, &resp, &err) ||
		(!api->parse_status(resp.body, resp.body_len, &st, &why) &&
		 !aig_exchange_invalid(p, &resp, why, &err)))
	{
		if (err.retryable)
			poll_again(batch_id, NULL, err.message);	/* ask again later: it runs on there */
		else
		{
			/* the provider lost it or refuses to say (404, 401): its jobs run again elsewhere */
			a.missing = psprintf("polling the batch failed: %s", err.message ? err.message : "no answer");
			finish_batch(batch_id, &a, "failed", "?", a.missing);
		}
	}
	else if (st.state == AIG_BATCH_RUNNING && overdue)
	{
		/* past the 24-hour window and then some: given up, its jobs run again */
		a.missing = psprintf("the batch was still %s after 25 hours", st.remote_status);
		finish_batch(batch_id, &a, "failed", st.remote_status, a.missing);
	}
	else if (st.state == AIG_BATCH_RUNNING)
		poll_again(batch_id, st.remote_status, NULL);
	else
	{
		HASHCTL		ctl;
		Results		r;
		bool		ok = true;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ItemEntry);
		ctl.hcxt = CurrentMemoryContext;
		r.items = hash_create("ai_gateway batch results", Max(items, 16), &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		/* OpenAI: the output file and the error file; Anthropic: the results */
		st.id = remote_id;
		if (st.output_ref)
			ok = read_results(p, api, &st, st.output_ref, items, &r, &err);
		if (ok && st.error_ref)
			ok = read_results(p, api, &st, st.error_ref, items, &r, &err);
		if (!ok && err.retryable && !overdue)
			poll_again(batch_id, st.remote_status, err.message);	/* fetch again later */
		else if (!ok)
		{
			/* results that cannot be had (gone, refused, unreadable): the jobs run again */
			a.missing = psprintf("fetching the results failed: %s", err.message ? err.message : "no answer");
			finish_batch(batch_id, &a, "failed", st.remote_status, a.missing);
		}
		else
		{
			a.results = &r;
			a.missing = st.state == AIG_BATCH_ENDED ? "the results have no line for this request" :
				psprintf("the batch ended %s%s%s before the request ran", st.remote_status,
						 st.error ? ": " : "", st.error ? st.error : "");
			finish_batch(batch_id, &a, st.state == AIG_BATCH_ENDED ? "ended" : "failed",
						 st.remote_status, st.state == AIG_BATCH_ENDED ? NULL : a.missing);
		}
	}
	aig_catalog_unpin();
	aig_jobs_commit_xact(level, cxt);
	return true;
}

/* ---- the worker's round ---------------------------------------------------------- */

/*
 * After a failed round: batch jobs claimed but not in a recorded batch go
 * back to the queue (own transaction; never raises — failing that, the
 * worker's next start does it).
 */
static void
requeue_unsubmitted(MemoryContext cxt)
{
	PG_TRY();
	{
		int			level = aig_jobs_begin_xact();

		if (aig_jobs_table_present() &&
			SPI_execute("UPDATE ai_gateway.jobs SET status = 'queued', "
						"next_attempt_at = clock_timestamp() + interval '5 seconds' "
						"WHERE status = 'running' AND batch AND provider_batch IS NULL",
						false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not requeue batch jobs");
		aig_jobs_commit_xact(level, cxt);
	}
	PG_CATCH();
	{
		aig_worker_round_failed(cxt);
	}
	PG_END_TRY();
}

bool
aig_provider_batches_round(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool worked = false;

	PG_TRY();
	{
		worked = submit_due(cxt);
		/* a few due polls a round: the jobs in flight wait little */
		for (int i = 0; i < 4 && poll_one(cxt); i++)
			worked = true;
	}
	PG_CATCH();
	{
		/* logged, the transaction aborted; the jobs claimed for a submission go back */
		aig_worker_round_failed(cxt);
		requeue_unsubmitted(cxt);
		worked = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return worked;
}
