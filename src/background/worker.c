/*
 * worker.c — the per-database ai_gateway workers and the hooks that stop them.
 *
 * The launcher (launcher.c) starts three workers per served database,
 * all entering aig_worker_main with their slot (core/dbslots.h) and role:
 * the "ai_gateway shadow worker" sends shadow copies of calls
 * (shadow_worker.c), the "ai_gateway job worker" runs async jobs
 * (jobs.c), and the "ai_gateway worker", the main one: every
 * ai_gateway.audit_flush_ms (or sooner, when callers wake it) it writes
 * its database's queued audit records to ai_gateway.audit_log in one
 * transaction; every ai_gateway.quota_persist_ms it saves quota usage;
 * every 250 ms it sends breaker and error-rate alerts (alerts.c); once a
 * minute it deletes audit rows older than ai_gateway.audit_retention and
 * expired rows of the response cache.  At start it loads the saved quota
 * usage.  It also tells the launcher whether the extension is installed:
 * at its start (the launcher starts the other two only then) and when
 * it disappears (DROP EXTENSION), when it exits and the launcher stops
 * the others.
 *
 * DROP DATABASE (or a rename, a SET TABLESPACE, a CREATE DATABASE copying
 * it) of a served database would wait for the workers' connections and
 * fail; a ProcessUtility hook pauses the
 * launcher for that database and stops its workers first — the main one
 * writes what is queued and exits.  After a DROP DATABASE the same hook
 * frees the dropped database's entries in the shared target state,
 * statistics, quota usage and rate buckets.  After CREATE EXTENSION
 * ai_gateway commits, a transaction callback registers the database so
 * the launcher starts its workers.
 *
 * Lifecycle: SIGHUP reloads the configuration; SIGTERM (fast shutdown)
 * makes the main worker write what is queued and exit; postmaster death
 * ends them; the launcher starts a worker that exited again after 5 s.
 * Errors are logged as they happen and the loop goes on; the audit writer
 * (governance/audit_writer.c) sets aside a record the database refuses
 * and backs off on transient failures, so no record holds the queue.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "nodes/parsenodes.h"
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

#include "core/dbslots.h"
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

/* Stop db's worker of role and wait (up to 10 s) until it has let go of its database. */
static void
stop_one(Oid db, AigDbRole role)
{
	int			pid = aig_dbslot_pid(db, role);

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000 && aig_dbslot_pid(db, role) == pid; i++)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000);
	}
}

/*
 * Before DROP DATABASE or ALTER DATABASE ... RENAME of a database the
 * workers serve: keep the launcher from starting them again for a while
 * and stop them, so the statement does not wait on their connections.
 * Only for a caller the server's own check will let through (the
 * database's owner, or a superuser): anyone else's statement fails with
 * "must be owner" and must not take the workers down on its way.
 */
static void
stop_worker_for(const char *dbname)
{
	Oid			db;

	if (dbname == NULL)
		return;
	db = get_database_oid(dbname, true);
	if (!OidIsValid(db) || aig_dbslot_of(db, NULL) < 0 ||
		!aig_database_ownercheck(db, GetUserId()))
		return;
	aig_dbslot_pause(db, 10000);
	stop_one(db, AIG_ROLE_SHADOW);
	stop_one(db, AIG_ROLE_JOBS);
	stop_one(db, AIG_ROLE_MAIN);
}

/* CREATE EXTENSION ai_gateway in this transaction: the database its slot at commit. */
static Oid	claim_at_commit = InvalidOid;

static void
claim_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && OidIsValid(claim_at_commit))
		(void) aig_dbslot_claim(claim_at_commit, NULL);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		claim_at_commit = InvalidOid;
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
	else if (IsA(parsetree, AlterDatabaseStmt) || IsA(parsetree, CreatedbStmt))
	{
		/* SET TABLESPACE of a served database, or a copy of it, want it to themselves too */
		List	   *options = IsA(parsetree, CreatedbStmt) ?
			((CreatedbStmt *) parsetree)->options : ((AlterDatabaseStmt *) parsetree)->options;
		ListCell   *lc;

		foreach(lc, options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (IsA(parsetree, AlterDatabaseStmt) && strcmp(opt->defname, "tablespace") == 0)
				stop_worker_for(((AlterDatabaseStmt *) parsetree)->dbname);
			else if (IsA(parsetree, CreatedbStmt) && strcmp(opt->defname, "template") == 0 &&
					 opt->arg != NULL)
				stop_worker_for(defGetString(opt));
		}
	}

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	/* the launcher starts this database's workers once the extension is committed */
	if (IsA(parsetree, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) parsetree)->extname, "ai_gateway") == 0 &&
		aig_database_allowed(get_database_name(MyDatabaseId)))
		claim_at_commit = MyDatabaseId;

	/* dropped (an error would not get here): its shared entries go too */
	if (OidIsValid(dropped))
	{
		aig_target_state_forget_db(dropped);
		aig_stats_forget_db(dropped);
		aig_quota_forget_db(dropped);
	}
}

/* At preload: the hooks, and the launcher (which starts the per-database workers). */
void
aig_register_worker(void)
{
	BackgroundWorker bgw;

	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = aig_utility_hook;
	RegisterXactCallback(claim_xact_callback, NULL);
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	strlcpy(bgw.bgw_library_name, "ai_gateway", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "aig_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "ai_gateway launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "ai_gateway launcher", BGW_MAXLEN);
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

/* the last round found the extension missing in this database */
static bool extension_absent = false;

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
		extension_absent = !extension_present();
		if (extension_absent)
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

	int			slot = DatumGetInt32(arg) / AIG_DB_NROLES;
	AigDbRole	role = DatumGetInt32(arg) % AIG_DB_NROLES;
	Oid			db;

	memcpy(&db, MyBgworkerEntry->bgw_extra, sizeof(db));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	/* the shadow and job workers: die() ends in-flight requests at once */
	pqsignal(SIGTERM, role == AIG_ROLE_MAIN ? worker_sigterm : die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
	pgstat_report_appname(role == AIG_ROLE_MAIN ? "ai_gateway worker" :
						  role == AIG_ROLE_SHADOW ? "ai_gateway shadow worker" :
						  "ai_gateway job worker");
	/* another one of this role runs, or the slot is no longer this database's */
	if (!aig_dbslot_attach(slot, role, db))
		proc_exit(0);
	aig_audit_prepare_worker();
	if (role == AIG_ROLE_JOBS)
	{
		aig_jobs_worker_loop(&got_sigterm);
		proc_exit(1);
	}
	if (role == AIG_ROLE_SHADOW)
	{
		aig_shadow_worker_loop(&got_sigterm);
		proc_exit(1);
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	aig_audit_set_worker(MyLatch, MyDatabaseId);
	before_shmem_exit(worker_detach, 0);
	/* is the extension here?  If not, say so (the launcher frees the slot) and go */
	(void) run_job(JOB_ALERTS, cxt);
	aig_dbslot_set_present(slot, !extension_absent);
	if (extension_absent)
		proc_exit(0);
	ereport(LOG, (errmsg("ai_gateway worker started in database %u", MyDatabaseId)));

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
		if (extension_absent)
		{
			/* DROP EXTENSION: the launcher stops the other workers and frees the slot */
			aig_dbslot_set_present(slot, false);
			break;
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
