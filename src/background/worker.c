/*
 * worker.c — the ai_gateway background worker.
 *
 * Two workers, registered at preload.  The "ai_gateway shadow worker" sends
 * shadow copies of calls (shadow_worker.c).  The "ai_gateway worker",  connected to ai_gateway.database.
 * Every ai_gateway.audit_flush_ms (or sooner, when callers wake it) it
 * writes the queued audit records to ai_gateway.audit_log in one
 * transaction; every ai_gateway.quota_persist_ms it saves quota usage;
 * every 250 ms it sends breaker and error-rate alerts (alerts.c); once a
 * minute it deletes audit rows older than ai_gateway.audit_retention and
 * expired rows of the response cache.
 * At start it loads the saved quota usage.
 *
 * DROP DATABASE (or a rename) of the worker's database would wait for the
 * worker's connection and fail; a ProcessUtility hook stops the worker
 * first — it writes what is queued and exits — and the postmaster starts
 * it again after bgw_restart_time, connecting once the database exists.
 * After a DROP DATABASE the same hook frees the dropped database's entries
 * in the shared target state, statistics, quota usage and rate buckets.
 *
 * Lifecycle: SIGHUP reloads the configuration; SIGTERM (fast shutdown)
 * makes it write what is queued and exit; postmaster death ends it; a
 * crash restarts it after 5 s.  Errors are logged as they happen and the
 * loop goes on; the audit writer (governance/audit_writer.c) sets aside a
 * record the database refuses and backs off on transient failures, so no
 * record holds the queue.
 * Until the extension exists in its database it only waits.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include <signal.h>
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/preload.h"
#include "background/worker.h"
#include "governance/audit.h"
#include "governance/quota.h"
#include "core/search_path.h"
#include "background/shadow_worker.h"
#include "governance/shadow_queue.h"
#include "base/compat.h"
#include "background/jobs.h"
#include "background/alerts.h"
#include "governance/cache.h"
#include "governance/stats.h"
#include "routing/target_state.h"

PGDLLEXPORT void aig_worker_main(Datum arg);

static volatile sig_atomic_t got_sigterm = false;

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
worker_detach(int code, Datum arg)
{
	aig_audit_set_worker(NULL, InvalidOid);
}

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* Stop the worker and wait (up to 10 s) until it has let go of its database. */
static void
stop_one(int (*pid_of) (void))
{
	int			pid = pid_of();

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000 && pid_of() == pid; i++)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000);
	}
}

/*
 * Before DROP DATABASE or ALTER DATABASE ... RENAME of the workers'
 * database: stop the workers, so the statement does not wait on their
 * connections.  Only for a caller the server's own check will let through
 * (the database's owner, or a superuser): anyone else's statement fails
 * with "must be owner" and must not take the workers down on its way.
 */
static void
stop_worker_for(const char *dbname)
{
	Oid			db;

	if (dbname == NULL || aig_database == NULL || strcmp(dbname, aig_database) != 0)
		return;
	db = get_database_oid(dbname, true);
	if (!OidIsValid(db) || !aig_database_ownercheck(db, GetUserId()))
		return;
	stop_one(aig_shadow_worker_pid);
	stop_one(aig_jobs_worker_pid);
	stop_one(aig_audit_worker_pid);
}

static void
aig_utility_hook(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				 ProcessUtilityContext context, ParamListInfo params,
				 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	Oid			dropped = InvalidOid;

	if (IsA(parsetree, DropdbStmt))
	{
		stop_worker_for(((DropdbStmt *) parsetree)->dbname);
		dropped = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
	}
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		stop_worker_for(((RenameStmt *) parsetree)->subname);

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	/* dropped (an error would not get here): its shared entries go too */
	if (OidIsValid(dropped))
	{
		aig_target_state_forget_db(dropped);
		aig_stats_forget_db(dropped);
		aig_quota_forget_db(dropped);
	}
}

