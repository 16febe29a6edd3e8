/*
 * shmem.c — requests and initialises ai_gateway's shared memory.
 *
 * Each subsystem owns its part: <x>_shmem_size() says how much it needs,
 * <x>_shmem_request() (where it has locks) asks for its own named LWLock
 * tranche, and <x>_shmem_startup() creates or attaches its struct under
 * AddinShmemInitLock, initialising it only when it was not found, as
 * pg_stat_statements does.  This file only adds up the sizes, forwards the
 * requests and calls the startups; the subsystems share no lock.
 *
 * PG15+ requests space from shmem_request_hook; PG14 from _PG_init.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "base/compat.h"
#include "core/preload.h"
#include "init/shmem.h"
#include "routing/target_state.h"
#include "governance/audit.h"
#include "governance/quota.h"
#include "governance/shadow_queue.h"
#include "core/job_signal.h"
#include "core/dbslots.h"
#include "governance/stats.h"
#include "governance/cache.h"
#include "governance/progress.h"
#include "core/token_cache.h"

#ifdef AIG_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The sum of every subsystem's shared memory. */
static Size
aig_shmem_size(void)
{
	Size		size = 0;

	size = add_size(size, aig_dbslots_shmem_size());
	size = add_size(size, aig_target_state_shmem_size());
	size = add_size(size, aig_audit_shmem_size());
	size = add_size(size, aig_quota_shmem_size());
	size = add_size(size, aig_shadow_shmem_size());
	size = add_size(size, aig_jobs_shmem_size());
	size = add_size(size, aig_stats_shmem_size());
	size = add_size(size, aig_cache_shmem_size());
	size = add_size(size, aig_progress_shmem_size());
	size = add_size(size, aig_token_shmem_size());
	return size;
}

/* Ask for the space and for each subsystem's lock tranche. */
static void
aig_shmem_request(void)
{
#ifdef AIG_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(aig_shmem_size());
	aig_target_state_shmem_request();
	aig_audit_shmem_request();
	aig_quota_shmem_request();
	aig_stats_shmem_request();
	aig_token_shmem_request();
}

/* Create or attach every subsystem's shared state. */
static void
aig_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	aig_dbslots_shmem_startup();
	aig_target_state_shmem_startup();
	aig_audit_shmem_startup();
	aig_quota_shmem_startup();
	aig_shadow_shmem_startup();
	aig_jobs_shmem_startup();
	aig_stats_shmem_startup();
	aig_cache_shmem_startup();
	aig_progress_shmem_startup();
	aig_token_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
	aig_shmem_ready = true;
}

/* Install the hooks; on PG14 request the space right away. */
void
aig_shmem_init_hooks(void)
{
#ifdef AIG_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = aig_shmem_request;
#else
	aig_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = aig_shmem_startup;
}
