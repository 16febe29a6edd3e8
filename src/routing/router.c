/*
 * router.c — from a model string to an answer.
 *
 * Resolves the model string (route name, "route@N", provider/model, default
 * route), orders the route's targets (strategy.c) and runs attempts
 * (attempt.c) until one succeeds:
 *
 *  - every eligible target is tried once first, in order: when another
 *    target can take the call, the router fails over at once instead of
 *    sleeping;
 *  - then targets whose failure was retryable are retried, each up to
 *    max_retries times (call option, else route, else provider option, else
 *    ai_gateway.max_retries), the one ready soonest first, after an
 *    exponential backoff with jitter (ai_gateway.retry_base_ms doubling up
 *    to retry_max_ms) or exactly the provider's Retry-After / retry-after-ms
 *    / Gemini RetryInfo; 400, 401, 403, 404 and 422 are never retried;
 *  - attempts per call never exceed max_retries + the number of targets, so
 *    retries cannot multiply into a storm;
 *  - all of it, waits included, stays inside the call's timeout_ms (call
 *    option, else route option, else ai_gateway.timeout_ms; a provider's
 *    timeout_ms bounds each attempt to it), and waits end on cancel;
 *  - a target whose shared circuit breaker is open is skipped; each outcome
 *    feeds the breaker and the target's latency figure (target_state.c).
 *
 * When no attempt succeeds, the last failure is raised with its SQLSTATE and
 * errdetail lists every attempt and every target set aside.  Messages name
 * the route, provider and model and never the key.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/errcodes.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "base/errcodes.h"
#include "routing/attempt.h"
#include "core/catalog.h"
#include "base/compat.h"
#include "transport/http.h"
#include "core/jsonb_util.h"
#include "routing/router.h"
#include "routing/router_internal.h"
#include "routing/strategy.h"
#include "routing/target_state.h"
#include "governance/audit.h"
#include "governance/quota.h"
#include "governance/shadow_queue.h"
#include "governance/stats.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"


/* A one-target route for "provider/model", built in CurrentMemoryContext. */
AigRoute *
aig_direct_route(AigProvider *p, const char *model)
{
	AigRoute   *route = palloc0(sizeof(AigRoute));

	route->name = NULL;
	route->strategy = AIG_STRATEGY_FALLBACK;
	route->timeout_ms = -1;
	route->max_retries = -1;
	route->explore_ratio = -1;
	route->cache_ttl_s = -1;
	route->cache_scope = -1;
	route->breaker = aig_breaker_defaults;
	route->ntargets = route->target_cap = 1;
	route->targets = palloc0(sizeof(AigTarget));
	route->targets[0].provider = p;
	route->targets[0].model = pstrdup(model);
	route->targets[0].weight = 1;
	route->targets[0].state = aig_catalog_target_state(p->name, model);
	route->targets[0].price = aig_catalog_price(p->name, model);
	route->targets[0].stats = aig_catalog_direct_stats(p->name, model);
	return route;
}

AigRoute *
aig_resolve_model(const char *model)
{
	AigRoute   *route;
	const char *slash;

	if (model == NULL || model[0] == '\0')
	{
		if (aig_default_route == NULL || aig_default_route[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no model given and ai_gateway.default_route is not set"),
					 errhint("Pass a route name or \"provider/model\", or SET ai_gateway.default_route.")));
		model = aig_default_route;
	}

	route = aig_catalog_route(model);
	if (route != NULL)
	{
		if (route->ntargets == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route \"%s\" has no targets", model),
					 errhint("Add rows for it to ai_gateway.route_targets.")));
		return route;
	}

	slash = strchr(model, '/');
	if (slash != NULL && slash != model && slash[1] != '\0')
	{
		char	   *pname = pnstrdup(model, slash - model);
		AigProvider *p = aig_catalog_provider(pname);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("provider \"%s\" does not exist", pname),
					 errhint("Model strings are a route name or \"provider/model\" with a provider from ai_gateway.providers.")));
		/*
		 * A caller who may not call the provider is refused before the
		 * route is built: building it takes shared state (a breaker, a
		 * statistics entry) for the model string, which a refused call
		 * must never take.
		 */
		aig_r_check_provider_access(p);
		/* built once per catalog load, then found by the model string */
		route = aig_catalog_direct_route(model);
		if (route == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(aig_catalog_memory());

			route = aig_direct_route(p, slash + 1);
			aig_catalog_remember_direct_route(model, route);
			MemoryContextSwitchTo(old);
		}
		return route;
	}

	/* "openai/" or "/gpt-4o": a provider/model string with a part missing */
	if (slash != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" has no %s", model,
						slash == model ? "provider before the \"/\"" : "model after the \"/\""),
				 errhint("Address a provider directly as \"provider/model\", e.g. \"openai/gpt-4o-mini\", or pass a route name.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("route \"%s\" does not exist", model),
			 errhint("Create it in ai_gateway.routes, or address a provider directly as \"provider/model\".")));
	return NULL;				/* keep compiler quiet */
}

