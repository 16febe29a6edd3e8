/*
 * job_signal.c — waking the async job worker of this database
 * (job_signal.h): its latch and pid are in its database's slot
 * (core/dbslots.h).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "core/dbslots.h"
#include "core/job_signal.h"

/* GUC ai_gateway.max_queued_jobs_per_role (defined in background/jobs_gucs.c) */
int			aig_max_queued_jobs_per_role = 10000;

/* GUC ai_gateway.job_max_request_kb (defined in background/jobs_gucs.c) */
int			aig_job_max_request_kb = 4096;

/* Nothing of its own: the job worker's latch and pid are in its database's slot. */
Size
aig_jobs_shmem_size(void)
{
	return 0;
}

void
aig_jobs_shmem_startup(void)
{
}

/* This database's job worker's latch, set if it runs. */
void
aig_jobs_wake(void)
{
	aig_dbslot_wake(MyDatabaseId, AIG_ROLE_JOBS);
}

/* The worker attached itself to its slot when it started (background/launcher.c). */
void
aig_jobs_worker_attach(void)
{
}

/* This database's job worker's pid, 0 when it does not run. */
int
aig_jobs_worker_pid(void)
{
	return aig_dbslot_pid(MyDatabaseId, AIG_ROLE_JOBS);
}
