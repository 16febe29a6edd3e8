/*
 * target_state.c — the shared health of every provider/model target:
 * circuit breaker, error window and latency; plus per-route counters
 * (round-robin position).
 *
 * Storage: a shared hash (ai_gateway.max_targets entries) created by the
 * shmem startup hook.  A backend looks an entry up once per catalog load
 * and keeps the pointer (AigTarget.state): the hot path takes no LWLock at
 * all.
 *
 * Reclaiming: when the table is full, a new entry takes the place of one
 * that no longer matters, best first: a target of this database whose
 * provider is gone from the catalog; an entry idle for a whole error
 * window; a healthy one (closed, no failure in its window), least recently
 * used.  An open or failing breaker is never reclaimed (that would let a
 * failing target through).  A reclaimed entry's generation changes, and a
 * backend still holding its address (an older catalog) sees that, leaves
 * it alone and reloads its catalog at its next call (core/handles.h).  When nothing can be reclaimed the new
 * target runs without a breaker: a WARNING (once per backend) and the
 * `untracked` counter (metrics()) say so.
 *
 * Shared memory: a small struct holding the lock, and the hash; sized by
 * aig_target_state_shmem_size(), created by aig_target_state_shmem_startup()
 * (init/shmem.c calls both).
 *
 * Locking: one LWLock, the "ai_gateway target state" tranche's only lock,
 * guards the hash itself — shared to look up, exclusive to insert or remove
 * entries (aig_target_state_forget_db); it guards nothing else.  Each entry's fields are
 * guarded by its own spinlock, held only for a few instructions (never over
 * I/O or an ereport); the round-robin counter is an atomic.
 *
 * Breaker: closed → open after `failures` consecutive health failures
 * (5xx, 429, transport errors; not 4xx request errors) or when the error
 * share over the sliding window (AIG_WINDOW_BUCKETS buckets) reaches
 * `error_rate` with at least `min_requests` requests.  Open lasts
 * `cooldown_ms`, or the Retry-After of a 429 when that is longer.  After it,
 * the first caller claims the half-open probe; its success closes the
 * breaker, its failure opens it again.  A probe whose backend vanished is
 * given up after a cooldown, so a target can never stay half-open forever.
 */
#include "postgres.h"

#include <stdlib.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/guc.h"

#include "core/catalog.h"
#include "core/handles.h"
#include "routing/target_state.h"

int			aig_max_targets = 1000;

#define TARGET_STATE_TRANCHE "ai_gateway target state"

/* The shared part besides the hash: the lock that guards the hash, counters. */
typedef struct TargetStateShared
{
	LWLock	   *lock;
	pg_atomic_uint64 next_generation;
	pg_atomic_uint64 reclaimed;	/* entries reclaimed to make room */
	pg_atomic_uint64 untracked;	/* new entries that found no room */
} TargetStateShared;

static TargetStateShared *ts_shared = NULL;
static HTAB *aig_target_hash = NULL;

/* Shared memory needed: the lock struct and the hash of max_targets entries. */
Size
aig_target_state_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(TargetStateShared)),
					hash_estimate_size(aig_max_targets, sizeof(AigTargetState)));
}

/* Ask for the tranche's lock (from the shmem request hook). */
void
aig_target_state_shmem_request(void)
{
	RequestNamedLWLockTranche(TARGET_STATE_TRANCHE, 1);
}

