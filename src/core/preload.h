/*
 * preload.h — how the library was loaded, and the database its background
 * workers serve.  Every layer may ask; only the module entry (init/) and
 * its shared-memory registry set these.
 */
#ifndef AIG_PRELOAD_H
#define AIG_PRELOAD_H

#include "postgres.h"

/* ai_gateway.database: older name of the allow-list ai_gateway.databases (dbslots.h) */
extern char *aig_database;

/* set by _PG_init when loaded through shared_preload_libraries */
extern bool aig_preloaded;

/* set by the shmem startup hook once every subsystem's shared state exists */
extern bool aig_shmem_ready;

/* Define ai_gateway.database (called from _PG_init). */
extern void aig_preload_define_gucs(void);

/* Fail with a clear error and hint unless preloaded. */
extern void aig_require_preload(void);

#endif							/* AIG_PRELOAD_H */
