/*
 * worker.h — the ai_gateway background workers (worker.c).
 */
#ifndef AIG_WORKER_H
#define AIG_WORKER_H

#include "postgres.h"

/* Register the workers; called from _PG_init while preloading. */
extern void aig_register_worker(void);

#endif							/* AIG_WORKER_H */
