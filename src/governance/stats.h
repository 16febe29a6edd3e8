/*
 * stats.h — per route/provider/model counters in shared memory, for the
 * ai_gateway.stats view and ai_gateway.metrics().
 */
#ifndef AIG_STATS_H
#define AIG_STATS_H

#include "postgres.h"

#define AIG_STATS_BUCKETS 15

typedef struct AigStats AigStats;

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
/* Free the entries of a dropped database (no backend is connected to it). */
extern void aig_stats_forget_db(Oid dbid);

/* Count one finished call.  Never raises (safe in PG_CATCH). */
extern void aig_stats_record(AigStats *s, bool ok, int sqlerrcode, double latency_ms,
							 int64 in_tok, int64 out_tok, bool has_cost, double cost,
							 bool cache_hit);

#endif							/* AIG_STATS_H */
