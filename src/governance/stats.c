/*
 * stats.c — call statistics shared by every backend.
 *
 * One entry per database, route (empty for direct provider/model calls),
 * provider and model, in a shared hash (ai_gateway.max_stats entries):
 * requests, errors by class, tokens, cost, cache hits and a latency
 * histogram.  Percentiles are read from the histogram, interpolated
 * linearly inside a bucket (bucket bounds in AIG_STATS_BOUNDS).
 *
 * Shared memory: a small struct holding the lock, and the hash; sized by
 * aig_stats_shmem_size(), created by aig_stats_shmem_startup() (init/shmem.c
 * calls both).
 *
 * Locking: one LWLock of its own (the "ai_gateway stats" tranche) guards
 * the hash — shared to find an entry or scan, exclusive to add or remove
 * one; it guards nothing else.  The counters of an entry are under the
 * entry's own spinlock.  Backends look an
 * entry up once per catalog load (AigTarget.stats), so the per-call cost is
 * one spinlock.  ai_gateway.stats_reset() zeroes the counters of this
 * database.
 *
 * ai_gateway.log_requests adds one LOG line per call with key=value fields
 * (router.c, account_end), carried by csvlog/jsonlog to log pipelines.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/guc.h"

#include "core/preload.h"
#include "base/compat.h"
#include "governance/stats.h"

#define KEYLEN 640

int			aig_max_stats = 2000;
bool		aig_log_requests = false;

static const double bounds[AIG_STATS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, INFINITY
};

enum ErrorClass
{
	EC_AUTH, EC_RATE_LIMIT, EC_SERVER, EC_CONNECTION, EC_TIMEOUT, EC_INVALID_RESPONSE,
	EC_BAD_REQUEST, EC_QUOTA, EC_CANCELED, EC_OTHER, EC_COUNT
};

static const char *const class_names[EC_COUNT] = {
	"auth", "rate_limit", "server", "connection", "timeout", "invalid_response",
	"bad_request", "quota", "canceled", "other"
};

struct AigStats
{
	char		key[KEYLEN];
	slock_t		mutex;
	int64		requests;
	int64		errors[EC_COUNT];
	int64		input_tokens;
	int64		output_tokens;
	double		cost_usd;
	int64		cache_hits;
	double		latency_sum_ms;
	int64		hist[AIG_STATS_BUCKETS];
};

#define STATS_TRANCHE "ai_gateway stats"

/* The shared part besides the hash: the lock that guards the hash. */
typedef struct StatsShared
{
	LWLock	   *lock;
} StatsShared;

static StatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;

/* Shared memory needed: the lock struct and the hash of max_stats entries. */
Size
aig_stats_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(StatsShared)),
					hash_estimate_size(aig_max_stats, sizeof(AigStats)));
}

/* Ask for the tranche's lock (from the shmem request hook). */
void
aig_stats_shmem_request(void)
{
	RequestNamedLWLockTranche(STATS_TRANCHE, 1);
}

/* Create or attach the struct and the hash; caller holds AddinShmemInitLock. */
void
aig_stats_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;

	stats_shared = ShmemInitStruct("ai_gateway stats lock", sizeof(StatsShared), &found);
	if (!found)
		stats_shared->lock = &(GetNamedLWLockTranche(STATS_TRANCHE))->lock;
	memset(&info, 0, sizeof(info));
	info.keysize = KEYLEN;
	info.entrysize = sizeof(AigStats);
	stats_hash = ShmemInitHash("ai_gateway stats", aig_max_stats, aig_max_stats,
							   &info, HASH_ELEM | HASH_STRINGS | HASH_FIXED_SIZE);
}

AigStats *
aig_stats_entry(const char *route, const char *provider, const char *model)
{
	char		key[KEYLEN];
	AigStats   *s;
	bool		found;

	if (stats_hash == NULL ||
		snprintf(key, sizeof(key), "%u\x1f%s\x1f%s\x1f%s", MyDatabaseId, route ? route : "",
				 provider, model) >= (int) sizeof(key))
		return NULL;
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	s = hash_search(stats_hash, key, HASH_FIND, NULL);
	LWLockRelease(stats_shared->lock);
	if (s)
		return s;
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	s = hash_search(stats_hash, key, HASH_ENTER_NULL, &found);
	if (s && !found)
	{
		memset((char *) s + KEYLEN, 0, sizeof(AigStats) - KEYLEN);
		SpinLockInit(&s->mutex);
	}
	LWLockRelease(stats_shared->lock);
	return s;
}

