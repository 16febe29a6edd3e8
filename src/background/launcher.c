/*
 * launcher.c — the ai_gateway launcher: starts the per-database workers
 * of every database where the extension is installed.
 *
 * Registered at preload (the only static worker), it connects to no
 * database and reads only the shared catalog pg_database.  The databases
 * it serves are the claimed slots of core/dbslots.h; a slot is claimed
 *  - by the launcher's scan at its start: every database that accepts
 *    connections and is not a template (and is on ai_gateway.databases,
 *    when that is set) — whether the extension is there only a worker
 *    connected to the database can tell, so the scan claims them all and
 *    the main worker of a database without it says so and exits;
 *  - by the commit of CREATE EXTENSION ai_gateway (worker.c's hooks);
 *  - by the first call in a database (governance/audit.c), which covers
 *    a database created from a template that has the extension.
 * For each claimed slot it starts the main worker (audit writer, quota
 * persistence, alerts, retention; worker.c), and once that one found the
 * extension, the shadow worker and the job worker: three workers per
 * database, plus the launcher, out of max_worker_processes.  When no
 * worker slot is left it logs a WARNING naming the database and tries
 * again every 10 s.  A worker that exits (a crash, a DROP DATABASE
 * stopping it) is started again after 5 s.  When the main worker finds
 * the extension gone (DROP EXTENSION) or the database is gone, the
 * launcher stops the others and frees the slot.
 *
 * Lifecycle: SIGHUP reloads the configuration, SIGTERM ends it; the
 * workers are registered with bgw_notify_pid, so their start and exit
 * wake it.  It holds no connection to any database, so it never stands in
 * the way of DROP DATABASE.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include <signal.h>

#include "core/dbslots.h"
#include "background/worker.h"

PGDLLEXPORT void aig_launcher_main(Datum arg);

#define RESTART_MS 5000
#define NO_ROOM_RETRY_MS 10000

static volatile sig_atomic_t got_sigterm = false;

static void
launcher_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* What the launcher keeps of a slot between rounds. */
typedef struct Local
{
	uint64		gen;
	BackgroundWorkerHandle *handle[AIG_DB_NROLES];
	TimestampTz next_start[AIG_DB_NROLES];
	bool		warned;
} Local;

static Local *local = NULL;

/* A database of pg_database the workers may serve. */
typedef struct DbEntry
{
	Oid			oid;
	bool		servable;		/* allows connections, not a template, allowed */
} DbEntry;

/* Every database in pg_database (allocated in cxt); *n its count. */
static DbEntry *
list_databases(MemoryContext cxt, int *n)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;
	DbEntry    *out = MemoryContextAlloc(cxt, sizeof(DbEntry) * cap);

	*n = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (*n == cap)
		{
			cap *= 2;
			out = repalloc(out, sizeof(DbEntry) * cap);
		}
		out[*n].oid = db->oid;
		/* datconnlimit -2: a DROP DATABASE was interrupted, the database is invalid */
		out[*n].servable = db->datallowconn && !db->datistemplate &&
			db->datconnlimit != -2 && aig_database_allowed(NameStr(db->datname));
		(*n)++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return out;
}

static const char *const role_names[AIG_DB_NROLES] = {
	"ai_gateway worker", "ai_gateway shadow worker", "ai_gateway job worker"
};

/* Register slot i's worker of role for database db; false when no worker slot is left. */
static bool
start_worker(int i, AigDbRole role, Oid db, BackgroundWorkerHandle **handle)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	strlcpy(bgw.bgw_library_name, "ai_gateway", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "aig_worker_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, role_names[role], BGW_MAXLEN);
	strlcpy(bgw.bgw_type, role_names[role], BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(i * AIG_DB_NROLES + role);
	memcpy(bgw.bgw_extra, &db, sizeof(db));
	bgw.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&bgw, handle);
}

/* Does the handle's worker run or is it about to? */
static bool
handle_running(BackgroundWorkerHandle **h)
{
	pid_t		pid;

	if (*h == NULL)
		return false;
	switch (GetBackgroundWorkerPid(*h, &pid))
	{
		case BGWH_STARTED:
		case BGWH_NOT_YET_STARTED:
			return true;
		case BGWH_POSTMASTER_DIED:
			proc_exit(1);
			break;
		case BGWH_STOPPED:
			break;
	}
	pfree(*h);
	*h = NULL;
	return false;
}

