/*
 * jobs_xact.c — the job worker's transactions on ai_gateway.jobs
 * (background/jobs.c): begin and commit with the search path pinned and
 * SPI connected, its table statistics reported after each, and retention
 * (finished jobs older than ai_gateway.job_retention deleted in bounded
 * batches).
 *
 * Every job is an INSERT and two UPDATEs of the indexed status, none HOT:
 * two dead tuples a job.  A background worker never reports its table
 * statistics by itself, so without aig_jobs_report_stats autovacuum would
 * never see them (test/integration/job_scale.sh).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "background/jobs.h"
#include "background/worker.h"
#include "core/search_path.h"

/* Is ai_gateway.jobs there (the extension may be dropped meanwhile)? */
bool
aig_jobs_table_present(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("jobs", nsp));
}

/*
 * Send this worker's table statistics (its inserts, updates, deletes) to
 * the cumulative statistics system, at most once a second (pgstat's own
 * limit).  A background worker in a loop never does it by itself, and
 * without it autovacuum never sees the dead tuples that every job's
 * updates leave in ai_gateway.jobs: the table would only grow.
 */
void
aig_jobs_report_stats(void)
{
	if (!IsTransactionOrTransactionBlock())
		(void) pgstat_report_stat(false);
}

/* Begin a transaction of the worker's, with the search path pinned and SPI connected. */
int
aig_jobs_begin_xact(void)
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

/* Commit a transaction begun by aig_jobs_begin_xact. */
void
aig_jobs_commit_xact(int level, MemoryContext cxt)
{
	SPI_finish();
	aig_restore_search_path(level);
	PopActiveSnapshot();
	CommitTransactionCommand();
	aig_jobs_report_stats();
	MemoryContextSwitchTo(cxt);
}

/*
 * Retention: finished jobs older than ai_gateway.job_retention go, in
 * batches of JOB_CLEANUP_BATCH rows, each in a transaction of its own (short
 * locks, dead tuples autovacuum can reclaim while the next batch runs), at
 * most `batches` batches a round; the rest goes next round.
 * Returns whether a full batch went (more may be due).
 */
#define JOB_CLEANUP_BATCH 5000

bool
aig_jobs_cleanup_finished(int batches)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool more = false;

	PG_TRY();
	{
		char	   *sql = psprintf("DELETE FROM ai_gateway.jobs WHERE id IN ("
								   "SELECT id FROM ai_gateway.jobs WHERE status IN ('succeeded', 'failed') "
								   "AND finished_at < now() - %s::interval LIMIT %d)",
								   quote_literal_cstr(aig_job_retention), JOB_CLEANUP_BATCH);

		for (int b = 0; b < batches; b++)
		{
			int			level = aig_jobs_begin_xact();
			uint64		n = 0;

			if (aig_jobs_table_present())
			{
				if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
					elog(ERROR, "could not delete finished jobs");
				n = SPI_processed;
			}
			aig_jobs_commit_xact(level, cxt);
			more = n == JOB_CLEANUP_BATCH;
			if (!more)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		pfree(sql);
	}
	PG_CATCH();
	{
		aig_worker_round_failed(NULL);
		more = false;
	}
	PG_END_TRY();
	return more;
}