int
aig_r_effective_max_retries(const AigRoute *route, const AigProvider *p, const AigCallOptions *co)
{
	if (co->max_retries >= 0)
		return co->max_retries;
	if (route->max_retries >= 0)
		return route->max_retries;
	if (p->max_retries >= 0)
		return p->max_retries;
	return aig_max_retries;
}

int
aig_r_call_timeout_ms(const AigRoute *route, const AigCallOptions *co)
{
	if (co->timeout_ms > 0)
		return co->timeout_ms;
	if (route->timeout_ms > 0)
		return route->timeout_ms;
	return aig_timeout_ms;
}

/* Limits of one attempt: the call's remaining time, the provider's own cap. */
AigHttpLimits
aig_r_attempt_limits(const AigProvider *p, const AigCallOptions *co, long remaining_ms)
{
	AigHttpLimits lim;

	lim.timeout_ms = (int) Max(remaining_ms, 1);
	if (co->timeout_ms <= 0 && p->timeout_ms > 0)
		lim.timeout_ms = Min(lim.timeout_ms, p->timeout_ms);
	lim.connect_timeout_ms = co->connect_timeout_ms > 0 ? co->connect_timeout_ms :
		p->connect_timeout_ms > 0 ? p->connect_timeout_ms : aig_connect_timeout_ms;
	lim.connect_timeout_ms = Min(lim.connect_timeout_ms, lim.timeout_ms);
	lim.max_bytes = (size_t) aig_max_response_bytes;
	lim.ca_file = p->ca_file;
	return lim;
}

/* Backoff before retry number `retry` (1-based): exponential, half jitter. */
long
aig_r_backoff_ms(int retry, int retry_after_ms)
{
	double		d;

	if (retry_after_ms >= 0)
		return retry_after_ms;	/* the provider said when */
	d = (double) aig_retry_base_ms * (double) (1 << Min(retry - 1, 20));
	d = Min(d, (double) aig_retry_max_ms);
	return (long) (d * (0.5 + 0.5 * aig_random_double()));
}

/* Sleep, ending early on cancel or termination (raised after). */
static void
wait_ms(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, aig_provider_wait_event());
		ResetLatch(MyLatch);
	}
}

static const char *
hint_for(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
			return "Check the provider's api_key in ai_gateway.providers (or options.api_key_env).";
		case AIG_ERRCODE_PROVIDER_UNREACHABLE:
			return "Check the provider's base_url and that the database server can reach it.";
		case AIG_ERRCODE_PROVIDER_TIMEOUT:
			return "The provider did not answer in time; options.timeout_ms or ai_gateway.timeout_ms set the limit.";
		case AIG_ERRCODE_PROVIDER_CONNECTION_LOST:
			return "The connection to the provider broke during the exchange; the call may succeed if retried.";
		case ERRCODE_UNDEFINED_OBJECT:
			return "Check the model name of this target; the provider does not know it.";
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
			return "Shorten the request, or raise ai_gateway.max_response_bytes if such responses are expected.";
		case ERRCODE_INSUFFICIENT_RESOURCES:
			return "The provider is rate limiting or out of capacity; retry later or add a fallback target.";
		case AIG_ERRCODE_PROVIDER_BAD_ANSWER:
			return "The provider's answer was not in the format its API documents.";
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
			return "Enable the provider (ai_gateway.providers.enabled) or route to another one.";
		case AIG_ERRCODE_MODEL_REFUSED:
			return "The provider refused this request or its safety system blocked it; rephrase the request. It was not retried nor sent to another target, and does not count against the target's health.";
		case AIG_ERRCODE_MODEL_NO_TEXT:
			return "Raise max_tokens (the model may spend its budget on reasoning before any text). The call was not retried.";
		case AIG_ERRCODE_PROVIDER_UNAVAILABLE:
			return "The target failed repeatedly; it is tried again after ai_gateway.breaker_cooldown_ms. See ai_gateway.health().";
		default:
			return NULL;
	}
}

