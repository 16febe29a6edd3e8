/*
 * shadow_worker.h — the shadow worker: sends the queued shadow copies
 * (governance/shadow_queue.h) through the pipeline's shadow mode.
 */
#ifndef AIG_SHADOW_WORKER_H
#define AIG_SHADOW_WORKER_H

#include "postgres.h"

#include <signal.h>

/* The shadow worker's main loop (worker.c starts it). */
extern void aig_shadow_worker_loop(volatile sig_atomic_t *stop);

#endif							/* AIG_SHADOW_WORKER_H */
