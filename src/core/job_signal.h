/*
 * job_signal.h — where the async job worker can be woken: its latch and
 * pid in shared memory.  The SQL side (api/jobs_api.c) wakes it when a
 * queueing transaction commits; the worker (background/jobs.c) attaches.
 */
#ifndef AIG_JOB_SIGNAL_H
#define AIG_JOB_SIGNAL_H

#include "postgres.h"

/* GUC ai_gateway.max_queued_jobs_per_role: checked when queueing (api/jobs_api.c) */
extern int	aig_max_queued_jobs_per_role;
/* GUC ai_gateway.job_max_request_kb: the largest request a job may store */
extern int	aig_job_max_request_kb;

extern Size aig_jobs_shmem_size(void);
extern void aig_jobs_shmem_startup(void);

/* Set the worker's latch, if it runs. */
extern void aig_jobs_wake(void);
/* The worker: publish its latch and pid (cleared again at its exit). */
extern void aig_jobs_worker_attach(void);
extern int	aig_jobs_worker_pid(void);

#endif							/* AIG_JOB_SIGNAL_H */
