/*
 * dbslots.c — the registry of served databases (dbslots.h).
 *
 * Shared memory: one DbSlots header and ai_gateway.max_databases slots.
 * Locking: one spinlock guards everything in it; nobody holds it for more
 * than a scan of the slots, and latches are set after it is released.
 *
 * A slot is claimed by a backend of its database (its first call, or the
 * commit of CREATE EXTENSION ai_gateway) or by the launcher's scan at its
 * start, and freed only by the launcher.  A worker's pid and latch are
 * published by the worker itself (aig_dbslot_attach) and cleared at its
 * exit, so a pid here is always a live worker of this slot's database.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "core/dbslots.h"
#include "core/preload.h"

int			aig_max_databases = 8;
char	   *aig_databases = NULL;

typedef struct DbSlot
{
	Oid			dbid;
	uint64		gen;
	bool		present;
	bool		gone;
	bool		again;			/* claimed while gone: serve it again once freed */
	TimestampTz paused_until;
	int			pid[AIG_DB_NROLES];
	Latch	   *latch[AIG_DB_NROLES];
} DbSlot;

typedef struct DbSlots
{
	slock_t		mutex;
	uint64		next_gen;
	Latch	   *launcher_latch;
	DbSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} DbSlots;

static DbSlots *ds = NULL;

/* Define ai_gateway.max_databases and ai_gateway.databases (from _PG_init). */
void
aig_dbslots_define_gucs(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("ai_gateway.max_databases",
							"How many databases the ai_gateway workers can serve at once.",
							"Each served database has its own audit queue (ai_gateway.audit_queue_kb) and three workers.",
							&aig_max_databases, 8, 1, 1024, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("ai_gateway.databases",
							   "Comma-separated databases the ai_gateway workers may serve; empty: every database with the extension.",
							   NULL, &aig_databases, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
}

Size
aig_dbslots_shmem_size(void)
{
	return add_size(offsetof(DbSlots, slots), mul_size(sizeof(DbSlot), aig_max_databases));
}

/* Create or attach the registry; caller holds AddinShmemInitLock. */
void
aig_dbslots_shmem_startup(void)
{
	bool		found;

	ds = ShmemInitStruct("ai_gateway databases", aig_dbslots_shmem_size(), &found);
	if (!found)
	{
		memset(ds, 0, aig_dbslots_shmem_size());
		SpinLockInit(&ds->mutex);
		ds->next_gen = 1;
	}
}

/* Is name on list (a comma-separated GUC value)? */
static bool
on_list(const char *list, const char *name)
{
	char	   *copy = pstrdup(list);
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (!SplitGUCList(copy, ',', &names))
		return false;
	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			found = true;
	return found;
}

/*
 * The allow-list is ai_gateway.databases plus the older ai_gateway.database;
 * when both are empty every database is allowed.
 */
bool
aig_database_allowed(const char *dbname)
{
	bool		any = false;

	if (dbname == NULL)
		return false;
	if (aig_databases && aig_databases[0])
	{
		any = true;
		if (on_list(aig_databases, dbname))
			return true;
	}
	if (aig_database && aig_database[0])
	{
		any = true;
		if (on_list(aig_database, dbname))
			return true;
	}
	return !any;
}

int
aig_dbslot_of(Oid db, uint64 *gen)
{
	int			found = -1;

	if (ds == NULL || !OidIsValid(db))
		return -1;
	SpinLockAcquire(&ds->mutex);
	for (int i = 0; i < aig_max_databases && found < 0; i++)
		if (ds->slots[i].dbid == db)
		{
			found = i;
			if (gen)
				*gen = ds->slots[i].gen;
		}
	SpinLockRelease(&ds->mutex);
	return found;
}

int
aig_dbslot_claim(Oid db, uint64 *gen)
{
	int			found = -1;
	int			free_slot = -1;
	Latch	   *wake = NULL;

	if (ds == NULL || !OidIsValid(db))
		return -1;
	SpinLockAcquire(&ds->mutex);
	for (int i = 0; i < aig_max_databases && found < 0; i++)
	{
		if (ds->slots[i].dbid == db)
		{
			found = i;
			if (ds->slots[i].gone && !ds->slots[i].again)
			{
				ds->slots[i].again = true;
				wake = ds->launcher_latch;
			}
		}
		else if (free_slot < 0 && !OidIsValid(ds->slots[i].dbid))
			free_slot = i;
	}
	if (found < 0 && free_slot >= 0)
	{
		DbSlot	   *s = &ds->slots[free_slot];

		memset(s, 0, sizeof(*s));
		s->dbid = db;
		s->gen = ds->next_gen++;
		found = free_slot;
		wake = ds->launcher_latch;
	}
	if (found >= 0 && gen)
		*gen = ds->slots[found].gen;
	SpinLockRelease(&ds->mutex);
	if (wake)
		SetLatch(wake);
	return found;
}

bool
aig_dbslot_current(int i, Oid db, uint64 gen)
{
	bool		same;

	if (ds == NULL || i < 0 || i >= aig_max_databases)
		return false;
	SpinLockAcquire(&ds->mutex);
	same = ds->slots[i].dbid == db && ds->slots[i].gen == gen;
	SpinLockRelease(&ds->mutex);
	return same;
}

/* At a worker's exit: its pid and latch leave the slot. */
static void
detach(int code, Datum arg)
{
	int			i = DatumGetInt32(arg) / AIG_DB_NROLES;
	int			role = DatumGetInt32(arg) % AIG_DB_NROLES;
	Latch	   *wake;

	SpinLockAcquire(&ds->mutex);
	if (ds->slots[i].pid[role] == MyProcPid)
	{
		ds->slots[i].pid[role] = 0;
		ds->slots[i].latch[role] = NULL;
	}
	wake = ds->launcher_latch;
	SpinLockRelease(&ds->mutex);
	if (wake)
		SetLatch(wake);
}

bool
aig_dbslot_attach(int i, AigDbRole role, Oid db)
{
	bool		ok;

	if (ds == NULL || i < 0 || i >= aig_max_databases)
		return false;
	SpinLockAcquire(&ds->mutex);
	/* a pid is cleared at its worker's exit (a crash resets shared memory) */
	ok = ds->slots[i].dbid == db && !ds->slots[i].gone && ds->slots[i].pid[role] == 0;
	if (ok)
	{
		ds->slots[i].pid[role] = MyProcPid;
		ds->slots[i].latch[role] = MyLatch;
	}
	SpinLockRelease(&ds->mutex);
	if (ok)
		before_shmem_exit(detach, Int32GetDatum(i * AIG_DB_NROLES + role));
	return ok;
}

void
aig_dbslot_set_present(int i, bool present)
{
	Latch	   *wake;

	SpinLockAcquire(&ds->mutex);
	ds->slots[i].present = present;
	ds->slots[i].gone = !present;
	wake = ds->launcher_latch;
	SpinLockRelease(&ds->mutex);
	if (wake)
		SetLatch(wake);
}

int
aig_dbslot_pid(Oid db, AigDbRole role)
{
	int			pid = 0;

	if (ds == NULL)
		return 0;
	SpinLockAcquire(&ds->mutex);
	for (int i = 0; i < aig_max_databases; i++)
		if (ds->slots[i].dbid == db)
			pid = ds->slots[i].pid[role];
	SpinLockRelease(&ds->mutex);
	return pid;
}

void
aig_dbslot_wake(Oid db, AigDbRole role)
{
	Latch	   *wake = NULL;

	if (ds == NULL)
		return;
	SpinLockAcquire(&ds->mutex);
	for (int i = 0; i < aig_max_databases; i++)
		if (ds->slots[i].dbid == db)
			wake = ds->slots[i].latch[role];
	SpinLockRelease(&ds->mutex);
	if (wake)
		SetLatch(wake);
}

void
aig_dbslot_pause(Oid db, int ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	if (ds == NULL)
		return;
	SpinLockAcquire(&ds->mutex);
	for (int i = 0; i < aig_max_databases; i++)
		if (ds->slots[i].dbid == db)
			ds->slots[i].paused_until = until;
	SpinLockRelease(&ds->mutex);
}

/* At the launcher's exit: nobody to wake. */
static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&ds->mutex);
	ds->launcher_latch = NULL;
	SpinLockRelease(&ds->mutex);
}