static int
error_class(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
			return EC_AUTH;
		case ERRCODE_INSUFFICIENT_RESOURCES:
			return EC_RATE_LIMIT;
		case ERRCODE_SYSTEM_ERROR:
			return EC_SERVER;
		case ERRCODE_PROTOCOL_VIOLATION:
			return EC_INVALID_RESPONSE;
		case ERRCODE_CONNECTION_FAILURE:
			return EC_TIMEOUT;
		case ERRCODE_CONFIGURATION_LIMIT_EXCEEDED:
			return EC_QUOTA;
		case ERRCODE_QUERY_CANCELED:
			return EC_CANCELED;
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_UNDEFINED_OBJECT:
			return EC_BAD_REQUEST;
		default:
			if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION)
				return EC_CONNECTION;
			return EC_OTHER;
	}
}

void
aig_stats_record(AigStats *s, bool ok, int sqlerrcode, double latency_ms, int64 in_tok,
				 int64 out_tok, bool has_cost, double cost, bool cache_hit)
{
	int			b = 0;

	if (s == NULL)
		return;
	while (b < AIG_STATS_BUCKETS - 1 && latency_ms > bounds[b])
		b++;
	SpinLockAcquire(&s->mutex);
	s->requests++;
	if (!ok)
		s->errors[error_class(sqlerrcode)]++;
	if (in_tok > 0)
		s->input_tokens += in_tok;
	if (out_tok > 0)
		s->output_tokens += out_tok;
	if (has_cost)
		s->cost_usd += cost;
	if (cache_hit)
		s->cache_hits++;
	s->latency_sum_ms += latency_ms;
	s->hist[b]++;
	SpinLockRelease(&s->mutex);
}

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
			double		lo = b == 0 ? 0 : bounds[b - 1];
			double		hi = isinf(bounds[b]) ? lo * 2 : bounds[b];

			return lo + (hi - lo) * (want - seen) / hist[b];
		}
		seen += hist[b];
	}
	return bounds[AIG_STATS_BUCKETS - 2];
}

typedef struct Snap
{
	char		route[KEYLEN];
	char		provider[KEYLEN];
	char		model[KEYLEN];
	AigStats	s;
} Snap;

/* This database's entries, copied. */
static int
snapshot(Snap **out)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;
	int			n = 0;
	int			cap;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	cap = (int) hash_get_num_entries(stats_hash);
	*out = palloc0(sizeof(Snap) * Max(cap, 1));
	hash_seq_init(&st, stats_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		char	   *parts[4];
		char	   *copy;

		if (n >= cap || (Oid) strtoul(s->key, NULL, 10) != MyDatabaseId)
			continue;
		copy = pstrdup(s->key);
		parts[0] = copy;
		for (int i = 1; i < 4; i++)
		{
			char	   *sep = strchr(parts[i - 1], '\x1f');

			if (sep == NULL)
				break;
			*sep = '\0';
			parts[i] = sep + 1;
		}
		strlcpy((*out)[n].route, parts[1], KEYLEN);
		strlcpy((*out)[n].provider, parts[2], KEYLEN);
		strlcpy((*out)[n].model, parts[3], KEYLEN);
		SpinLockAcquire(&s->mutex);
		(*out)[n].s = *s;
		SpinLockRelease(&s->mutex);
		n++;
	}
	LWLockRelease(stats_shared->lock);
	return n;
}

