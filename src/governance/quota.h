/*
 * quota.h — per-role budgets (ai_gateway.quotas) and token-bucket rate
 * limits (ai_gateway.rate_limits, providers.options), enforced in shared
 * memory across all backends.
 */
#ifndef AIG_QUOTA_H
#define AIG_QUOTA_H

#include "postgres.h"

#include "core/catalog.h"

/* AigQuota, AigRateLimit and AigPeriod (the configuration) are in core/catalog.h. */

#define AIG_MAX_TICKET 16

/* What a call reserved, to be settled when it ends. */
typedef struct AigQuotaTicket
{
	int			n;
	struct
	{
		void	   *entry;
		int64		window;
		int64		est_tokens;
		double		est_cost;
	}			items[AIG_MAX_TICKET];
} AigQuotaTicket;

extern int	aig_max_quota_entries;
extern int	aig_rate_limit_wait_ms;
extern int	aig_quota_persist_ms;

/* Define the quota and rate-limit GUCs (called from _PG_init). */
extern void aig_quota_define_gucs(void);

/* Shared memory: size, tranche request, creation (init/shmem.c calls them). */
extern Size aig_quota_shmem_size(void);
extern void aig_quota_shmem_request(void);
extern void aig_quota_shmem_startup(void);

/*
 * Reserve one request plus the estimated tokens and cost against every
 * quota that applies to the current user (its own and its groups'); 53400
 * when one would be exceeded.  Then take from the role's rate buckets,
 * waiting up to ai_gateway.rate_limit_wait_ms.
 */
extern void aig_quota_reserve(AigQuotaTicket *t, int64 est_tokens, double est_cost);

/*
 * 53400 when the current user is already at a quota (no call could pass);
 * takes nothing.  Lets a call be refused before its hooks run.
 */
extern void aig_quota_precheck(void);

/* The role's rate limits, then aig_quota_reserve(): what a call does first. */
extern void aig_quota_check(AigQuotaTicket *t, int64 est_tokens, double est_cost);

/* Charge a provider batch's answer (tokens, cost; no request, no refusal) to the current user's quotas. */
extern void aig_quota_charge(int64 tokens, double cost);

/* Replace the estimates by what the call used.  Never raises. */
extern void aig_quota_settle(AigQuotaTicket *t, int64 tokens, double cost);

/*
 * A provider's own rate limit (options.requests_per_minute /
 * tokens_per_minute), taken before each attempt to it.  false (and a
 * message) when it cannot be had within the wait limit.
 */
extern bool aig_provider_rate_take(const AigProvider *p, int64 est_tokens, char **why);

/* Worker: save / load this database's usage (ai_gateway.quota_usage). */
extern void aig_quota_persist(void);
extern void aig_quota_load(void);

extern const char *aig_period_name(AigPeriod p);

/*
 * Is the current call held to a quota or rate limit on role_oid: one of the
 * current user's (its own role, its groups) or of the session's login role?
 */
extern bool aig_quota_applies_to_user(Oid role_oid);

/* What a quota has used in its current period (for ai_gateway.usage()). */
typedef struct AigQuotaUsage
{
	int64		window_start;	/* the period, Unix seconds */
	int64		window_end;
	int64		requests;
	int64		tokens;			/* used */
	int64		tokens_reserved;	/* reserved by calls in flight */
	double		cost;
	double		cost_reserved;
} AigQuotaUsage;

extern void aig_quota_usage(const AigQuota *q, AigQuotaUsage *out);

/* Free the usage and rate-bucket entries of a dropped database. */
extern void aig_quota_forget_db(Oid dbid);

#endif							/* AIG_QUOTA_H */