/* Create or attach the struct and the hash; caller holds AddinShmemInitLock. */
void
aig_target_state_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;

	ts_shared = ShmemInitStruct("ai_gateway target state lock", sizeof(TargetStateShared), &found);
	if (!found)
	{
		ts_shared->lock = &(GetNamedLWLockTranche(TARGET_STATE_TRANCHE))->lock;
		pg_atomic_init_u64(&ts_shared->next_generation, 1);
		pg_atomic_init_u64(&ts_shared->reclaimed, 0);
		pg_atomic_init_u64(&ts_shared->untracked, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = AIG_STATE_KEYLEN;
	info.entrysize = sizeof(AigTargetState);
	aig_target_hash = ShmemInitHash("ai_gateway target state",
									aig_max_targets, aig_max_targets,
									&info, HASH_ELEM | HASH_STRINGS | HASH_FIXED_SIZE);
}

/* Splits "db\x1fprovider\x1fmodel"; false for route entries. */
static bool split_target_key(const char *key, Oid *db, const char **provider, size_t *plen,
							 const char **model);
static void window_totals(AigTargetState *s, int64 epoch, int64 *req, int64 *err);

/* Reclaim classes, best first; CLASS_KEEP is never reclaimed. */
#define CLASS_VANISHED	0		/* this database's provider is gone */
#define CLASS_IDLE		1		/* no request for a whole window */
#define CLASS_HEALTHY	2		/* closed, no failure in its window */
#define CLASS_KEEP		3		/* open, probing or failing */

/* How reclaimable entry s is.  The hash lock is held exclusively. */
static int
reclaim_class(AigTargetState *s, TimestampTz now, bool catalog_loaded)
{
	Oid			db;
	const char *provider;
	const char *model;
	size_t		plen;
	int			cls;
	int64		wreq,
				werr;

	if (catalog_loaded && split_target_key(s->key, &db, &provider, &plen, &model) &&
		db == MyDatabaseId && plen < NAMEDATALEN * 4)
	{
		char		name[NAMEDATALEN * 4];

		memcpy(name, provider, plen);
		name[plen] = '\0';
		if (aig_catalog_provider(name) == NULL)
			return CLASS_VANISHED;
	}
	if (!split_target_key(s->key, &db, &provider, &plen, &model))
		return CLASS_HEALTHY;	/* a route's counter: a last resort (it has no
								 * activity time of its own) */
	SpinLockAcquire(&s->mutex);
	window_totals(s, (now / 1000) / Max(s->bucket_ms, 1), &wreq, &werr);
	if (s->state == AIG_BREAKER_HALF_OPEN ||
		(s->state == AIG_BREAKER_OPEN && now < s->open_until))
		cls = CLASS_KEEP;
	else if (wreq == 0 &&
			 now - s->last_used > (TimestampTz) Max(s->bucket_ms, 1) * AIG_WINDOW_BUCKETS * 1000)
		cls = CLASS_IDLE;
	else if (s->consecutive_failures == 0 && werr == 0)
		cls = CLASS_HEALTHY;
	else
		cls = CLASS_KEEP;
	SpinLockRelease(&s->mutex);
	return cls;
}

/*
 * Make room for one entry: reclaim the best candidate (lowest class, then
 * least recently used).  The hash lock is held exclusively.  False when
 * every entry must be kept.
 */
static bool
reclaim_one(TimestampTz now)
{
	HASH_SEQ_STATUS st;
	AigTargetState *s;
	AigTargetState *best = NULL;
	int			best_class = CLASS_KEEP;
	TimestampTz best_used = 0;
	bool		loaded = aig_catalog_providers_loaded();

	hash_seq_init(&st, aig_target_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		int			cls = reclaim_class(s, now, loaded);

		if (cls < best_class || (cls == best_class && cls != CLASS_KEEP &&
								 s->last_used < best_used))
		{
			best = s;
			best_class = cls;
			best_used = s->last_used;
		}
	}
	if (best == NULL)
		return false;
	SpinLockAcquire(&best->mutex);
	best->generation = 0;		/* holders of its address now leave it alone */
	SpinLockRelease(&best->mutex);
	hash_search(aig_target_hash, best->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&ts_shared->reclaimed, 1);
	return true;
}

static AigTargetState *
state_for_key(const char *key)
{
	AigTargetState *s;
	bool		found;
	static bool warned = false;

	if (aig_target_hash == NULL || strlen(key) >= AIG_STATE_KEYLEN)
		return NULL;
	LWLockAcquire(ts_shared->lock, LW_SHARED);
	s = hash_search(aig_target_hash, key, HASH_FIND, NULL);
	if (s)
	{
		/* stable: a generation changes only under the exclusive lock */
		aig_handle_remember(s, s->generation);
		LWLockRelease(ts_shared->lock);
		return s;
	}
	LWLockRelease(ts_shared->lock);

	LWLockAcquire(ts_shared->lock, LW_EXCLUSIVE);
	s = hash_search(aig_target_hash, key, HASH_ENTER_NULL, &found);
	if (s == NULL && reclaim_one(GetCurrentTimestamp()))
		s = hash_search(aig_target_hash, key, HASH_ENTER_NULL, &found);
	if (s && !found)
	{
		/* the key is already copied in; zero the rest */
		memset((char *) s + AIG_STATE_KEYLEN, 0, sizeof(AigTargetState) - AIG_STATE_KEYLEN);
		SpinLockInit(&s->mutex);
		s->state = AIG_BREAKER_CLOSED;
		s->latency_ms = -1;
		s->last_used = GetCurrentTimestamp();
		s->generation = pg_atomic_fetch_add_u64(&ts_shared->next_generation, 1);
		pg_atomic_init_u64(&s->counter, 0);
	}
	if (s)
		aig_handle_remember(s, s->generation);
	else
		pg_atomic_fetch_add_u64(&ts_shared->untracked, 1);
	LWLockRelease(ts_shared->lock);
	if (s == NULL && !warned)
	{
		warned = true;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("ai_gateway target state is full of open or failing breakers; new targets run without a circuit breaker"),
				 errdetail("Entries of vanished, idle or healthy targets are reclaimed; none was left."),
				 errhint("Raise ai_gateway.max_targets (requires a restart). metrics() counts the targets left untracked.")));
	}
	return s;
}

