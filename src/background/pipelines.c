/*
 * pipelines.c — the enrichment pipelines' background work (the SQL side is
 * api/pipeline_api.c and the pipeline_* functions of the extension script).
 *
 * The job worker (jobs.c) runs a pipeline round whenever it has no async
 * job in flight.  A round takes the pipeline with queued rows that ran
 * least recently (round-robin, so one long backfill does not hold another
 * pipeline), and in one transaction:
 *
 *   1. claims up to batch_size of its queued rows, oldest first, by
 *      deleting them (DELETE ... FOR UPDATE SKIP LOCKED): the queue keeps
 *      only what is still to do, and its space is reused once autovacuum
 *      passes (the table asks for it after every 1,000 dead rows);
 *   2. as the pipeline's owner (a local user id change, as for async
 *      jobs) runs ai_gateway.pipeline_compute, which reads the rows'
 *      source, calls the model through the call pipeline (ai_embed's
 *      batching, or ai_complete_batch's concurrency — grants, quotas,
 *      hooks, audit with metadata {"pipeline": name}, cost, the route's
 *      retries) and writes each result back with an UPDATE of the target
 *      column only WHERE the row's source columns still hash as they did
 *      when read: a row changed meanwhile is skipped (its trigger has
 *      queued it again), and the write-back fires no pipeline trigger
 *      (those fire on the source columns);
 *   3. settles, as the worker: rows that failed in a way that may pass
 *      (an outage, a rate limit) go back to the queue and the pipeline
 *      backs off (0.25 s doubling to 30 s); other failures are kept in
 *      ai_gateway.pipeline_failures with their error.
 *
 * Crash safety: the claim, the write-back and the settlement commit
 * together, so a crash or an error in between leaves the rows queued
 * (a row may then be sent to the provider again — at least once — but is
 * written once).  An error of the round itself (the owner lost SELECT on
 * the table, say) aborts it, leaves the rows queued and backs the pipeline
 * off with the error in pipeline_status.last_error.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "background/pipelines.h"
#include "background/worker.h"
#include "core/search_path.h"
#include "governance/audit.h"
#include "routing/router.h"

/* Are the pipelines' tables there (the extension may be older, or dropped)? */
static bool
pipelines_present(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("pipelines", nsp)) &&
		OidIsValid(get_relname_relid("pipeline_queue", nsp));
}

/* Begin a transaction with the search path pinned and SPI connected. */
static int
begin_round_xact(void)
{
	int			level;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	level = aig_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	return level;
}