static char *
target_label(const AigRoute *route, const AigTarget *t)
{
	if (route->name)
		return psprintf("route \"%s\", provider \"%s\", model \"%s\"",
						route->name, t->provider->name, t->model);
	return psprintf("provider \"%s\", model \"%s\"", t->provider->name, t->model);
}

/* Error texts are built on first use: a call that succeeds at once has none. */
static void
lazy_init(StringInfo buf)
{
	if (buf->data == NULL)
		initStringInfo(buf);
}

static void
note(StringInfo detail, int *n, const AigTarget *t, const char *what)
{
	lazy_init(detail);
	(*n)++;
	appendStringInfo(detail, "%s%d) %s/%s: %s", *n > 1 ? "; " : "", *n,
					 t->provider->name, t->model, what ? what : "");
}

static void
note_skip(StringInfo skipped, int *n, const AigTarget *t, const char *why)
{
	lazy_init(skipped);
	(*n)++;
	appendStringInfo(skipped, "%s%s/%s (%s)", *n > 1 ? ", " : "",
					 t->provider->name, t->model, why ? why : "");
}

/* Nothing eligible: say why, with the SQLSTATE of the most telling reason. */
static void
raise_no_target(const AigRoute *route, AigCandidate *cands)
{
	StringInfoData detail;
	int			n = 0;
	int			code = ERRCODE_INVALID_PARAMETER_VALUE;
	const char *msg = "has no target this call can use";

	initStringInfo(&detail);
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = cands[i].target;

		note(&detail, &n, t, cands[i].reason);
		if (t->shadow)
			continue;
		if (!t->provider->enabled)
			code = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
		else if (t->role)
			code = ERRCODE_INSUFFICIENT_PRIVILEGE;
		else
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	}
	if (n > 0 && route->ntargets == n)
	{
		bool		all_shadow = true;

		for (int i = 0; i < route->ntargets; i++)
			all_shadow &= route->targets[i].shadow;
		if (all_shadow)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route \"%s\" has only shadow targets", route->name),
					 errhint("Give the route at least one target with shadow = false.")));
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("route \"%s\" %s", route->name ? route->name : "(direct)", msg),
			 errdetail("%s", detail.data),
			 code == ERRCODE_INSUFFICIENT_PRIVILEGE ?
			 errhint("Its targets are limited to roles the current user is not a member of.") :
			 hint_for(code) ? errhint("%s", hint_for(code)) : 0));
}

void
aig_r_finish_info(AigCallInfo *info, AigRoute *route, AigTarget *t, int attempts,
			instr_time start, int64 in_tok, int64 out_tok)
{
	instr_time	d;
	const AigModelPrice *price = t->price;

	INSTR_TIME_SET_CURRENT(d);
	INSTR_TIME_SUBTRACT(d, start);
	info->route = route;
	info->target = t;
	info->attempts = attempts;
	info->latency_ms = INSTR_TIME_GET_MILLISEC(d);
	info->has_cost = false;
	if (price && price->has_input_price && in_tok >= 0 &&
		(out_tok == 0 || (price->has_output_price && out_tok > 0)))
	{
		info->has_cost = true;
		info->cost_usd = in_tok * price->input_usd_per_mtok / 1e6 +
			(out_tok > 0 ? out_tok * price->output_usd_per_mtok / 1e6 : 0);
		/* never a NaN or infinite cost into quotas, JSON or the audit log */
		info->has_cost = isfinite(info->cost_usd);
	}
}

/* The next target to attempt, or -1. */
int
aig_r_next_target(TargetRun *run, int n)
{
	int			best = -1;

	for (int i = 0; i < n; i++)
		if (!run[i].done && run[i].tries == 0)
			return i;			/* an untried target: fail over at once */
	for (int i = 0; i < n; i++)
		if (!run[i].done && (best < 0 || run[i].ready_at < run[best].ready_at))
			best = i;
	return best;
}