/*
 * Is s still the entry this backend was handed?  Its spinlock is held.  A
 * reclaimed address may stand for another target now: leave it alone.
 */
static inline bool
still_mine(AigTargetState *s)
{
	return s->generation != 0 && s->generation == aig_handle_generation(s);
}

/*
 * Keys carry the database: providers and routes are per-database
 * configuration, so two databases' "openai" are different targets.
 */
AigTargetState *
aig_target_state(const char *provider, const char *model)
{
	char		key[AIG_STATE_KEYLEN];

	if (snprintf(key, sizeof(key), "%u\x1f%s\x1f%s", MyDatabaseId, provider, model) >=
		(int) sizeof(key))
		return NULL;
	return state_for_key(key);
}

AigTargetState *
aig_route_state(const char *route)
{
	char		key[AIG_STATE_KEYLEN];

	if (snprintf(key, sizeof(key), "%u\x1e%s", MyDatabaseId, route) >= (int) sizeof(key))
		return NULL;
	return state_for_key(key);
}

/* Splits "db\x1fprovider\x1fmodel"; false for route entries. */
static bool
split_target_key(const char *key, Oid *db, const char **provider, size_t *plen,
				 const char **model)
{
	const char *s1 = strchr(key, '\x1f');
	const char *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;

	if (s2 == NULL)
		return false;
	*db = (Oid) strtoul(key, NULL, 10);
	*provider = s1 + 1;
	*plen = s2 - (s1 + 1);
	*model = s2 + 1;
	return true;
}

const char *
aig_breaker_state_name(AigBreakerState st)
{
	switch (st)
	{
		case AIG_BREAKER_CLOSED:
			return "closed";
		case AIG_BREAKER_OPEN:
			return "open";
		case AIG_BREAKER_HALF_OPEN:
			return "half_open";
	}
	return "unknown";
}

