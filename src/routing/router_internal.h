/*
 * router_internal.h — pieces of router.c shared with batch.c (the set-based
 * scheduler), which runs the same per-call logic for many calls at once.
 */
#ifndef AIG_ROUTER_INTERNAL_H
#define AIG_ROUTER_INTERNAL_H

#include "postgres.h"

#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "governance/cache.h"
#include "transport/http.h"
#include "governance/quota.h"
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

/* Everything about a call that accounting needs, fixed before it runs. */
typedef struct CallAccount
{
	AigQuotaTicket ticket;
	int64		est_tokens;
	char	   *metadata;		/* JSON text */
	char	   *prompt;			/* JSON text, only with log_prompts */
	char	   *route_label;
	instr_time	start;
} CallAccount;

extern void aig_r_order_context(const AigRoute *route, const AigCallOptions *co,
								int64 input_bytes, AigOrderContext *ctx);
extern int	aig_r_effective_max_retries(const AigRoute *route, const AigProvider *p,
										const AigCallOptions *co);
extern int	aig_r_call_timeout_ms(const AigRoute *route, const AigCallOptions *co);
extern AigHttpLimits aig_r_attempt_limits(const AigProvider *p, const AigCallOptions *co,
										  long remaining_ms);
extern long aig_r_backoff_ms(int retry, int retry_after_ms);
extern void aig_r_check_access(const AigRoute *route);
extern void aig_r_account_begin(CallAccount *acc, const AigRoute *route,
								const AigCallOptions *co, const AigOrderContext *ctx,
								int64 out_est, char *prompt_json);
extern void aig_r_account_end(CallAccount *acc, const AigCallInfo *info, bool ok,
							  const char *error, bool canceled, const char *output);
extern void aig_r_finish_info(AigCallInfo *info, AigRoute *route, AigTarget *t, int attempts,
							  instr_time start, int64 in_tok, int64 out_tok);
extern char *aig_r_messages_json(const AigChatRequest *req);
extern bool aig_r_serve_cached(AigRoute *route, const AigCacheKey *key, const AigCallOptions *co,
							   const AigChatRequest *req, AigChatResult *result,
							   AigCallInfo *info);
/* The next target to attempt: an untried one, else the one ready soonest; -1 when none. */
extern int	aig_r_next_target(TargetRun *run, int n);

#endif							/* AIG_ROUTER_INTERNAL_H */
