/*
 * shadow.h — kept for the files that still include it (init/shmem.c,
 * governance/audit.c): the shadow queue is governance/shadow_queue.h, the
 * worker background/shadow_worker.h.
 */
#ifndef AIG_SHADOW_H
#define AIG_SHADOW_H

#include "governance/shadow_queue.h"

#endif							/* AIG_SHADOW_H */