static void
commit_round_xact(int level)
{
	SPI_finish();
	aig_restore_search_path(level);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* After a failed round: the pipeline backs off with the error (own transaction; never raises). */
static void
record_round_error(int pid, const char *message)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		int			level = begin_round_xact();
		Oid			types[2] = {INT4OID, TEXTOID};
		Datum		v[2] = {Int32GetDatum(pid), CStringGetTextDatum(message)};

		if (pipelines_present() &&
			SPI_execute_with_args("UPDATE ai_gateway.pipelines SET last_error = $2, "
								  "retry_at = clock_timestamp() + make_interval(secs => least(30, 0.25 * power(2, backoffs))), "
								  "backoffs = backoffs + 1 WHERE id = $1",
								  2, types, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record a pipeline's error");
		commit_round_xact(level);
	}
	PG_CATCH();
	{
		aig_worker_round_failed(cxt);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/* Run pipeline_compute (SPI connected) as `owner`; its result is SPI_tuptable. */
static void
compute_as(Oid owner, Oid *types, Datum *v)
{
	Oid			save_user;
	int			save_sec;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT array_agg(c.outcome ORDER BY c.ord), array_agg(c.error ORDER BY c.ord), "
								  " array_agg(c.state ORDER BY c.ord) "
								  "FROM ai_gateway.pipeline_compute($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) c",
								  12, types, v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not compute a pipeline's rows");
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
}

/* Pipeline columns the round reads (the order of the SELECT below). */
enum
{
	P_ID = 1, P_OWNER, P_OWNER_OK, P_BATCH, P_NAME, P_SOURCE, P_EXPR, P_TARGET, P_KEYS,
	P_COLS, P_MODEL, P_KIND, P_OPTIONS, P_PATH
};

/*
 * One batch of the pipeline that ran least recently among those with
 * queued rows (header comment).  Returns whether to run another round at
 * once: a full batch was claimed (more may wait).  After a partial batch
 * (the pipeline caught up) the worker waits for its next wake-up or 500
 * ms, so a steady trickle of writes is computed in batches, not one
 * round per row.
 */
bool
aig_pipelines_round(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool worked = false;
	volatile int pid = 0;

	PG_TRY();
	{
		int			level = begin_round_xact();
		SPITupleTable *pt;
		HeapTuple	ptup;
		TupleDesc	pdesc;
		bool		isnull;
		Datum		claim[4];
		bool		claim_null[4];
		Datum		out[3];
		bool		out_null[3];
		Oid			owner;
		char	   *name;
		TimestampTz started = GetCurrentTimestamp();
		int			batch;

		if (!pipelines_present())
		{
			commit_round_xact(level);
			MemoryContextSwitchTo(cxt);
			return false;
		}
		if (SPI_execute("SELECT p.id, p.owner::oid, r.oid IS NOT NULL, "
						" coalesce((p.options ->> 'batch_size')::int, "
						"          CASE WHEN p.kind = 'embed' THEN 256 ELSE 8 * greatest(1, current_setting('ai_gateway.batch_concurrency')::int) END), "
						" p.name, p.source, p.source_expr, p.target_column, p.key_columns, p.source_columns, "
						" p.model, p.kind, p.options, p.search_path "
						"FROM ai_gateway.pipelines p LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.owner "
						"WHERE NOT p.paused AND (p.retry_at IS NULL OR p.retry_at <= now()) "
						"  AND EXISTS (SELECT 1 FROM ai_gateway.pipeline_queue q WHERE q.pipeline = p.id) "
						"ORDER BY p.last_run_at NULLS FIRST, p.id LIMIT 1 FOR UPDATE OF p SKIP LOCKED",
						false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the pipelines");
		if (SPI_processed == 0)
		{
			commit_round_xact(level);
			MemoryContextSwitchTo(cxt);
			return false;
		}
		pt = SPI_tuptable;
		ptup = pt->vals[0];
		pdesc = pt->tupdesc;
		pid = DatumGetInt32(SPI_getbinval(ptup, pdesc, P_ID, &isnull));
		batch = DatumGetInt32(SPI_getbinval(ptup, pdesc, P_BATCH, &isnull));
		owner = DatumGetObjectId(SPI_getbinval(ptup, pdesc, P_OWNER, &isnull));
		name = SPI_getvalue(ptup, pdesc, P_NAME);
		worked = true;

		if (!DatumGetBool(SPI_getbinval(ptup, pdesc, P_OWNER_OK, &isnull)))
		{
			/* its role is gone: nothing may run as it */
			Oid			types[1] = {INT4OID};
			Datum		v[1] = {Int32GetDatum(pid)};

			if (SPI_execute_with_args("UPDATE ai_gateway.pipelines SET paused = true, "
									  "last_error = 'the role that created the pipeline no longer exists' "
									  "WHERE id = $1", 1, types, v, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not pause a pipeline");
			commit_round_xact(level);
			MemoryContextSwitchTo(cxt);
			return true;
		}

		/* 1. claim (delete) the oldest queued rows */
		{
			Oid			types[3] = {INT4OID, INT4OID, OIDOID};
			Datum		v[3] = {Int32GetDatum(pid), SPI_getbinval(ptup, pdesc, P_BATCH, &isnull),
			SPI_getbinval(ptup, pdesc, P_SOURCE, &isnull)};

			if (SPI_execute_with_args("WITH c AS (DELETE FROM ai_gateway.pipeline_queue q "
									  " WHERE q.pipeline = $1 AND q.seq IN (SELECT seq FROM ai_gateway.pipeline_queue "
									  "  WHERE pipeline = $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) "
									  " RETURNING q.seq, q.source, q.key, q.hash, q.attempts) "
									  "SELECT array_agg(seq ORDER BY seq), array_agg(key ORDER BY seq), "
									  " array_agg(hash ORDER BY seq), array_agg(attempts ORDER BY seq) FROM c "
									  "WHERE c.source = $3",	/* rows a writer queued for another table: dropped */
									  3, types, v, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not claim a pipeline's rows");
			for (int i = 0; i < 4; i++)
				claim[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1,
										 &claim_null[i]);
		}
		if (claim_null[0])
		{
			commit_round_xact(level);
			MemoryContextSwitchTo(cxt);
			return true;
		}
		pgstat_report_activity(STATE_RUNNING, psprintf("pipeline %s: computing a batch of rows", name));
		aig_audit_prepare_worker();

		/* 2. compute and write back, as the pipeline's owner */
		{
			Oid			types[12] = {TEXTOID, REGCLASSOID, TEXTOID, NAMEOID, NAMEARRAYOID, NAMEARRAYOID,
			TEXTOID, TEXTOID, JSONBOID, TEXTOID, JSONBARRAYOID, TEXTARRAYOID};
			int			cols[10] = {P_NAME, P_SOURCE, P_EXPR, P_TARGET, P_KEYS, P_COLS, P_MODEL, P_KIND,
			P_OPTIONS, P_PATH};
			Datum		v[12];

			for (int i = 0; i < 10; i++)
				v[i] = SPI_getbinval(ptup, pdesc, cols[i], &isnull);
			v[10] = claim[1];
			v[11] = claim[2];
			compute_as(owner, types, v);
			for (int i = 0; i < 3; i++)
				out[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &out_null[i]);
		}

		/* 3. settle */
		{
			Oid			types[9] = {INT4OID, INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
			Datum		v[9] = {Int32GetDatum(pid), claim[0], claim[1], claim[2], claim[3],
			out[0], out[1], out[2], TimestampTzGetDatum(started)};
			char		nulls[9] = {' ', ' ', ' ', ' ', ' ', out_null[0] ? 'n' : ' ',
			out_null[1] ? 'n' : ' ', out_null[2] ? 'n' : ' ', ' '};

			if (SPI_execute_with_args("SELECT ai_gateway.pipeline_settle($1, $2, $3, $4, $5, $6, $7, $8, $9)",
									  9, types, v, nulls, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not settle a pipeline's rows");
		}
		/* a partial batch: caught up, so let a trickle of writes gather (the caller waits) */
		worked = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(claim[0])),
								ARR_DIMS(DatumGetArrayTypeP(claim[0]))) >= batch;
		commit_round_xact(level);
		/* a background worker reports its table statistics itself: autovacuum sees the queue's dead rows */
		pgstat_report_stat(false);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG, (errmsg("ai_gateway pipeline %d: %s", pid, ed->message)));
		if (pid != 0)
			record_round_error(pid, ed->message);
		worked = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return worked;
}
