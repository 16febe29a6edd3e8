/*
 * shmem.c — requests and initialises ai_gateway's shared memory (see
 * shmem.h for what lives there and its locking rules).
 *
 * PG15+ requests space from shmem_request_hook; PG14 from _PG_init.  The
 * startup hook creates the struct under AddinShmemInitLock only when it was
 * not found, as pg_stat_statements does.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "base/compat.h"
#include "core/preload.h"
#include "init/shmem.h"
#include "routing/target_state.h"
#include "governance/audit.h"
#include "governance/quota.h"
#include "governance/shadow.h"
#include "background/jobs.h"
#include "governance/stats.h"
#include "governance/cache.h"

#define AIG_TRANCHE_NAME "ai_gateway"

AigSharedState *aig_shared = NULL;

#ifdef AIG_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
aig_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(AigSharedState));

	size = add_size(size, aig_target_state_shmem_size());
	size = add_size(size, aig_audit_shmem_size());
	size = add_size(size, aig_quota_shmem_size());
	size = add_size(size, aig_shadow_shmem_size());
	size = add_size(size, aig_jobs_shmem_size());
	size = add_size(size, aig_stats_shmem_size());
	size = add_size(size, aig_cache_shmem_size());
	return size;
}

static void
aig_shmem_request(void)
{
#ifdef AIG_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(aig_shmem_size());
	RequestNamedLWLockTranche(AIG_TRANCHE_NAME, 3);
}

static void
aig_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	aig_shared = ShmemInitStruct("ai_gateway", sizeof(AigSharedState), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(AIG_TRANCHE_NAME);

		aig_shared->lock = &locks[0].lock;
		aig_shared->audit_lock = &locks[1].lock;
		aig_shared->quota_lock = &locks[2].lock;
	}
	aig_target_state_shmem_init();
	aig_audit_shmem_init();
	aig_quota_shmem_init();
	aig_shadow_shmem_init();
	aig_jobs_shmem_init();
	aig_stats_shmem_init();
	aig_cache_shmem_init();
	LWLockRelease(AddinShmemInitLock);
	aig_shmem_ready = true;
}

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
