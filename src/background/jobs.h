/*
 * jobs.h — the async job worker (the SQL side is api/jobs_api.c).
 */
#ifndef AIG_JOBS_H
#define AIG_JOBS_H

#include "postgres.h"

#include <signal.h>

#include "core/job_signal.h"

extern int	aig_job_max_attempts;
extern char *aig_job_retention;
extern int	aig_job_max_running_per_role;

/* Define the job GUCs (jobs_gucs.c; called from _PG_init). */
extern void aig_jobs_define_gucs(void);

extern void aig_jobs_worker_loop(volatile sig_atomic_t *stop);

#endif							/* AIG_JOBS_H */
