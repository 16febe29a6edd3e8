/*
 * explain.c — looking at routing from SQL: ai_gateway.explain_route(route,
 * options), the order a call would try a route's targets and why;
 * ai_gateway.health(), the shared health of every target; and the
 * benchmark helpers bench_routing() and bench_governance(), which time a
 * routing decision and a call's accounting without sending anything.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "core/preload.h"
#include "core/catalog.h"
#include "base/compat.h"
#include "core/jsonb_util.h"
#include "governance/standby.h"
#include "routing/pipeline.h"
#include "routing/router.h"
#include "routing/router_internal.h"
#include "routing/strategy.h"
#include "routing/target_state.h"

static Datum
float_or_null(double v, bool *isnull)
{
	*isnull = v < 0;
	return Float8GetDatum(v);
}

PG_FUNCTION_INFO_V1(aig_explain_route);
Datum
aig_explain_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	Jsonb	   *opts;
	AigRoute   *route;
	AigOrderContext ctx;
	AigCandidate *cands;
	int64		v;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("route must not be NULL")));
	aig_require_preload();
	aig_catalog_ensure();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	opts = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	route = aig_catalog_route(name);
	if (route != NULL)
		aig_pipeline_pinned_policy(route);	/* as a call would see it */
	if (route == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route \"%s\" does not exist", name)));

	/* the parts of a call's options that move targets around */
	memset(&ctx, 0, sizeof(ctx));
	ctx.explain = true;
	ctx.max_tokens = -1;
	if (opts && aig_jsonb_get_int(opts, "max_tokens", "option", 1, INT_MAX, &v))
		ctx.max_tokens = (int) v;
	if (opts && aig_jsonb_get_int(opts, "input_tokens", "option", 0, PG_INT32_MAX, &v))
		ctx.est_input_tokens = v;
	if (opts)
		ctx.sticky = aig_jsonb_get_string(opts, "user", "option");
	if (opts && route->sticky_key)
	{
		JsonbValue *m = aig_jsonb_get(opts, "metadata");

		if (m && m->type == jbvBinary)
		{
			char	   *sv = aig_jsonb_get_string(JsonbValueToJsonb(m), route->sticky_key, "metadata");

			if (sv)
				ctx.sticky = sv;
		}
	}

	cands = palloc(sizeof(AigCandidate) * Max(route->ntargets, 1));
	(void) aig_order_targets(route, &ctx, cands);
	for (int i = 0; i < route->ntargets; i++)
	{
		AigCandidate *c = &cands[i];
		AigTarget  *t = c->target;
		AigTargetSnapshot snap;
		Datum		values[12];
		bool		nulls[12] = {0};
		char	   *reason = c->reason ? c->reason : "";

		aig_target_snapshot(t->state, now, &snap);
		if (c->eligible && snap.state == AIG_BREAKER_OPEN)
			reason = psprintf("%s; circuit breaker open until %s: skipped", reason,
							  timestamptz_to_str(snap.open_until));
		else if (c->eligible && snap.state == AIG_BREAKER_HALF_OPEN)
			reason = psprintf("%s; circuit breaker half-open: next call probes", reason);
		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(t->provider->name);
		values[2] = CStringGetTextDatum(t->model);
		values[3] = Int32GetDatum(t->priority);
		values[4] = Int32GetDatum(t->weight);
		values[5] = BoolGetDatum(c->eligible);
		values[6] = CStringGetTextDatum(aig_breaker_state_name(snap.state));
		values[7] = float_or_null(snap.latency_ms, &nulls[7]);
		values[8] = float_or_null(t->price && t->price->has_input_price ?
								  t->price->input_usd_per_mtok : -1, &nulls[8]);
		values[9] = float_or_null(t->price && t->price->has_output_price ?
								  t->price->output_usd_per_mtok : -1, &nulls[9]);
		values[10] = float_or_null(c->est_cost_usd, &nulls[10]);
		values[11] = CStringGetTextDatum(reason);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(aig_health);
Datum
aig_health(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigTargetSnapshot *snaps;
	int			n;
	AigProvider **providers;
	int			nprov;
	bool		admin;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	admin = aig_is_admin();
	n = aig_target_snapshot_all(&snaps);
	for (int i = 0; i < n; i++)
	{
		AigTargetSnapshot *s = &snaps[i];
		Datum		values[14];
		bool		nulls[14] = {0};

		values[0] = CStringGetTextDatum(s->provider);
		values[1] = CStringGetTextDatum(s->model);
		values[2] = CStringGetTextDatum(aig_breaker_state_name(s->state));
		values[3] = Int32GetDatum(s->consecutive_failures);
		values[4] = Int64GetDatum(s->window_requests);
		values[5] = Int64GetDatum(s->window_errors);
		values[6] = float_or_null(s->window_requests > 0 ?
								  (double) s->window_errors / s->window_requests : -1,
								  &nulls[6]);
		values[7] = float_or_null(s->latency_ms, &nulls[7]);
		values[8] = Int64GetDatum(s->requests);
		values[9] = Int64GetDatum(s->errors);
		values[10] = Int64GetDatum(s->times_opened);
		values[11] = TimestampTzGetDatum(s->open_until);
		nulls[11] = s->state == AIG_BREAKER_CLOSED;
		/* another role's prompt may be echoed in a provider's error text */
		values[12] = CStringGetTextDatum(admin ? s->last_error :
										 aig_target_error_summary(s->last_error));
		nulls[12] = s->last_error[0] == '\0';
		values[13] = TimestampTzGetDatum(s->last_error_at);
		nulls[13] = s->last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/* every provider has a row: those not called yet (or disabled) too */
	aig_catalog_ensure();
	nprov = aig_catalog_providers(&providers);
	for (int p = 0; p < nprov; p++)
	{
		Datum		values[14] = {0};
		bool		nulls[14];
		bool		seen = false;

		for (int i = 0; i < n && !seen; i++)
			seen = strcmp(snaps[i].provider, providers[p]->name) == 0;
		if (seen && providers[p]->enabled)
			continue;
		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum(providers[p]->name);
		nulls[0] = false;
		values[2] = CStringGetTextDatum(providers[p]->enabled ? "closed" : "disabled");
		nulls[2] = false;
		for (int c = 3; c <= 5; c++)
		{
			values[c] = c == 3 ? Int32GetDatum(0) : Int64GetDatum(0);
			nulls[c] = false;
		}
		for (int c = 8; c <= 10; c++)
		{
			values[c] = Int64GetDatum(0);
			nulls[c] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ai_gateway.bench_routing(model text, iterations int) RETURNS float8 */
PG_FUNCTION_INFO_V1(aig_bench_routing);
Datum
aig_bench_routing(PG_FUNCTION_ARGS)
{
	int			iterations = PG_GETARG_INT32(1);

	if (iterations < 1 || iterations > 100000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and 100000000")));
	aig_require_preload();
	aig_catalog_ensure();
	PG_RETURN_FLOAT8(aig_route_decision_ns(text_to_cstring(PG_GETARG_TEXT_PP(0)), iterations));
}

/* ai_gateway.bench_governance(model text, iterations int) RETURNS float8 */
PG_FUNCTION_INFO_V1(aig_bench_governance);
Datum
aig_bench_governance(PG_FUNCTION_ARGS)
{
	int			iterations = PG_GETARG_INT32(1);

	if (iterations < 1 || iterations > 10000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and 10000000")));
	aig_require_preload();
	aig_catalog_ensure();
	PG_RETURN_FLOAT8(aig_governance_ns(text_to_cstring(PG_GETARG_TEXT_PP(0)), iterations));
}

/*
 * Benchmark helper (ai_gateway.bench_routing): the average cost, in
 * nanoseconds, of one routing decision for `model` as a call makes it —
 * resolving the model string, ordering the targets, asking the first
 * target's breaker and recording a success on it — without the HTTP
 * exchange.  Runs in a scratch memory context reset every iteration.
 */
double
aig_route_decision_ns(const char *model, int iterations)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "ai_gateway bench_routing",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	AigCallOptions co;
	instr_time	start,
				elapsed;

	memset(&co, 0, sizeof(co));
	co.gen.max_tokens = -1;
	co.timeout_ms = co.max_retries = co.connect_timeout_ms = co.dimensions = -1;
	INSTR_TIME_SET_CURRENT(start);
	for (int i = 0; i < iterations; i++)
	{
		AigRoute   *route = aig_pipeline_resolve(model);
		AigOrderContext ctx;
		AigCandidate *cands = palloc(sizeof(AigCandidate) * Max(route->ntargets, 1));
		int			n;
		bool		probe;

		aig_r_order_context(route, &co, 64, &ctx);
		n = aig_order_targets(route, &ctx, cands);
		if (n > 0 && aig_breaker_allow(cands[0].target->state, GetCurrentTimestamp(), &probe))
			aig_breaker_record(cands[0].target->state, &route->breaker, GetCurrentTimestamp(),
							   true, false, 1.0, -1, NULL);
		MemoryContextReset(scratch);
		CHECK_FOR_INTERRUPTS();
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	return INSTR_TIME_GET_DOUBLE(elapsed) * 1e9 / Max(iterations, 1);
}

/*
 * Benchmark helper (ai_gateway.bench_governance): ns per call of what
 * governance adds to a call on `route` — access check, rate limits, quota
 * reservation and settlement, audit enqueue — with no request sent.  Each
 * iteration queues one audit record (status "bench").  On a hot standby
 * it is refused or allowed as calls are (ai_gateway.standby_calls).
 */
double
aig_governance_ns(const char *model, int iterations)
{
	AigRoute   *route;
	AigCallOptions co;
	AigOrderContext ctx;
	AigCallInfo info;
	instr_time	start,
				elapsed;

	/* it charges quotas and audits like calls: refused on a standby as they are */
	aig_standby_check_call();
	route = aig_pipeline_resolve(model);

	memset(&co, 0, sizeof(co));
	co.gen.max_tokens = -1;
	co.timeout_ms = co.max_retries = co.connect_timeout_ms = co.dimensions = -1;
	aig_r_order_context(route, &co, 64, &ctx);
	memset(&info, 0, sizeof(info));
	info.route = route;
	info.target = &route->targets[0];
	info.attempts = 1;
	info.http_status = 200;
	info.input_tokens = 16;
	info.output_tokens = 8;
	INSTR_TIME_SET_CURRENT(start);
	for (int i = 0; i < iterations; i++)
	{
		CallAccount acc;

		aig_r_account_begin(&acc, route, &co, &ctx, AIG_EST_OUTPUT_TOKENS, NULL);
		aig_r_account_end(&acc, &info, true, NULL, false, NULL);
		CHECK_FOR_INTERRUPTS();
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	return INSTR_TIME_GET_DOUBLE(elapsed) * 1e9 / Max(iterations, 1);
}
