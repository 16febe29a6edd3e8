/*
 * stats.h — per route/provider/model counters in shared memory, for the
 * ai_gateway.stats view and ai_gateway.metrics() (api/stats_api.c).
 */
#ifndef AIG_STATS_H
#define AIG_STATS_H

#include "postgres.h"

#define AIG_STATS_BUCKETS 15
#define AIG_STATS_NCLASSES 10	/* error classes */
#define AIG_STATS_NAMELEN 640	/* key and snapshot name length */

typedef struct AigStats AigStats;

/* Upper bound (ms) of each latency bucket, the last one +Inf. */
extern const double aig_stats_bounds[AIG_STATS_BUCKETS];
/* Names of the error classes (errors_by_class keys, the metrics' class label). */
extern const char *const aig_stats_class_names[AIG_STATS_NCLASSES];

/* The counters of one entry. */
typedef struct AigStatsCounters
{
	int64		requests;
	int64		errors[AIG_STATS_NCLASSES];
	int64		input_tokens;
	int64		output_tokens;
	double		cost_usd;
	int64		cache_hits;
	double		latency_sum_ms;
	int64		hist[AIG_STATS_BUCKETS];
} AigStatsCounters;

/* A copy of one entry of this database, for the SQL functions. */
typedef struct AigStatsSnapshot
{
	char		route[AIG_STATS_NAMELEN];	/* empty for direct calls */
	char		provider[AIG_STATS_NAMELEN];
	char		model[AIG_STATS_NAMELEN];
	AigStatsCounters c;
} AigStatsSnapshot;

extern int	aig_max_stats;
extern bool aig_log_requests;

/* Define ai_gateway.max_stats and log_requests (called from _PG_init). */
extern void aig_stats_define_gucs(void);

/* Shared memory: size, tranche request, creation (init/shmem.c calls them). */
extern Size aig_stats_shmem_size(void);
extern void aig_stats_shmem_request(void);
extern void aig_stats_shmem_startup(void);

/* The entry of route (NULL = direct call) / provider / model; NULL if full. */
extern AigStats *aig_stats_entry(const char *route, const char *provider, const char *model);
/* This database's entries, copied into a palloc'd array; returns the count. */
extern int	aig_stats_snapshot(AigStatsSnapshot **out);
/* Zero the counters of this database's entries. */
extern void aig_stats_reset_db(void);

/* Free the entries of a dropped database (no backend is connected to it). */
extern void aig_stats_forget_db(Oid dbid);

/* Entries in use, reclaimed to make room, and combinations left uncounted (all databases). */
extern void aig_stats_counts(int64 *used, int64 *reclaimed, int64 *untracked);

/* Count one finished call.  Never raises (safe in PG_CATCH). */
extern void aig_stats_record(AigStats *s, bool ok, int sqlerrcode, double latency_ms,
							 int64 in_tok, int64 out_tok, bool has_cost, double cost,
							 bool cache_hit);

#endif							/* AIG_STATS_H */
