/*
 * router_gucs.c — the ai_gateway.* settings the router reads: the default
 * route, the per-request timeout and the retry policy.  Declared in
 * routing/router.h; provider, route and call options override them.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "routing/router.h"

char	   *aig_default_route = NULL;
int			aig_timeout_ms = 60000;
int			aig_max_retries = 2;
int			aig_retry_base_ms = 250;
int			aig_retry_max_ms = 10000;

/* Define the router's ai_gateway.* GUCs (called from _PG_init). */
void
aig_router_define_gucs(void)
{
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
}
