/*
 * router_internal.h — pieces of router.c and account.c shared with batch.c
 * (the set-based scheduler) and pipeline.c (the stages around attempts).
 */
#ifndef AIG_ROUTER_INTERNAL_H
#define AIG_ROUTER_INTERNAL_H

#include "postgres.h"

#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "governance/cache.h"
#include "transport/http.h"
#include "governance/quota.h"
#include "routing/pipeline.h"
#include "routing/router.h"
#include "routing/strategy.h"

/* Where one target stands during a call. */
typedef struct TargetRun
{
	AigCandidate *cand;
	int			tries;
	int			max_retries;
	bool		done;			/* no more attempts on it in this call */
	TimestampTz ready_at;		/* earliest retry */
} TargetRun;

extern void aig_r_order_context(const AigRoute *route, const AigCallOptions *co,
								int64 input_bytes, AigOrderContext *ctx);
extern int	aig_r_effective_max_retries(const AigRoute *route, const AigProvider *p,
										const AigCallOptions *co);
extern int	aig_r_call_timeout_ms(const AigRoute *route, const AigCallOptions *co);
extern AigHttpLimits aig_r_attempt_limits(const AigProvider *p, const AigCallOptions *co,
										  long remaining_ms);
extern long aig_r_backoff_ms(int retry, int retry_after_ms);
extern void aig_r_check_access(const AigRoute *route);
extern void aig_r_check_provider_access(const AigProvider *p);
/* Grant check + init + reserve, and settle + audit: one accounted call (benchmarks). */
extern void aig_r_account_begin(CallAccount *acc, const AigRoute *route,
								const AigCallOptions *co, const AigOrderContext *ctx,
								int64 out_est, char *prompt_json);
extern void aig_r_account_end(CallAccount *acc, const AigCallInfo *info, bool ok,
							  const char *error, bool canceled, const char *output);

/* The pieces, as the pipeline's stages use them. */
extern void aig_r_account_init(CallAccount *acc, const AigRoute *route,
							   const AigCallOptions *co, char *prompt_json);
extern void aig_r_account_reserve(CallAccount *acc, const AigRoute *route,
								  const AigOrderContext *ctx, int64 out_est);
/* Settle the reservation with what was used (nothing unless ok).  Never raises. */
extern void aig_r_account_settle(CallAccount *acc, const AigCallInfo *info, bool ok);
/*
 * Queue the audit record, count the statistics (of the target's outcome,
 * target_ok) and log the call line.  status: "ok", "error" or "canceled".
 * Never raises.
 */
extern void aig_r_account_audit(CallAccount *acc, const AigCallInfo *info, bool target_ok,
								const char *status, const char *error, const char *output);
/* The audit record of a call refused before it was charged ("refused").  Never raises. */
extern void aig_r_account_refusal(const AigRoute *route, const char *model_string,
								  Jsonb *metadata, Oid caller, int sqlerrcode,
								  const char *error);
extern void aig_r_finish_info(AigCallInfo *info, AigRoute *route, AigTarget *t, int attempts,
							  instr_time start, int64 in_tok, int64 out_tok);
/* The next target to attempt: an untried one, else the one ready soonest; -1 when none. */
extern int	aig_r_next_target(TargetRun *run, int n);

#endif							/* AIG_ROUTER_INTERNAL_H */
