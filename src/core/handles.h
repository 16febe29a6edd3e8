/*
 * handles.h — generations of reclaimable shared-memory entries.
 *
 * The shared tables of target health (routing/target_state.c) and call
 * statistics (governance/stats.c) hand their entries' addresses to the
 * catalog, which keeps them for a whole catalog load.  When a table is full
 * it reclaims entries (of targets that no longer exist, or idle ones), so an
 * address a backend still holds may come to stand for another target.  Each
 * entry therefore carries a generation, new at every (re)use, and each
 * backend remembers the generation of every address it was handed: an entry
 * whose generation moved on is someone else's now, and the holder leaves it
 * alone (its target runs untracked until the next catalog load looks it up
 * again).
 *
 * The map is backend-local (TopMemoryContext), keyed by address; it never
 * ereports but for out-of-memory.
 */
#ifndef AIG_HANDLES_H
#define AIG_HANDLES_H

#include "postgres.h"

/* Remember that entry `addr` had generation `gen` when it was handed out. */
extern void aig_handle_remember(const void *addr, uint64 gen);

/* The generation addr had when it was handed out, 0 when never handed out. */
extern uint64 aig_handle_generation(const void *addr);

#endif							/* AIG_HANDLES_H */