/* One slot's round: start what is missing, or stop and free it. */
static void
manage_slot(int i, const DbEntry *dbs, int ndbs, TimestampTz now)
{
	AigDbSlotView v;
	Local	   *l = &local[i];
	bool		exists = false;
	bool		busy = false;

	if (!aig_dbslot_view(i, &v))
	{
		for (int r = 0; r < AIG_DB_NROLES; r++)
			(void) handle_running(&l->handle[r]);
		return;
	}
	if (l->gen != v.gen)
	{
		l->gen = v.gen;
		l->warned = false;
		for (int r = 0; r < AIG_DB_NROLES; r++)
			l->next_start[r] = 0;
	}
	for (int k = 0; k < ndbs; k++)
		if (dbs[k].oid == v.dbid)
			exists = dbs[k].servable;

	if (!exists || v.gone)
	{
		/* the extension or the database is gone: stop the rest, then free the slot */
		for (int r = 0; r < AIG_DB_NROLES; r++)
		{
			if (v.pid[r] != 0)
				kill(v.pid[r], SIGTERM);
			busy |= v.pid[r] != 0 || handle_running(&l->handle[r]);
		}
		if (!busy)
			aig_dbslot_free(i, v.gen);
		return;
	}
	if (now < v.paused_until)
		return;
	for (int r = 0; r < AIG_DB_NROLES; r++)
	{
		/* the shadow and job workers only where the main worker found the extension */
		if ((r != AIG_ROLE_MAIN && !v.present) || v.pid[r] != 0 ||
			handle_running(&l->handle[r]) || now < l->next_start[r])
			continue;
		if (start_worker(i, r, v.dbid, &l->handle[r]))
			l->next_start[r] = TimestampTzPlusMilliseconds(now, RESTART_MS);
		else
		{
			l->next_start[r] = TimestampTzPlusMilliseconds(now, NO_ROOM_RETRY_MS);
			if (!l->warned)
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("ai_gateway could not start the %s of database %u: no background worker slot is free",
								role_names[r], v.dbid),
						 errdetail("Each database with the extension needs 3 workers, plus 1 for the launcher; until it runs, that database's calls are queued but not written, and async jobs wait."),
						 errhint("Raise max_worker_processes (a restart is needed); the launcher tries again every %d s.",
								 NO_ROOM_RETRY_MS / 1000)));
			l->warned = true;
		}
	}
}

void
aig_launcher_main(Datum arg)
{
	MemoryContext cxt;
	DbEntry    *dbs;
	int			ndbs;
	Oid		   *pending;
	int			npending = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, launcher_sigterm);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("ai_gateway launcher");
	cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway launcher", ALLOCSET_DEFAULT_SIZES);
	local = MemoryContextAllocZero(TopMemoryContext, sizeof(Local) * aig_max_databases);
	aig_dbslots_launcher_attach();

	/* at start: every database that may have the extension gets probed */
	dbs = list_databases(TopMemoryContext, &ndbs);
	pending = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * Max(ndbs, 1));
	for (int k = 0; k < ndbs; k++)
		if (dbs[k].servable)
			pending[npending++] = dbs[k].oid;
	ereport(LOG, (errmsg("ai_gateway launcher started: %d database(s) to look at", npending)));

	while (!got_sigterm)
	{
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(cxt);
		dbs = list_databases(cxt, &ndbs);
		/* the startup scan's databases, as slots are free */
		for (int k = 0; k < npending;)
		{
			bool		servable = false;

			for (int j = 0; j < ndbs; j++)
				if (dbs[j].oid == pending[k])
					servable = dbs[j].servable;
			if (!servable || aig_dbslot_claim(pending[k], NULL) >= 0)
				pending[k] = pending[--npending];
			else
				break;			/* every slot taken: later */
		}
		now = GetCurrentTimestamp();
		for (int i = 0; i < aig_max_databases; i++)
			manage_slot(i, dbs, ndbs, now);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* exit code 1: the postmaster starts the launcher again (0 would unregister it) */
	proc_exit(1);
}