void
aig_dbslots_launcher_attach(void)
{
	SpinLockAcquire(&ds->mutex);
	ds->launcher_latch = MyLatch;
	SpinLockRelease(&ds->mutex);
	before_shmem_exit(launcher_detach, 0);
}

bool
aig_dbslot_view(int i, AigDbSlotView *out)
{
	DbSlot	   *s = &ds->slots[i];

	SpinLockAcquire(&ds->mutex);
	out->dbid = s->dbid;
	out->gen = s->gen;
	out->present = s->present;
	out->gone = s->gone;
	out->paused_until = s->paused_until;
	memcpy(out->pid, s->pid, sizeof(out->pid));
	SpinLockRelease(&ds->mutex);
	return OidIsValid(out->dbid);
}

void
aig_dbslot_free(int i, uint64 gen)
{
	SpinLockAcquire(&ds->mutex);
	if (ds->slots[i].gen == gen)
	{
		bool		idle = true;

		for (int r = 0; r < AIG_DB_NROLES; r++)
			idle &= ds->slots[i].pid[r] == 0;
		if (idle && ds->slots[i].again)
		{
			/* claimed again meanwhile (CREATE EXTENSION): a new generation */
			DbSlot	   *s = &ds->slots[i];

			s->gen = ds->next_gen++;
			s->gone = s->present = s->again = false;
		}
		else if (idle)
			memset(&ds->slots[i], 0, sizeof(DbSlot));
	}
	SpinLockRelease(&ds->mutex);
}

void
aig_dbslots_wake_launcher(void)
{
	Latch	   *wake;

	if (ds == NULL)
		return;
	SpinLockAcquire(&ds->mutex);
	wake = ds->launcher_latch;
	SpinLockRelease(&ds->mutex);
	if (wake)
		SetLatch(wake);
}