bool
aig_breaker_allow(AigTargetState *s, TimestampTz now, bool *is_probe)
{
	bool		allow = true;

	*is_probe = false;
	if (s == NULL)
		return true;
	SpinLockAcquire(&s->mutex);
	if (!still_mine(s))
	{
		SpinLockRelease(&s->mutex);
		aig_catalog_mark_stale();	/* the next call looks it up again */
		return true;
	}
	s->last_used = now;
	switch (s->state)
	{
		case AIG_BREAKER_CLOSED:
			break;
		case AIG_BREAKER_OPEN:
			if (now >= s->open_until)
			{
				s->state = AIG_BREAKER_HALF_OPEN;
				s->probe_started = now;
				*is_probe = true;
			}
			else
				allow = false;
			break;
		case AIG_BREAKER_HALF_OPEN:
			/* one probe at a time; a probe lost with its backend expires */
			if (s->probe_started == 0 ||
				now - s->probe_started > (TimestampTz) aig_breaker_defaults.cooldown_ms * 1000)
			{
				s->probe_started = now;
				*is_probe = true;
			}
			else
				allow = false;
			break;
	}
	SpinLockRelease(&s->mutex);
	return allow;
}

/* Sum of the window's buckets that are still inside it.  Spinlock held. */
static void
window_totals(AigTargetState *s, int64 epoch, int64 *req, int64 *err)
{
	*req = *err = 0;
	for (int i = 0; i < AIG_WINDOW_BUCKETS; i++)
		if (s->bucket_epoch[i] > epoch - AIG_WINDOW_BUCKETS)
		{
			*req += s->bucket_requests[i];
			*err += s->bucket_errors[i];
		}
}

static void
open_breaker(AigTargetState *s, TimestampTz now, int cooldown_ms)
{
	s->state = AIG_BREAKER_OPEN;
	s->open_until = now + (TimestampTz) cooldown_ms * 1000;
	s->probe_started = 0;
	s->times_opened++;
}

void
aig_breaker_record(AigTargetState *s, const AigBreakerConf *conf, TimestampTz now,
				   bool success, bool health_failure, double latency_ms,
				   int retry_after_ms, const char *error)
{
	int			bucket_ms = Max(conf->window_ms / AIG_WINDOW_BUCKETS, 1);
	int64		epoch = (now / 1000) / bucket_ms;
	int			idx = (int) (epoch % AIG_WINDOW_BUCKETS);
	int64		wreq,
				werr;
	size_t		elen = 0;

	if (s == NULL)
		return;
	if (!success && error != NULL)
	{
		/* what fits of the error, cut on a UTF-8 character boundary */
		elen = strnlen(error, AIG_LAST_ERROR_LEN - 1);
		if (error[elen] != '\0')
			while (elen > 0 && (((unsigned char) error[elen]) & 0xC0) == 0x80)
				elen--;
	}
	SpinLockAcquire(&s->mutex);
	if (!still_mine(s))
	{
		SpinLockRelease(&s->mutex);
		aig_catalog_mark_stale();
		return;
	}
	s->last_used = now;
	if (s->bucket_ms != bucket_ms)
	{
		/* the window's width changed: start it over */
		memset(s->bucket_epoch, 0, sizeof(s->bucket_epoch));
		s->bucket_ms = bucket_ms;
	}
	if (s->bucket_epoch[idx] != epoch)
	{
		s->bucket_epoch[idx] = epoch;
		s->bucket_requests[idx] = 0;
		s->bucket_errors[idx] = 0;
	}
	s->bucket_requests[idx]++;
	s->requests++;

	if (success)
	{
		s->consecutive_failures = 0;
		if (s->state != AIG_BREAKER_CLOSED)
		{
			s->state = AIG_BREAKER_CLOSED;
			s->probe_started = 0;
			s->times_closed++;
			/* a recovered target starts with a clean window */
			memset(s->bucket_epoch, 0, sizeof(s->bucket_epoch));
		}
		/* moving average, seeded by the first sample */
		if (s->latency_samples == 0 || s->latency_ms < 0)
			s->latency_ms = latency_ms;
		else
			s->latency_ms = 0.8 * s->latency_ms + 0.2 * latency_ms;
		s->latency_samples++;
	}
	else
	{
		s->errors++;
		s->last_error_at = now;
		memcpy(s->last_error, error ? error : "", elen);
		s->last_error[elen] = '\0';
		if (health_failure)
		{
			s->bucket_errors[idx]++;
			s->consecutive_failures++;
			window_totals(s, epoch, &wreq, &werr);
			if (s->state == AIG_BREAKER_HALF_OPEN)
				open_breaker(s, now, Max(conf->cooldown_ms, retry_after_ms));
			else if (s->state == AIG_BREAKER_CLOSED &&
					 (s->consecutive_failures >= conf->failures ||
					  (wreq >= conf->min_requests &&
					   (double) werr / wreq >= conf->error_rate) ||
					  retry_after_ms > 0))
			{
				/*
				 * A 429 with Retry-After opens at once: the provider said
				 * when to come back, and every backend should hear it.
				 */
				open_breaker(s, now, Max(conf->cooldown_ms * (retry_after_ms > 0 ? 0 : 1),
										 retry_after_ms));
			}
		}
		else if (s->state == AIG_BREAKER_HALF_OPEN)
		{
			/* a request error says nothing about health: let another probe go */
			s->probe_started = 0;
		}
	}
	SpinLockRelease(&s->mutex);
}

