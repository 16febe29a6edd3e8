/*
 * account.c — what every call owes before and after it runs: the route or
 * provider grant check, the quota and rate-limit charge (reserved before,
 * settled after), the audit record, the statistics and the per-call log
 * line.  The pipeline's grant, quota, settle and audit stages (pipeline.c)
 * are made of these pieces.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/jsonb.h"

#include "governance/audit.h"
#include "governance/identity.h"
#include "core/catalog.h"
#include "governance/quota.h"
#include "routing/router_internal.h"
#include "governance/stats.h"

/* 42501 unless the caller holds a grant on the route (or the provider). */
void
aig_r_check_access(const AigRoute *route)
{
	if (route->name)
	{
		if (!aig_catalog_route_allowed(route))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for route \"%s\"", route->name),
					 errhint("An administrator can run SELECT ai_gateway.grant_route('%s', '<role>').",
							 route->name)));
	}
	else
		aig_r_check_provider_access(route->targets[0].provider);
}

/* 42501 unless the caller may call provider p directly ("provider/model"). */
void
aig_r_check_provider_access(const AigProvider *p)
{
	if (!aig_catalog_provider_allowed(p))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for provider \"%s\"", p->name),
				 errhint("Call a route granted to you, or ask an administrator for SELECT ai_gateway.grant_provider('%s', '<role>').",
						 p->name)));
}

/* The costliest estimate among the route's priced targets (for quotas). */
static double
estimate_cost(const AigRoute *route, int64 in_tok, int64 out_tok)
{
	double		worst = 0;

	for (int i = 0; i < route->ntargets; i++)
	{
		const AigModelPrice *p = route->targets[i].price;

		if (p && p->has_input_price)
			worst = Max(worst, in_tok * p->input_usd_per_mtok / 1e6 +
						(p->has_output_price ? out_tok * p->output_usd_per_mtok / 1e6 : 0));
	}
	return worst;
}


/* What every accounted call starts with (no access or quota check). */
void
aig_r_account_init(CallAccount *acc, const AigRoute *route, const AigCallOptions *co,
			 char *prompt_json)
{
	aig_audit_prepare();
	memset(acc, 0, sizeof(*acc));
	INSTR_TIME_SET_CURRENT(acc->start);
	/* the caller now: a hook's error may unwind to us under another user id */
	acc->roleid = GetUserId();
	acc->session_roleid = aig_session_role();
	acc->metadata = co->metadata ?
		JsonbToCString(NULL, &co->metadata->root, VARSIZE(co->metadata)) : NULL;
	acc->prompt = aig_log_prompts ? prompt_json : NULL;
	acc->route_label = route->name == NULL ? NULL :
		route->version > 0 ? psprintf("%s@%d", route->name, route->version) : route->name;
}

void
aig_r_account_begin(CallAccount *acc, const AigRoute *route, const AigCallOptions *co,
			  const AigOrderContext *ctx, int64 out_est, char *prompt_json)
{
	aig_r_check_access(route);
	aig_r_account_init(acc, route, co, prompt_json);
	aig_r_account_reserve(acc, route, ctx, out_est);
}

/* Reserve the estimate against the caller's rate limits and quotas (53400 / 54000 when over). */
void
aig_r_account_reserve(CallAccount *acc, const AigRoute *route, const AigOrderContext *ctx,
					  int64 out_est)
{
	acc->est_tokens = ctx->est_input_tokens + out_est;
	aig_quota_check(&acc->ticket, acc->est_tokens,
					estimate_cost(route, ctx->est_input_tokens, out_est));
}

/* Settle quotas and queue the audit record.  Safe in PG_CATCH (never raises). */
void
aig_r_account_end(CallAccount *acc, const AigCallInfo *info, bool ok, const char *error,
				  bool canceled, const char *output)
{
	aig_r_account_settle(acc, info, ok);
	aig_r_account_audit(acc, info, ok, ok ? "ok" : canceled ? "canceled" : "error", error,
						output);
}

/* Replace the reservation by what the call used.  Never raises. */
void
aig_r_account_settle(CallAccount *acc, const AigCallInfo *info, bool ok)
{
	int64		tokens = 0;

	if (ok || info->billed)
	{
		tokens = (info->input_tokens >= 0 ? info->input_tokens : acc->est_tokens) +
			Max(info->output_tokens, 0);
	}
	aig_quota_settle(&acc->ticket, tokens,
					 (ok || info->billed) && info->has_cost ? info->cost_usd : 0);
}

