/*
 * preload.c — the preload requirement and ai_gateway.database (the older
 * name of the allow-list ai_gateway.databases, core/dbslots.c).
 *
 * Shared state needs shared_preload_libraries.  Loading the library any
 * other way still defines the GUCs (so postgresql.conf entries are
 * accepted), but every gateway function then fails with
 * ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE and a hint, as
 * pg_stat_statements does.  init/ai_gateway.c sets aig_preloaded and
 * init/shmem.c sets aig_shmem_ready; everything else only reads them.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "core/preload.h"

char	   *aig_database = NULL;
bool		aig_preloaded = false;
bool		aig_shmem_ready = false;

/* Define ai_gateway.database. */
void
aig_preload_define_gucs(void)
{
	/* PGC_POSTMASTER: defined only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("ai_gateway.database",
								   "Older name of ai_gateway.databases: databases the ai_gateway workers may serve; empty: every database.",
								   NULL,
								   &aig_database,
								   "",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);
}

/* ERROR (55000, with a hint) unless preloaded with shared memory attached. */
void
aig_require_preload(void)
{
	if (!aig_preloaded || !aig_shmem_ready)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ai_gateway must be loaded via shared_preload_libraries"),
				 errhint("Add ai_gateway to shared_preload_libraries in postgresql.conf and restart the server.")));
}
