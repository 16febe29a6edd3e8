/*
 * worker.h — the ai_gateway background workers (worker.c).
 */
#ifndef AIG_WORKER_H
#define AIG_WORKER_H

#include "postgres.h"

/* Register the workers; called from _PG_init while preloading. */
extern void aig_register_worker(void);

/*
 * A background worker's round failed (in its PG_CATCH): log the error,
 * clear it and abort the round's transaction, in the worker's context cxt
 * (NULL: stay in the current one).  The one way a worker loop carries on.
 */
extern void aig_worker_round_failed(MemoryContext cxt);

#endif							/* AIG_WORKER_H */