void
aig_register_worker(void)
{
	BackgroundWorker bgw;

	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = aig_utility_hook;
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	strlcpy(bgw.bgw_library_name, "ai_gateway", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "aig_worker_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "ai_gateway worker", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "ai_gateway worker", BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(0);
	RegisterBackgroundWorker(&bgw);

	strlcpy(bgw.bgw_name, "ai_gateway shadow worker", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "ai_gateway shadow worker", BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(1);
	RegisterBackgroundWorker(&bgw);

	strlcpy(bgw.bgw_name, "ai_gateway job worker", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "ai_gateway job worker", BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(2);
	RegisterBackgroundWorker(&bgw);
}

static bool
extension_present(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("audit_log", nsp)) &&
		OidIsValid(get_relname_relid("quota_usage", nsp));
}

/* One unit of work in its own transaction; errors are logged, not fatal. */
typedef enum Job
{
	JOB_DRAIN,
	JOB_PERSIST,
	JOB_LOAD,
	JOB_RETENTION,
	JOB_ALERTS,
} Job;

#define ALERT_SCAN_MS 250

static bool
run_job(Job job, MemoryContext cxt)
{
	volatile bool ok = true;
	volatile int written = 0;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!extension_present())
			ok = false;
		else
		{
			/* the worker's queries resolve nothing through search_path */
			int			level = aig_pin_search_path();

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			switch (job)
			{
				case JOB_DRAIN:
					pgstat_report_activity(STATE_RUNNING, "writing audit records");
					written = aig_audit_drain();
					break;
				case JOB_PERSIST:
					pgstat_report_activity(STATE_RUNNING, "saving quota usage");
					aig_quota_persist();
					break;
				case JOB_LOAD:
					aig_quota_load();
					break;
				case JOB_RETENTION:
					if (aig_audit_retention && aig_audit_retention[0])
					{
						char	   *sql = psprintf("DELETE FROM ai_gateway.audit_log WHERE ts < now() - %s::interval",
												   quote_literal_cstr(aig_audit_retention));

						SPI_execute(sql, false, 0);
					}
					pgstat_report_activity(STATE_RUNNING, "expiring cached answers");
					aig_cache_expire();
					break;
				case JOB_ALERTS:
					aig_alerts_scan();
					break;
			}
			SPI_finish();
			aig_restore_search_path(level);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		if (ok && job == JOB_DRAIN)
			aig_audit_commit(written);
	}
	PG_CATCH();
	{
		aig_worker_round_failed(cxt);
		if (job == JOB_DRAIN)
			aig_audit_drain_failed();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

void
aig_worker_main(Datum arg)
{
	MemoryContext cxt;
	TimestampTz last_persist = 0;
	TimestampTz last_retention = 0;
	TimestampTz last_alerts = 0;
	bool		loaded = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	if (DatumGetInt32(arg) == 2)
	{
		/* the job worker: die() ends in-flight requests at once */
		pqsignal(SIGTERM, die);
		BackgroundWorkerUnblockSignals();
		BackgroundWorkerInitializeConnection(aig_database, NULL, 0);
		pgstat_report_appname("ai_gateway job worker");
		aig_jobs_worker_loop(&got_sigterm);
		proc_exit(1);
	}
	if (DatumGetInt32(arg) == 1)
	{
		/* the shadow worker: die() ends an in-flight request at once */
		pqsignal(SIGTERM, die);
		BackgroundWorkerUnblockSignals();
		BackgroundWorkerInitializeConnection(aig_database, NULL, 0);
		pgstat_report_appname("ai_gateway shadow worker");
		aig_shadow_worker_loop(&got_sigterm);
		proc_exit(1);
	}
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(aig_database, NULL, 0);
	pgstat_report_appname("ai_gateway worker");

	cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	aig_audit_set_worker(MyLatch, MyDatabaseId);
	before_shmem_exit(worker_detach, 0);
	ereport(LOG, (errmsg("ai_gateway worker started in database \"%s\"", aig_database)));

	while (!got_sigterm)
	{
		TimestampTz now;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(aig_audit_flush_ms, ALERT_SCAN_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!loaded)
			loaded = run_job(JOB_LOAD, cxt);
		if (aig_audit_pending() && aig_audit_backoff_ms() <= 0)
		{
			/* drain until empty (or backing off), then sleep again */
			while (aig_audit_pending() && !got_sigterm && run_job(JOB_DRAIN, cxt) &&
				   aig_audit_backoff_ms() <= 0)
				CHECK_FOR_INTERRUPTS();
		}
		now = GetCurrentTimestamp();
		if (loaded && TimestampDifferenceExceeds(last_persist, now, aig_quota_persist_ms))
		{
			run_job(JOB_PERSIST, cxt);
			last_persist = now;
		}
		if (TimestampDifferenceExceeds(last_alerts, now, ALERT_SCAN_MS))
		{
			run_job(JOB_ALERTS, cxt);
			last_alerts = now;
		}
		if (TimestampDifferenceExceeds(last_retention, now, 60 * 1000))
		{
			run_job(JOB_RETENTION, cxt);
			last_retention = now;
		}
		MemoryContextReset(cxt);
	}

	/* fast shutdown: write what is queued (no waiting on failures), save usage, go */
	while (aig_audit_pending() && run_job(JOB_DRAIN, cxt) && aig_audit_backoff_ms() <= 0)
		;
	if (loaded)
		run_job(JOB_PERSIST, cxt);
	/* exit code 1: the postmaster starts us again (0 would unregister us) */
	proc_exit(1);
}

void
aig_worker_round_failed(MemoryContext cxt)
{
	if (cxt)
		MemoryContextSwitchTo(cxt);
	EmitErrorReport();
	FlushErrorState();
	AbortCurrentTransaction();
}