/*
 * Run attempts over the call's ordered candidates until one succeeds; raise
 * the last failure otherwise.  Returns the target that answered.
 */
static AigTarget *
run_route(AigRoute *route, AigCandidate *cands, int n, const AigOrderContext *ctx,
		  const AigCallOptions *co, AigAttemptFn fn, void *arg, AigCallInfo *info)
{
	TargetRun  *run;
	AigAttemptError err = {0};
	AigTarget  *last = NULL;
	StringInfoData detail = {0};	/* the attempts, numbered */
	StringInfoData skipped = {0};	/* targets not (or no more) attempted */
	int			noted = 0;
	int			nskipped = 0;
	int			attempts = 0;
	int			budget;
	int			route_retries = 0;
	TimestampTz deadline;

	if (route->hook_problem)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("route \"%s\": %s", route->name, route->hook_problem),
				 errhint("Create the function again or change the route's options.")));
	if (n == 0)
		raise_no_target(route, cands);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), aig_r_call_timeout_ms(route, co));
	run = palloc0(sizeof(TargetRun) * n);
	for (int i = 0; i < n; i++)
	{
		run[i].cand = &cands[i];
		run[i].max_retries = aig_r_effective_max_retries(route, cands[i].target->provider, co);
		route_retries = Max(route_retries, run[i].max_retries);
	}
	budget = route_retries + n;

	while (attempts < budget)
	{
		int			i = aig_r_next_target(run, n);
		TargetRun  *r;
		AigTarget  *t;
		TimestampTz now;
		long		remaining;
		bool		probe;
		AigHttpLimits lim;
		instr_time	t0,
					t1;
		bool		ok;

		if (i < 0)
			break;
		r = &run[i];
		t = r->cand->target;
		now = GetCurrentTimestamp();
		if (r->ready_at > now)
		{
			long		delay = TimestampDifferenceMilliseconds(now, r->ready_at);

			if (TimestampTzPlusMilliseconds(now, delay) >= deadline)
			{
				note_skip(&skipped, &nskipped, t,
					 psprintf("not retried: waiting %ld ms would pass the call's timeout", delay));
				r->done = true;
				continue;
			}
			wait_ms(delay);
			now = GetCurrentTimestamp();
		}
		remaining = TimestampDifferenceMilliseconds(now, deadline);
		if (remaining <= 0)
		{
			if (last == NULL)
			{
				err.sqlerrcode = AIG_ERRCODE_PROVIDER_TIMEOUT;
				err.message = psprintf("no attempt within the call's timeout of %d ms",
									   aig_r_call_timeout_ms(route, co));
				last = t;
			}
			break;
		}
		{
			char	   *why = NULL;

			/* the provider's own rate limit: fail over rather than wait long */
			if (!aig_provider_rate_take(t->provider, ctx->est_input_tokens +
										Max(ctx->max_tokens, 0), &why))
			{
				note_skip(&skipped, &nskipped, t, why);
				r->done = true;
				if (last == NULL || err.sqlerrcode == 0)
				{
					err.sqlerrcode = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
					err.message = why;
					last = t;
					info->target = t;
				}
				continue;
			}
		}
		if (!aig_breaker_allow(t->state, now, &probe))
		{
			note_skip(&skipped, &nskipped, t, "circuit breaker open");
			r->done = true;
			if (last == NULL || err.sqlerrcode == 0)
			{
				err.sqlerrcode = AIG_ERRCODE_PROVIDER_UNAVAILABLE;
				err.message = aig_breaker_open_message(t->state);
				last = t;
				info->target = t;
			}
			continue;
		}

		attempts++;
		r->tries++;
		info->attempts = attempts;
		info->target = t;
		lim = aig_r_attempt_limits(t->provider, co, remaining);
		INSTR_TIME_SET_CURRENT(t0);
		memset(&err, 0, sizeof(err));
		err.retry_after_ms = -1;
		ok = fn(t, &lim, arg, &err);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_SUBTRACT(t1, t0);
		aig_breaker_record(t->state, &route->breaker, GetCurrentTimestamp(), ok,
						   !ok && err.health_failure, INSTR_TIME_GET_MILLISEC(t1),
						   ok ? -1 : err.retry_after_ms, ok ? NULL : err.message);
		info->http_status = ok ? 200 : err.http_status;
		if (ok)
			return t;
		last = t;
		note(&detail, &noted, t, err.message);
		if (err.final)
			break;				/* a refusal: the call ends with it */
		if (!err.retryable || r->tries > r->max_retries)
			r->done = true;
		else
			r->ready_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													  aig_r_backoff_ms(r->tries, err.retry_after_ms));
	}

	lazy_init(&detail);
	lazy_init(&skipped);
	/* targets set aside before any attempt belong in the story too */
	for (int i = n; i < route->ntargets; i++)
		if (!cands[i].target->shadow)
			note_skip(&skipped, &nskipped, cands[i].target, cands[i].reason);
	if (nskipped > 0)
	{
		appendStringInfo(&detail, "%snot tried: %s", noted > 0 ? "; " : "", skipped.data);
		if (attempts == 0)
		{
			resetStringInfo(&skipped);
			appendStringInfoString(&skipped, detail.data);
		}
	}

	{
		const char *hint = hint_for(err.sqlerrcode);

		ereport(ERROR,
				(errcode(err.sqlerrcode ? err.sqlerrcode : AIG_ERRCODE_PROVIDER_UNAVAILABLE),
				 errmsg("%s: %s", target_label(route, last), err.message),
				 attempts == 0 && nskipped > 0 ? errdetail("%s", skipped.data + 0) : 0,
				 (attempts > 1 || (attempts > 0 && nskipped > 0)) ?
				 errdetail("%d attempt%s: %s", attempts, attempts == 1 ? "" : "s", detail.data) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	return NULL;				/* keep compiler quiet */
}

/* Estimate the input of a chat request, and find its sticky key. */
void
aig_r_order_context(const AigRoute *route, const AigCallOptions *co, int64 input_bytes,
			  AigOrderContext *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->est_input_tokens = AIG_EST_TOKENS(input_bytes);
	ctx->max_tokens = co->gen.max_tokens;
	ctx->sticky = co->user;
	if (route->sticky_key && co->metadata)
	{
		char	   *v = aig_jsonb_get_string(co->metadata, route->sticky_key, "metadata");

		if (v)
			ctx->sticky = v;
	}
}

/* Target order stage: the call's candidates; none eligible raises when asked. */
int
aig_route_order(AigRoute *route, const AigOrderContext *ctx, AigCandidate **cands,
				bool raise_when_none)
{
	int			n;

	*cands = palloc(sizeof(AigCandidate) * Max(route->ntargets, 1));
	n = aig_order_targets(route, ctx, *cands);
	if (n == 0 && raise_when_none)
		raise_no_target(route, *cands);
	return n;
}

/* Attempts stage of one chat call: fills result and info, raises the last failure. */
void
aig_route_attempts_chat(AigChatCall *c)
{
	AigChatAttempt a;
	AigTarget  *t;

	a.req = c->req;
	a.result = &c->result;
	t = run_route(c->route, c->cands, c->ncand, &c->ctx, c->co, aig_attempt_chat, &a,
				  &c->info);
	aig_r_finish_info(&c->info, c->route, t, c->info.attempts, c->start,
					  c->result.input_tokens, c->result.output_tokens);
	c->info.input_tokens = c->result.input_tokens;
	c->info.output_tokens = c->result.output_tokens;
}

/* Attempts stage of an embeddings call. */
void
aig_route_attempts_embed(AigRoute *route, AigCandidate *cands, int ncand,
						 const AigOrderContext *ctx, AigEmbedRequest *req,
						 const AigCallOptions *co, AigEmbedResult *result, AigCallInfo *info)
{
	AigEmbedAttempt a;
	AigTarget  *t;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	a.req = req;
	a.result = result;
	a.requests = 0;
	t = run_route(route, cands, ncand, ctx, co, aig_attempt_embed, &a, info);
	aig_r_finish_info(info, route, t, info->attempts, start, result->input_tokens, 0);
	info->input_tokens = result->input_tokens;
	info->output_tokens = 0;
}