/* The audit record, the statistics and the log line of a call.  Never raises. */
void
aig_r_account_audit(CallAccount *acc, const AigCallInfo *info, bool target_ok,
					const char *status, const char *error, const char *output)
{
	AigAuditRecord rec;
	instr_time	d;

	INSTR_TIME_SET_CURRENT(d);
	INSTR_TIME_SUBTRACT(d, acc->start);
	memset(&rec, 0, sizeof(rec));
	rec.roleid = acc->roleid;
	rec.session_roleid = acc->session_roleid;
	rec.shadow = acc->shadow;
	rec.route = acc->route_label;
	rec.provider = info->target ? info->target->provider->name : NULL;
	rec.model = info->target ? info->target->model : NULL;
	rec.status = status;
	rec.sqlerrcode = strcmp(status, "ok") == 0 ? 0 : info->sqlerrcode;
	rec.http_status = (int) info->http_status;
	rec.attempts = info->attempts;
	rec.latency_ms = INSTR_TIME_GET_MILLISEC(d);
	rec.input_tokens = target_ok || info->billed ? info->input_tokens : -1;
	rec.output_tokens = target_ok || info->billed ? info->output_tokens : -1;
	rec.has_cost = (target_ok || info->billed) && info->has_cost;
	rec.cost_usd = info->cost_usd;
	rec.cache_hit = info->cache_hit;
	rec.error = error;
	rec.metadata = acc->metadata;
	rec.prompt = acc->prompt;
	rec.output = aig_log_prompts ? output : NULL;
	aig_audit_enqueue(&rec, strcmp(status, "ok") == 0);

	if (info->target && !acc->shadow)
		aig_stats_record(info->target->stats, target_ok, target_ok ? 0 : info->sqlerrcode,
						 rec.latency_ms, rec.input_tokens, rec.output_tokens, rec.has_cost,
						 rec.cost_usd, info->cache_hit);
	if (aig_log_requests && !acc->shadow)
		ereport(LOG,
				(errmsg("ai_gateway call route=%s provider=%s model=%s status=%s http_status=%d attempts=%d latency_ms=%.1f input_tokens=" INT64_FORMAT " output_tokens=" INT64_FORMAT " cost_usd=%s cache_hit=%s",
						rec.route ? rec.route : "-", rec.provider ? rec.provider : "-",
						rec.model ? rec.model : "-", rec.status, rec.http_status, rec.attempts,
						rec.latency_ms, rec.input_tokens, rec.output_tokens,
						rec.has_cost ? psprintf("%.10g", rec.cost_usd) : "-",
						rec.cache_hit ? "true" : "false"),
				 errhidestmt(true)));
}

/*
 * A call refused before it was charged or sent (grant, quota, rate limit,
 * deny pattern, request hook): its audit record, status "denied", with the
 * route (or, refused before its route was built, the "provider/model"
 * string as given),
 * SQLSTATE and message, no tokens, no cost, no statistics (a refusal
 * allocates no shared state).  caller: the current user when the call
 * began.  The record is one of the rate-limited kind (audit.c).  Never
 * raises.
 */
void
aig_r_account_refusal(const AigRoute *route, const char *model_string, Jsonb *metadata,
					  Oid caller, int sqlerrcode, const char *error)
{
	AigAuditRecord rec;
	const AigTarget *direct = route && route->name == NULL && route->ntargets > 0 ?
		&route->targets[0] : NULL;
	const char *slash = model_string ? strchr(model_string, '/') : NULL;

	memset(&rec, 0, sizeof(rec));
	rec.roleid = caller;
	rec.route = route == NULL || route->name == NULL ? NULL :
		route->version > 0 ? psprintf("%s@%d", route->name, route->version) : route->name;
	rec.provider = direct ? direct->provider->name : NULL;
	rec.model = direct ? direct->model : NULL;
	if (route == NULL && slash != NULL)
	{
		/* refused before its route was built: "provider/model" as given */
		rec.provider = pnstrdup(model_string, slash - model_string);
		rec.model = slash + 1;
	}
	rec.status = "denied";
	rec.refusal = true;
	rec.sqlerrcode = sqlerrcode;
	rec.input_tokens = rec.output_tokens = -1;
	rec.error = error;
	rec.metadata = metadata ? JsonbToCString(NULL, &metadata->root, VARSIZE(metadata)) : NULL;
	aig_audit_enqueue(&rec, false);
}
