/*
 * ai_gateway.c — module entry: _PG_init, the ai_gateway.* GUCs and the
 * preload requirement.
 *
 * Shared state (shmem.c) needs shared_preload_libraries.  Loading the
 * library any other way still defines the GUCs (so postgresql.conf entries
 * are accepted), but every gateway function then fails with
 * ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE and a hint, as
 * pg_stat_statements does.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "init/ai_gateway.h"
#include "core/catalog.h"
#include "base/compat.h"
#include "transport/http.h"
#include "init/shmem.h"
#include "routing/target_state.h"
#include "governance/audit.h"
#include "governance/quota.h"
#include "background/jobs.h"
#include "governance/stats.h"
#include "governance/cache.h"
#include "background/alerts.h"

PG_MODULE_MAGIC;

char	   *aig_database = NULL;
char	   *aig_default_route = NULL;
int			aig_timeout_ms = 60000;
int			aig_connect_timeout_ms = 10000;
int			aig_batch_concurrency = 16;
int			aig_max_response_bytes = 10 * 1024 * 1024;
bool		aig_log_prompts = false;
char	   *aig_master_key_file = NULL;
char	   *aig_ca_bundle = NULL;

int			aig_max_retries = 2;
int			aig_retry_base_ms = 250;
int			aig_retry_max_ms = 10000;
double		aig_fastest_explore_ratio = 0.05;

bool		aig_preloaded = false;

void		_PG_init(void);

static const struct config_enum_entry cache_scope_options[] = {
	{"role", AIG_CACHE_SCOPE_ROLE, false},
	{"global", AIG_CACHE_SCOPE_GLOBAL, false},
	{NULL, 0, false}
};

static void
aig_define_gucs(void)
{
	/* PGC_POSTMASTER variables can only be defined while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ai_gateway.max_targets",
								"Provider/model targets and routes whose health is kept in shared memory.",
								NULL,
								&aig_max_targets,
								1000, 16, 100000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("ai_gateway.audit_queue_kb",
								"Size of the shared-memory audit queue.",
								NULL,
								&aig_audit_queue_kb,
								8192, 1024, 1024 * 1024,
								PGC_POSTMASTER,
								GUC_UNIT_KB,
								NULL, NULL, NULL);
		DefineCustomIntVariable("ai_gateway.max_stats",
								"Route/provider/model statistics entries kept in shared memory.",
								NULL,
								&aig_max_stats,
								2000, 16, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("ai_gateway.max_quota_entries",
								"Role/period quota counters and rate buckets kept in shared memory.",
								NULL,
								&aig_max_quota_entries,
								2000, 16, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	}
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("ai_gateway.database",
								   "Database the ai_gateway background workers connect to.",
								   NULL,
								   &aig_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.default_route",
							   "Route (or provider/model) used when a call passes no model.",
							   NULL,
							   &aig_default_route,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.timeout_ms",
							"Total time allowed for one provider request.",
							"Overridden by the provider's options.timeout_ms, then by the call's options.timeout_ms.",
							&aig_timeout_ms,
							60000, 1, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.connect_timeout_ms",
							"Time allowed to connect to a provider.",
							NULL,
							&aig_connect_timeout_ms,
							10000, 1, 600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.batch_concurrency",
							"Requests in flight at once for set-based calls.",
							NULL,
							&aig_batch_concurrency,
							16, 1, 1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.max_response_bytes",
							"Largest provider response body accepted.",
							NULL,
							&aig_max_response_bytes,
							10 * 1024 * 1024, 1024, INT_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.log_prompts",
							 "Keep prompts and outputs in the audit log and request logs.",
							 NULL,
							 &aig_log_prompts,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.master_key_file",
							   "File holding the 32-byte key that encrypts provider API keys.",
							   "Empty means ai_gateway.key in the data directory, created on first use.",
							   &aig_master_key_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.ca_bundle",
							   "CA certificate bundle used to verify providers' TLS certificates.",
							   "Empty means the system's default bundle.",
							   &aig_ca_bundle,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.max_retries",
							"Retries of a failed provider request, per target.",
							"Overridden by provider, route and call options max_retries.",
							&aig_max_retries,
							2, 0, 10,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.retry_base_ms",
							"First backoff delay between retries (doubles each retry, with jitter).",
							NULL,
							&aig_retry_base_ms,
							250, 1, 60000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.retry_max_ms",
							"Longest backoff delay between retries.",
							NULL,
							&aig_retry_max_ms,
							10000, 1, 600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_failures",
							"Consecutive failures of a target that open its circuit breaker.",
							NULL,
							&aig_breaker_defaults.failures,
							5, 1, 1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("ai_gateway.breaker_error_rate",
							 "Error share over the breaker window that opens a target's breaker.",
							 NULL,
							 &aig_breaker_defaults.error_rate,
							 0.5, 0.01, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_min_requests",
							"Requests in the breaker window before its error rate counts.",
							NULL,
							&aig_breaker_defaults.min_requests,
							20, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_window_ms",
							"Length of the sliding window of a target's error rate.",
							NULL,
							&aig_breaker_defaults.window_ms,
							60000, 1000, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_cooldown_ms",
							"How long an open circuit breaker stays open before a probe.",
							NULL,
							&aig_breaker_defaults.cooldown_ms,
							30000, 10, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomRealVariable("ai_gateway.fastest_explore_ratio",
							 "Share of calls that the fastest strategy sends to another target to keep its latency fresh.",
							 NULL,
							 &aig_fastest_explore_ratio,
							 0.05, 0.0, 0.5,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.audit_wait_ms",
							"How long a call waits for room in a full audit queue before the record is dropped (and counted).",
							NULL,
							&aig_audit_wait_ms,
							1000, 0, 60000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.audit_flush_ms",
							"How often the worker writes queued audit records.",
							"Also bounds what a crash can lose.",
							&aig_audit_flush_ms,
							100, 10, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.audit_retention",
							   "Audit rows older than this interval are deleted by the worker; empty keeps them.",
							   NULL,
							   &aig_audit_retention,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.quota_persist_ms",
							"How often the worker saves quota usage.",
							NULL,
							&aig_quota_persist_ms,
							5000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.rate_limit_wait_ms",
							"Longest wait for a rate limit's bucket to refill before the call fails.",
							NULL,
							&aig_rate_limit_wait_ms,
							2000, 0, 600000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.log_requests",
							 "Log one line per call with its route, provider, model, status, latency, tokens and cost.",
							 "Never keys; never prompts.",
							 &aig_log_requests,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.job_max_attempts",
							"Attempts of an async job before it is marked failed.",
							NULL,
							&aig_job_max_attempts,
							3, 1, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.job_retention",
							   "Finished async jobs older than this interval are deleted; empty keeps them.",
							   NULL,
							   &aig_job_retention,
							   "7 days",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.cache_ttl_s",
							"Cache every chat call's answer for this long; 0 caches only calls that ask.",
							"A call asks with options.cache (true or a TTL in seconds); a route with options.cache_ttl_s.",
							&aig_cache_ttl_s,
							0, 0, AIG_CACHE_MAX_TTL_S,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("ai_gateway.cache_scope",
							 "Whose calls may share a cached answer, unless the route's options.cache_scope says.",
							 "role: only calls by the same role; global: every role that may call the route.",
							 &aig_cache_scope,
							 AIG_CACHE_SCOPE_ROLE,
							 cache_scope_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.cache_local_kb",
							"Memory each backend may keep cached answers in, in front of ai_gateway.cache; 0 turns the front off.",
							NULL,
							&aig_cache_local_kb,
							4096, 0, 1024 * 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.cache_hits_count_quota",
							 "A call answered from the cache counts as one request against the role's quotas and rate limits.",
							 "It never costs tokens or money.",
							 &aig_cache_hits_count_quota,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("ai_gateway.alert_error_rate",
							 "Error share of a provider/model over its window that sends an error_rate alert; 0 turns these alerts off.",
							 "Alerts are NOTIFY messages on channel ai_gateway_alerts in ai_gateway.database.",
							 &aig_alert_error_rate,
							 0.5, 0, 1,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.alert_min_requests",
							"Requests a target needs in its window before its error rate can raise an alert.",
							NULL,
							&aig_alert_min_requests,
							20, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	AigMarkGUCPrefixReserved("ai_gateway");
}

void
_PG_init(void)
{
	aig_define_gucs();

	if (!process_shared_preload_libraries_in_progress)
		return;

	aig_preloaded = true;
	aig_shmem_init_hooks();
	/* single-user mode starts no background workers */
	if (IsPostmasterEnvironment)
		aig_register_worker();
}

void
aig_require_preload(void)
{
	if (!aig_preloaded || aig_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ai_gateway must be loaded via shared_preload_libraries"),
				 errhint("Add ai_gateway to shared_preload_libraries in postgresql.conf and restart the server.")));
}
