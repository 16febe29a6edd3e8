/*
 * ai_gateway.c — module entry: _PG_init.
 *
 * Each subsystem defines and registers its own ai_gateway.* GUCs (its
 * <subsystem>_define_gucs(), declared in its header); _PG_init calls them,
 * then reserves the prefix.  Shared memory (init/shmem.c) and the
 * background workers need shared_preload_libraries; loaded any other way
 * the library still defines the GUCs, and every gateway function fails in
 * aig_require_preload() (core/preload.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "core/catalog.h"
#include "core/catalog_options.h"
#include "core/dbslots.h"
#include "core/preload.h"
#include "core/secrets.h"
#include "transport/http.h"
#include "routing/attempt.h"
#include "routing/messages.h"
#include "routing/router.h"
#include "routing/strategy.h"
#include "routing/target_state.h"
#include "governance/audit.h"
#include "governance/cache.h"
#include "governance/policy.h"
#include "governance/standby.h"
#include "governance/quota.h"
#include "governance/stats.h"
#include "background/alerts.h"
#include "background/jobs.h"
#include "background/worker.h"
#include "init/shmem.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Load the module: every subsystem's GUCs; when preloading, shmem and workers. */
void
_PG_init(void)
{
	/* the catalog calls up into these layers through its hooks */
	aig_catalog_hooks.target_state = aig_target_state;
	aig_catalog_hooks.route_state = aig_route_state;
	aig_catalog_hooks.stats_entry = aig_stats_entry;
	aig_catalog_hooks.check_patterns = aig_policy_check_patterns;

	aig_catalog_define_gucs();
	aig_target_state_define_gucs();
	aig_audit_define_gucs();
	aig_stats_define_gucs();
	aig_quota_define_gucs();
	aig_preload_define_gucs();
	aig_dbslots_define_gucs();
	aig_router_define_gucs();
	aig_message_parts_define_gucs();
	aig_http_define_gucs();
	aig_attempt_define_gucs();
	aig_secrets_define_gucs();
	aig_strategy_define_gucs();
	aig_jobs_define_gucs();
	aig_cache_define_gucs();
	aig_alerts_define_gucs();
	aig_standby_define_gucs();
	AigMarkGUCPrefixReserved("ai_gateway");

	if (!process_shared_preload_libraries_in_progress)
		return;

	aig_preloaded = true;
	aig_shmem_init_hooks();
	/* single-user mode starts no background workers */
	if (IsPostmasterEnvironment)
		aig_register_worker();
}
