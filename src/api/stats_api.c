/*
 * stats_api.c — the SQL functions over the call statistics that
 * governance/stats.c keeps: ai_gateway.stats_now() (the rows of the
 * ai_gateway.stats view, with percentiles read from the latency histogram,
 * interpolated linearly inside a bucket), ai_gateway.metrics() (Prometheus
 * text exposition) and ai_gateway.stats_reset().  They read copies
 * (aig_stats_snapshot), never the shared entries.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "base/compat.h"
#include "core/preload.h"
#include "governance/stats.h"
#include "routing/target_state.h"

/* Percentile from the histogram, interpolated inside its bucket. */
static double
percentile(const int64 *hist, int64 n, double p)
{
	double		want = p * n;
	int64		seen = 0;

	if (n == 0)
		return -1;
	for (int b = 0; b < AIG_STATS_BUCKETS; b++)
	{
		if (seen + hist[b] >= want && hist[b] > 0)
		{
			double		lo = b == 0 ? 0 : aig_stats_bounds[b - 1];
			double		hi = isinf(aig_stats_bounds[b]) ? lo * 2 : aig_stats_bounds[b];

			return lo + (hi - lo) * (want - seen) / hist[b];
		}
		seen += hist[b];
	}
	return aig_stats_bounds[AIG_STATS_BUCKETS - 2];
}

/* ai_gateway.stats_now(): the rows of the ai_gateway.stats view. */
PG_FUNCTION_INFO_V1(aig_stats_now);
Datum
aig_stats_now(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigStatsSnapshot *snaps;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	n = aig_stats_snapshot(&snaps);
	for (int i = 0; i < n; i++)
	{
		const AigStatsCounters *s = &snaps[i].c;
		Datum		values[14];
		bool		nulls[14] = {0};
		int64		errors = 0;
		StringInfoData byclass;

		initStringInfo(&byclass);
		appendStringInfoChar(&byclass, '{');
		for (int c = 0; c < AIG_STATS_NCLASSES; c++)
		{
			errors += s->errors[c];
			if (s->errors[c] > 0)
				appendStringInfo(&byclass, "%s\"%s\": " INT64_FORMAT,
								 byclass.len > 1 ? ", " : "", aig_stats_class_names[c], s->errors[c]);
		}
		appendStringInfoChar(&byclass, '}');
		values[0] = CStringGetTextDatum(snaps[i].route);
		nulls[0] = snaps[i].route[0] == '\0';
		values[1] = CStringGetTextDatum(snaps[i].provider);
		values[2] = CStringGetTextDatum(snaps[i].model);
		values[3] = Int64GetDatum(s->requests);
		values[4] = Int64GetDatum(errors);
		values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(byclass.data));
		values[6] = Float8GetDatum(s->requests ? s->latency_sum_ms / s->requests : 0);
		nulls[6] = s->requests == 0;
		values[7] = Float8GetDatum(percentile(s->hist, s->requests, 0.50));
		values[8] = Float8GetDatum(percentile(s->hist, s->requests, 0.95));
		values[9] = Float8GetDatum(percentile(s->hist, s->requests, 0.99));
		nulls[7] = nulls[8] = nulls[9] = s->requests == 0;
		values[10] = Int64GetDatum(s->input_tokens);
		values[11] = Int64GetDatum(s->output_tokens);
		values[12] = DirectFunctionCall1(float8_numeric, Float8GetDatum(s->cost_usd));
		values[13] = Int64GetDatum(s->cache_hits);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ai_gateway.stats_reset(): zero this database's counters. */
PG_FUNCTION_INFO_V1(aig_stats_reset);
Datum
aig_stats_reset(PG_FUNCTION_ARGS)
{
	aig_require_preload();
	aig_stats_reset_db();
	PG_RETURN_VOID();
}

static void
label(StringInfo buf, const AigStatsSnapshot *sn, const char *extra)
{
	appendStringInfoString(buf, "{route=\"");
	for (const char *c = sn->route; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *c);
	}
	appendStringInfoString(buf, "\",provider=\"");
	for (const char *c = sn->provider; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *c);
	}
	appendStringInfoString(buf, "\",model=\"");
	for (const char *c = sn->model; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			appendStringInfoChar(buf, '\\');
		else if (*c == '\n')
		{
			appendStringInfoString(buf, "\\n");
			continue;
		}
		appendStringInfoChar(buf, *c);
	}
	appendStringInfo(buf, "\"%s}", extra ? extra : "");
}

/* ai_gateway.metrics(): Prometheus text exposition of the same counters. */
/*
 * The shared tables of target state and statistics (all databases): entries
 * in use, entries reclaimed to make room, and new targets or combinations
 * that found no room (ran without a breaker, or were not counted).
 */
