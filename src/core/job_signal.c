/*
 * job_signal.c — the async job worker's latch and pid in shared memory
 * (job_signal.h).
 *
 * Locking: a spinlock guards both fields; setting the latch happens after
 * it is released.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "core/job_signal.h"

/* GUC ai_gateway.max_queued_jobs_per_role (defined in background/jobs_gucs.c) */
int			aig_max_queued_jobs_per_role = 10000;

/* GUC ai_gateway.job_max_request_kb (defined in background/jobs_gucs.c) */
int			aig_job_max_request_kb = 4096;

typedef struct JobsShared
{
	slock_t		mutex;
	Latch	   *latch;
	int			pid;
} JobsShared;

static JobsShared *js = NULL;

Size
aig_jobs_shmem_size(void)
{
	return sizeof(JobsShared);
}

void
aig_jobs_shmem_startup(void)
{
	bool		found;

	js = ShmemInitStruct("ai_gateway jobs", sizeof(JobsShared), &found);
	if (!found)
	{
		SpinLockInit(&js->mutex);
		js->latch = NULL;
		js->pid = 0;
	}
}

/* The worker's latch, set if it runs. */
void
aig_jobs_wake(void)
{
	Latch	   *l;

	if (js == NULL)
		return;
	SpinLockAcquire(&js->mutex);
	l = js->latch;
	SpinLockRelease(&js->mutex);
	if (l)
		SetLatch(l);
}

/* The worker exits: nobody to wake. */
static void
jobs_detach(int code, Datum arg)
{
	SpinLockAcquire(&js->mutex);
	js->latch = NULL;
	js->pid = 0;
	SpinLockRelease(&js->mutex);
}

/* The worker starts: its latch and pid are published until it exits. */
void
aig_jobs_worker_attach(void)
{
	SpinLockAcquire(&js->mutex);
	js->latch = MyLatch;
	js->pid = MyProcPid;
	SpinLockRelease(&js->mutex);
	before_shmem_exit(jobs_detach, 0);
}

/* The worker's pid, 0 when it does not run. */
int
aig_jobs_worker_pid(void)
{
	int			pid;

	if (js == NULL)
		return 0;
	SpinLockAcquire(&js->mutex);
	pid = js->pid;
	SpinLockRelease(&js->mutex);
	return pid;
}