double
aig_target_latency(AigTargetState *s)
{
	double		v;

	SpinLockAcquire(&s->mutex);
	v = s->latency_samples > 0 && still_mine(s) ? s->latency_ms : -1;
	SpinLockRelease(&s->mutex);
	return v;
}

/* A copy of entry s; held: s is an address this backend holds (not a scan). */
static void
snapshot(AigTargetState *s, TimestampTz now, AigTargetSnapshot *out, bool held)
{
	int64		epoch;
	int			bucket_ms;
	Oid			db;
	const char *provider;
	const char *model;
	size_t		plen;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
	{
		out->state = AIG_BREAKER_CLOSED;
		out->latency_ms = -1;
		return;
	}
	if (split_target_key(s->key, &db, &provider, &plen, &model))
	{
		strlcpy(out->provider, provider, Min(sizeof(out->provider), plen + 1));
		strlcpy(out->model, model, sizeof(out->model));
	}
	SpinLockAcquire(&s->mutex);
	if (held && !still_mine(s))
	{
		/* reclaimed since: nothing known about this target */
		SpinLockRelease(&s->mutex);
		out->state = AIG_BREAKER_CLOSED;
		out->latency_ms = -1;
		return;
	}
	bucket_ms = Max(s->bucket_ms, 1);
	epoch = (now / 1000) / bucket_ms;
	out->state = s->state;
	if (out->state == AIG_BREAKER_OPEN && now >= s->open_until)
		out->state = AIG_BREAKER_HALF_OPEN; /* the next call probes */
	out->consecutive_failures = s->consecutive_failures;
	out->open_until = s->open_until;
	window_totals(s, epoch, &out->window_requests, &out->window_errors);
	out->latency_ms = s->latency_samples > 0 ? s->latency_ms : -1;
	out->requests = s->requests;
	out->errors = s->errors;
	out->times_opened = s->times_opened;
	out->times_closed = s->times_closed;
	out->last_error_at = s->last_error_at;
	memcpy(out->last_error, s->last_error, sizeof(out->last_error));
	SpinLockRelease(&s->mutex);
}

void
aig_target_snapshot(AigTargetState *s, TimestampTz now, AigTargetSnapshot *out)
{
	snapshot(s, now, out, true);
}

/*
 * "circuit breaker open (last failure: HTTP 503)": the open breaker and
 * the failure that opened it, summarized (no provider text, which may echo
 * another role's prompt).  palloc'd.
 */