static void
shared_table_metrics(StringInfo buf)
{
	int64		used[2],
				reclaimed[2],
				untracked[2];
	static const char *const names[2] = {"targets", "stats"};

	aig_target_state_counts(&used[0], &reclaimed[0], &untracked[0]);
	aig_stats_counts(&used[1], &reclaimed[1], &untracked[1]);
	appendStringInfoString(buf, "# HELP ai_gateway_shared_entries Entries in use in the shared target-state and statistics tables.\n"
						   "# TYPE ai_gateway_shared_entries gauge\n");
	for (int i = 0; i < 2; i++)
		appendStringInfo(buf, "ai_gateway_shared_entries{table=\"%s\"} " INT64_FORMAT "\n",
						 names[i], used[i]);
	appendStringInfoString(buf, "# HELP ai_gateway_shared_reclaimed_total Entries reclaimed to make room (vanished, idle or least recently used).\n"
						   "# TYPE ai_gateway_shared_reclaimed_total counter\n");
	for (int i = 0; i < 2; i++)
		appendStringInfo(buf, "ai_gateway_shared_reclaimed_total{table=\"%s\"} " INT64_FORMAT "\n",
						 names[i], reclaimed[i]);
	appendStringInfoString(buf, "# HELP ai_gateway_shared_untracked_total New targets left without a breaker, or combinations left uncounted, for want of room.\n"
						   "# TYPE ai_gateway_shared_untracked_total counter\n");
	for (int i = 0; i < 2; i++)
		appendStringInfo(buf, "ai_gateway_shared_untracked_total{table=\"%s\"} " INT64_FORMAT "\n",
						 names[i], untracked[i]);
}

PG_FUNCTION_INFO_V1(aig_metrics);
Datum
aig_metrics(PG_FUNCTION_ARGS)
{
	AigStatsSnapshot *snaps;
	int			n;
	StringInfoData buf;

	aig_require_preload();
	n = aig_stats_snapshot(&snaps);
	initStringInfo(&buf);

	appendStringInfoString(&buf, "# HELP ai_gateway_requests_total Calls, by route, provider and model.\n"
						   "# TYPE ai_gateway_requests_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_requests_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.requests);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_errors_total Failed calls, by error class.\n"
						   "# TYPE ai_gateway_errors_total counter\n");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < AIG_STATS_NCLASSES; c++)
		{
			char	   *extra;

			if (snaps[i].c.errors[c] == 0)
				continue;
			extra = psprintf(",class=\"%s\"", aig_stats_class_names[c]);
			appendStringInfoString(&buf, "ai_gateway_errors_total");
			label(&buf, &snaps[i], extra);
			appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.errors[c]);
		}
	appendStringInfoString(&buf, "# HELP ai_gateway_tokens_total Tokens, by direction.\n"
						   "# TYPE ai_gateway_tokens_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_tokens_total");
		label(&buf, &snaps[i], ",direction=\"input\"");
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.input_tokens);
		appendStringInfoString(&buf, "ai_gateway_tokens_total");
		label(&buf, &snaps[i], ",direction=\"output\"");
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.output_tokens);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_cost_usd_total Cost in US dollars.\n"
						   "# TYPE ai_gateway_cost_usd_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_cost_usd_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " %.10g\n", snaps[i].c.cost_usd);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_cache_hits_total Calls answered from the response cache.\n"
						   "# TYPE ai_gateway_cache_hits_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_cache_hits_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.cache_hits);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_latency_ms Call latency in milliseconds.\n"
						   "# TYPE ai_gateway_latency_ms histogram\n");
	for (int i = 0; i < n; i++)
	{
		int64		cum = 0;

		for (int b = 0; b < AIG_STATS_BUCKETS; b++)
		{
			char	   *extra = isinf(aig_stats_bounds[b]) ? pstrdup(",le=\"+Inf\"") :
				psprintf(",le=\"%g\"", aig_stats_bounds[b]);

			cum += snaps[i].c.hist[b];
			appendStringInfoString(&buf, "ai_gateway_latency_ms_bucket");
			label(&buf, &snaps[i], extra);
			appendStringInfo(&buf, " " INT64_FORMAT "\n", cum);
		}
		appendStringInfoString(&buf, "ai_gateway_latency_ms_sum");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " %.3f\n", snaps[i].c.latency_sum_ms);
		appendStringInfoString(&buf, "ai_gateway_latency_ms_count");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].c.requests);
	}
	shared_table_metrics(&buf);
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}
