/*
 * isolate.h — per-item error isolation: run a function in a subtransaction
 * and turn its error into a value, the one way a batch item, an async job
 * or a shadow copy fails alone without the statement failing with it.
 */
#ifndef AIG_ISOLATE_H
#define AIG_ISOLATE_H

#include "postgres.h"

typedef void (*AigIsolatedFn) (void *arg);

/*
 * Run fn(arg) inside an internal subtransaction.  true when it returned;
 * false when it raised an ERROR: the subtransaction is rolled back (its
 * SPI connections, locks, buffers and user/search_path changes go with
 * it), memory context and resource owner are restored, and *error (if not
 * NULL) is the copied error.  Query cancel, statement timeout, admin
 * shutdown and anything above ERROR are re-thrown, never returned.
 */
extern bool aig_isolate(AigIsolatedFn fn, void *arg, ErrorData **error);

#endif							/* AIG_ISOLATE_H */