char *
aig_breaker_open_message(AigTargetState *s)
{
	AigTargetSnapshot snap;

	if (s == NULL)
		return pstrdup("circuit breaker open");
	aig_target_snapshot(s, GetCurrentTimestamp(), &snap);
	if (snap.last_error[0] == '\0')
		return pstrdup("circuit breaker open");
	return psprintf("circuit breaker open (last failure: %s)",
					aig_target_error_summary(snap.last_error));
}

int
aig_target_snapshot_all(AigTargetSnapshot **out)
{
	HASH_SEQ_STATUS st;
	AigTargetState *s;
	int			n = 0;
	int			cap;
	TimestampTz now = GetCurrentTimestamp();

	*out = NULL;
	if (aig_target_hash == NULL)
		return 0;
	LWLockAcquire(ts_shared->lock, LW_SHARED);
	cap = (int) hash_get_num_entries(aig_target_hash);
	*out = palloc0(sizeof(AigTargetSnapshot) * Max(cap, 1));
	hash_seq_init(&st, aig_target_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		Oid			db;
		const char *provider;
		const char *model;
		size_t		plen;

		/* this database's targets only */
		if (n >= cap || !split_target_key(s->key, &db, &provider, &plen, &model) ||
			db != MyDatabaseId)
			continue;
		snapshot(s, now, &(*out)[n++], false);
	}
	LWLockRelease(ts_shared->lock);
	return n;
}

/*
 * Entries are keyed by database; without this, every database ever dropped
 * would keep its targets and routes and the table would fill up, leaving
 * new targets without a breaker.  Called after DROP DATABASE succeeded, so
 * no backend holds a pointer to these entries.
 */
void
aig_target_state_forget_db(Oid dbid)
{
	HASH_SEQ_STATUS st;
	AigTargetState *s;

	if (aig_target_hash == NULL || !OidIsValid(dbid))
		return;
	LWLockAcquire(ts_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&st, aig_target_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		char	   *end;

		/* keys: "db\x1fprovider\x1fmodel" (targets), "db\x1eroute" (routes) */
		if ((Oid) strtoul(s->key, &end, 10) == dbid && (*end == '\x1f' || *end == '\x1e'))
		{
			SpinLockAcquire(&s->mutex);
			s->generation = 0;
			SpinLockRelease(&s->mutex);
			hash_search(aig_target_hash, s->key, HASH_REMOVE, NULL);
		}
	}
	LWLockRelease(ts_shared->lock);
}

void
aig_target_state_counts(int64 *used, int64 *reclaimed, int64 *untracked)
{
	*used = *reclaimed = *untracked = 0;
	if (aig_target_hash == NULL)
		return;
	LWLockAcquire(ts_shared->lock, LW_SHARED);
	*used = (int64) hash_get_num_entries(aig_target_hash);
	LWLockRelease(ts_shared->lock);
	*reclaimed = (int64) pg_atomic_read_u64(&ts_shared->reclaimed);
	*untracked = (int64) pg_atomic_read_u64(&ts_shared->untracked);
}

/* Define ai_gateway.max_targets (called from _PG_init). */
void
aig_target_state_define_gucs(void)
{
	/* PGC_POSTMASTER: defined only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ai_gateway.max_targets",
								"Provider/model targets and routes whose health is kept in shared memory.",
								NULL,
								&aig_max_targets,
								1000, 16, 100000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

}

/*
 * Our error texts put what the provider wrote after the first ": " ("HTTP
 * 401: <provider's message>", "invalid response: <why, with an excerpt>");
 * the summary is what comes before it.
 */
char *
aig_target_error_summary(const char *last_error)
{
	const char *colon = strstr(last_error, ": ");

	return colon ? pnstrdup(last_error, colon - last_error) : pstrdup(last_error);
}
