/*
 * dbslots.h — the databases the ai_gateway workers serve: one slot per
 * database in shared memory (ai_gateway.max_databases of them), each with
 * the pids and latches of that database's three workers.
 *
 * A backend claims its database's slot at its first call (and the
 * CREATE EXTENSION of ai_gateway claims it at commit); the launcher
 * (background/launcher.c) starts the workers of every claimed slot and
 * frees a slot once its main worker found the extension absent (or the
 * database is gone) and every worker has exited.  Each claim gets a new
 * generation number, so the per-database queues (audit, shadow) can tell
 * a slot reused by another database from their own.
 */
#ifndef AIG_DBSLOTS_H
#define AIG_DBSLOTS_H

#include "postgres.h"

#include "storage/latch.h"

/* The per-database workers, in the order the launcher starts them. */
typedef enum AigDbRole
{
	AIG_ROLE_MAIN = 0,			/* audit writer, quota persistence, alerts, retention */
	AIG_ROLE_SHADOW = 1,		/* shadow copies */
	AIG_ROLE_JOBS = 2,			/* async jobs */
} AigDbRole;

#define AIG_DB_NROLES 3

/* GUC ai_gateway.max_databases (postmaster): the number of slots */
extern int	aig_max_databases;
/* GUC ai_gateway.databases (postmaster): the allow-list; empty: every database */
extern char *aig_databases;

/* What the launcher sees of one slot (a copy taken under the lock). */
typedef struct AigDbSlotView
{
	Oid			dbid;			/* InvalidOid: free */
	uint64		gen;
	bool		present;		/* the main worker found the extension */
	bool		gone;			/* the main worker found it absent */
	TimestampTz paused_until;	/* a DROP/RENAME DATABASE is stopping the workers */
	int			pid[AIG_DB_NROLES];
} AigDbSlotView;

extern void aig_dbslots_define_gucs(void);
extern Size aig_dbslots_shmem_size(void);
extern void aig_dbslots_shmem_startup(void);

/* Is the database of this name on the allow-list (always, when it is empty)? */
extern bool aig_database_allowed(const char *dbname);

/* The slot of db (and its generation), -1 when it has none. */
extern int	aig_dbslot_of(Oid db, uint64 *gen);
/* The slot of db, claimed (and the launcher woken) when it has none; -1 when all are taken. */
extern int	aig_dbslot_claim(Oid db, uint64 *gen);
/* Does slot i still belong to db under generation gen? */
extern bool aig_dbslot_current(int i, Oid db, uint64 gen);

/* Workers: publish this process as slot i's worker of role; false if another one runs. */
extern bool aig_dbslot_attach(int i, AigDbRole role, Oid db);
/* Main worker: the extension is (present = true) or is not installed in the slot's database. */
extern void aig_dbslot_set_present(int i, bool present);
/* The pid of db's worker of role, 0 when none runs. */
extern int	aig_dbslot_pid(Oid db, AigDbRole role);
/* Set the latch of db's worker of role, if it runs. */
extern void aig_dbslot_wake(Oid db, AigDbRole role);
/* Keep the launcher from starting db's workers for ms milliseconds. */
extern void aig_dbslot_pause(Oid db, int ms);

/* Launcher: publish its latch; copy slot i; free slot i (when its workers are gone). */
extern void aig_dbslots_launcher_attach(void);
extern bool aig_dbslot_view(int i, AigDbSlotView *out);
extern void aig_dbslot_free(int i, uint64 gen);
/* Wake the launcher (after a claim, or a CREATE EXTENSION). */
extern void aig_dbslots_wake_launcher(void);

#endif							/* AIG_DBSLOTS_H */
