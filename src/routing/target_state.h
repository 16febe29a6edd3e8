/*
 * target_state.h — per-target health shared by every backend: circuit
 * breaker, error window, latency figure; and per-route shared counters.
 */
#ifndef AIG_TARGET_STATE_H
#define AIG_TARGET_STATE_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/s_lock.h"
#include "utils/timestamp.h"

#define AIG_STATE_KEYLEN 432	/* "db\x1fprovider\x1fmodel" or "db\x1eroute" */
#define AIG_WINDOW_BUCKETS 10
#define AIG_LAST_ERROR_LEN 160

typedef enum AigBreakerState
{
	AIG_BREAKER_CLOSED = 0,
	AIG_BREAKER_OPEN,
	AIG_BREAKER_HALF_OPEN,
} AigBreakerState;

struct AigBreakerConf;			/* core/catalog.h */

typedef struct AigTargetState
{
	char		key[AIG_STATE_KEYLEN];	/* hash key: must be first */
	slock_t		mutex;			/* protects everything below */
	uint64		generation;		/* new at every (re)use; 0 once reclaimed
								 * (core/handles.h) */
	TimestampTz last_used;		/* last breaker check or outcome */
	AigBreakerState state;
	int			consecutive_failures;
	TimestampTz open_until;
	TimestampTz probe_started;	/* half-open probe in flight, 0 = none */
	int64		times_opened;
	int64		times_closed;	/* recoveries (alerts.c compares these counts) */
	int64		bucket_epoch[AIG_WINDOW_BUCKETS];
	int32		bucket_requests[AIG_WINDOW_BUCKETS];
	int32		bucket_errors[AIG_WINDOW_BUCKETS];
	int			bucket_ms;		/* bucket width the window was last kept with */
	double		latency_ms;		/* moving average of successful calls */
	int64		latency_samples;
	int64		requests;
	int64		errors;
	TimestampTz last_error_at;
	char		last_error[AIG_LAST_ERROR_LEN];
	pg_atomic_uint64 counter;	/* route entries: round-robin position */
} AigTargetState;

/* A copy of one entry, for health() and explain_route(). */
typedef struct AigTargetSnapshot
{
	char		provider[AIG_STATE_KEYLEN];
	char		model[AIG_STATE_KEYLEN];
	AigBreakerState state;
	int			consecutive_failures;
	TimestampTz open_until;
	int64		window_requests;
	int64		window_errors;
	double		latency_ms;		/* < 0 when no sample yet */
	int64		requests;
	int64		errors;
	int64		times_opened;
	int64		times_closed;
	TimestampTz last_error_at;
	char		last_error[AIG_LAST_ERROR_LEN];
} AigTargetSnapshot;

extern int	aig_max_targets;

/* Define ai_gateway.max_targets (called from _PG_init). */
extern void aig_target_state_define_gucs(void);

/* Shared memory: size, tranche request, creation (init/shmem.c calls them). */
extern Size aig_target_state_shmem_size(void);
extern void aig_target_state_shmem_request(void);
extern void aig_target_state_shmem_startup(void);

/* The shared entry of provider/model (created on first use); NULL if full. */
extern AigTargetState *aig_target_state(const char *provider, const char *model);
/* The shared counters of a route; NULL if full. */
extern AigTargetState *aig_route_state(const char *route);

/*
 * May a call go to this target now?  Closed: yes.  Open: no, until the
 * cooldown ends; then one caller (is_probe = true) gets the half-open probe.
 */
extern bool aig_breaker_allow(AigTargetState *s, TimestampTz now, bool *is_probe);

/* Result of one attempt.  health_failure: counts against the breaker. */
extern void aig_breaker_record(AigTargetState *s, const struct AigBreakerConf *conf,
							   TimestampTz now, bool success, bool health_failure,
							   double latency_ms, int retry_after_ms,
							   const char *error);

/* The moving-average latency of a target, -1 when it has no sample. */
extern double aig_target_latency(AigTargetState *s);

extern void aig_target_snapshot(AigTargetState *s, TimestampTz now, AigTargetSnapshot *out);
extern const char *aig_breaker_state_name(AigBreakerState st);

/* This database's target entries (not routes), for health(). */
extern int	aig_target_snapshot_all(AigTargetSnapshot **out);

/*
 * Counters of the table (all databases): entries reclaimed to make room,
 * and new entries that found no room (their target ran untracked).
 */
extern void aig_target_state_counts(int64 *used, int64 *reclaimed, int64 *untracked);

/* Free the entries of a dropped database (no backend is connected to it). */
extern void aig_target_state_forget_db(Oid dbid);

/*
 * A target's last error without any text the provider wrote — what a
 * caller's prompt may be echoed in: "HTTP 429", "invalid response",
 * "circuit breaker open" (palloc'd).  For readers who may not see other
 * roles' content (health() for non-administrators, the alerts channel).
 */
extern char *aig_target_error_summary(const char *last_error);

/* "circuit breaker open (last failure: <summary>)" for an open breaker. */
extern char *aig_breaker_open_message(AigTargetState *s);

#endif							/* AIG_TARGET_STATE_H */
