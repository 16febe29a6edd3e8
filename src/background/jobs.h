/*
 * jobs.h — the async job worker (the SQL side is api/jobs_api.c).
 */
#ifndef AIG_JOBS_H
#define AIG_JOBS_H

#include "postgres.h"

#include <signal.h>

#include "core/job_signal.h"
#include "executor/spi.h"
#include "routing/pipeline.h"

extern int	aig_job_max_attempts;
extern char *aig_job_retention;
extern int	aig_job_max_running_per_role;

/* Define the job GUCs (jobs_gucs.c; called from _PG_init). */
extern void aig_jobs_define_gucs(void);

extern void aig_jobs_worker_loop(volatile sig_atomic_t *stop);

/* A job's stored request as a normalized call (its route resolved as the current user). */
extern void aig_job_build_call(Jsonb *request, AigChatCall *c);

/* Storing a job's outcome (SPI connected): the statement, then once per job. */
extern SPIPlanPtr aig_job_store_prepare(void);
extern void aig_job_store(SPIPlanPtr plan, int64 id, const AigChatCall *it, bool may_retry);

/* The worker's transactions on ai_gateway.jobs, its stats, retention (jobs_xact.c). */
#define AIG_JOB_CLEANUP_BATCHES 20
extern bool aig_jobs_table_present(void);
extern void aig_jobs_report_stats(void);
extern int	aig_jobs_begin_xact(void);
extern void aig_jobs_commit_xact(int level, MemoryContext cxt);
extern bool aig_jobs_cleanup_finished(int batches);

#endif							/* AIG_JOBS_H */