/* ai_gateway.stats_now(): the rows of the ai_gateway.stats view. */
PG_FUNCTION_INFO_V1(aig_stats_now);
Datum
aig_stats_now(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Snap	   *snaps;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	n = snapshot(&snaps);
	for (int i = 0; i < n; i++)
	{
		AigStats   *s = &snaps[i].s;
		Datum		values[14];
		bool		nulls[14] = {0};
		int64		errors = 0;
		StringInfoData byclass;

		initStringInfo(&byclass);
		appendStringInfoChar(&byclass, '{');
		for (int c = 0; c < EC_COUNT; c++)
		{
			errors += s->errors[c];
			if (s->errors[c] > 0)
				appendStringInfo(&byclass, "%s\"%s\": " INT64_FORMAT,
								 byclass.len > 1 ? ", " : "", class_names[c], s->errors[c]);
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

void
aig_stats_forget_db(Oid dbid)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;

	if (stats_hash == NULL || !OidIsValid(dbid))
		return;
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&st, stats_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		char	   *end;

		if ((Oid) strtoul(s->key, &end, 10) == dbid && *end == '\x1f')
			hash_search(stats_hash, s->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(stats_shared->lock);
}

/* ai_gateway.stats_reset(): zero this database's counters. */
PG_FUNCTION_INFO_V1(aig_stats_reset);
Datum
aig_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;

	aig_require_preload();
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	hash_seq_init(&st, stats_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		if ((Oid) strtoul(s->key, NULL, 10) != MyDatabaseId)
			continue;
		SpinLockAcquire(&s->mutex);
		memset((char *) s + offsetof(AigStats, requests), 0,
			   sizeof(AigStats) - offsetof(AigStats, requests));
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(stats_shared->lock);
	PG_RETURN_VOID();
}

static void
label(StringInfo buf, const Snap *sn, const char *extra)
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
PG_FUNCTION_INFO_V1(aig_metrics);
Datum
aig_metrics(PG_FUNCTION_ARGS)
{
	Snap	   *snaps;
	int			n;
	StringInfoData buf;

	aig_require_preload();
	n = snapshot(&snaps);
	initStringInfo(&buf);

	appendStringInfoString(&buf, "# HELP ai_gateway_requests_total Calls, by route, provider and model.\n"
						   "# TYPE ai_gateway_requests_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_requests_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.requests);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_errors_total Failed calls, by error class.\n"
						   "# TYPE ai_gateway_errors_total counter\n");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < EC_COUNT; c++)
		{
			char	   *extra;

			if (snaps[i].s.errors[c] == 0)
				continue;
			extra = psprintf(",class=\"%s\"", class_names[c]);
			appendStringInfoString(&buf, "ai_gateway_errors_total");
			label(&buf, &snaps[i], extra);
			appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.errors[c]);
		}
	appendStringInfoString(&buf, "# HELP ai_gateway_tokens_total Tokens, by direction.\n"
						   "# TYPE ai_gateway_tokens_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_tokens_total");
		label(&buf, &snaps[i], ",direction=\"input\"");
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.input_tokens);
		appendStringInfoString(&buf, "ai_gateway_tokens_total");
		label(&buf, &snaps[i], ",direction=\"output\"");
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.output_tokens);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_cost_usd_total Cost in US dollars.\n"
						   "# TYPE ai_gateway_cost_usd_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_cost_usd_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " %.10g\n", snaps[i].s.cost_usd);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_cache_hits_total Calls answered from the response cache.\n"
						   "# TYPE ai_gateway_cache_hits_total counter\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, "ai_gateway_cache_hits_total");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.cache_hits);
	}
	appendStringInfoString(&buf, "# HELP ai_gateway_latency_ms Call latency in milliseconds.\n"
						   "# TYPE ai_gateway_latency_ms histogram\n");
	for (int i = 0; i < n; i++)
	{
		int64		cum = 0;

		for (int b = 0; b < AIG_STATS_BUCKETS; b++)
		{
			char	   *extra = isinf(bounds[b]) ? pstrdup(",le=\"+Inf\"") :
				psprintf(",le=\"%g\"", bounds[b]);

			cum += snaps[i].s.hist[b];
			appendStringInfoString(&buf, "ai_gateway_latency_ms_bucket");
			label(&buf, &snaps[i], extra);
			appendStringInfo(&buf, " " INT64_FORMAT "\n", cum);
		}
		appendStringInfoString(&buf, "ai_gateway_latency_ms_sum");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " %.3f\n", snaps[i].s.latency_sum_ms);
		appendStringInfoString(&buf, "ai_gateway_latency_ms_count");
		label(&buf, &snaps[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", snaps[i].s.requests);
	}
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}

/* Define the statistics' ai_gateway.* GUCs (called from _PG_init). */
void
aig_stats_define_gucs(void)
{
	/* PGC_POSTMASTER: defined only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ai_gateway.max_stats",
								"Route/provider/model statistics entries kept in shared memory.",
								NULL,
								&aig_max_stats,
								2000, 16, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	DefineCustomBoolVariable("ai_gateway.log_requests",
							 "Log one line per call with its route, provider, model, status, latency, tokens and cost.",
							 "Never keys; never prompts.",
							 &aig_log_requests,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}
