/*
 * jobs.h — async jobs: ai_complete_async / ai_result and the job worker.
 */
#ifndef AIG_JOBS_H
#define AIG_JOBS_H

#include "postgres.h"

#include <signal.h>

extern int	aig_job_max_attempts;
extern char *aig_job_retention;

/* Define the job GUCs (jobs_gucs.c; called from _PG_init). */
extern void aig_jobs_define_gucs(void);

extern Size aig_jobs_shmem_size(void);
extern void aig_jobs_shmem_startup(void);
extern void aig_jobs_worker_loop(volatile sig_atomic_t *stop);
extern int	aig_jobs_worker_pid(void);

#endif							/* AIG_JOBS_H */
