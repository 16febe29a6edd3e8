/*
 * stats.c — call statistics shared by every backend.
 *
 * One entry per database, route (empty for direct provider/model calls),
 * provider and model, in a shared hash (ai_gateway.max_stats entries):
 * requests, errors by class, tokens, cost, cache hits and a latency
 * histogram (bucket bounds in aig_stats_bounds).  This file keeps the
 * counters; the SQL functions that read them (the ai_gateway.stats view,
 * metrics(), stats_reset()) are in api/stats_api.c and see copies
 * (aig_stats_snapshot).
 *
 * Shared memory: a small struct holding the lock, and the hash; sized by
 * aig_stats_shmem_size(), created by aig_stats_shmem_startup() (init/shmem.c
 * calls both).
 *
 * Reclaiming: when the table is full a new combination takes the place of
 * an entry of this database whose provider is gone from the catalog, else
 * of the least recently counted entry (its counters are dropped; counted
 * in metrics()).  A reclaimed entry's generation changes, so a backend
 * still holding its address leaves it alone (core/handles.h).
 *
 * Locking: one LWLock of its own (the "ai_gateway stats" tranche) guards
 * the hash — shared to find an entry or scan, exclusive to add or remove
 * one; it guards nothing else.  The counters of an entry are under the
 * entry's own spinlock.  Backends look an entry up once per catalog load
 * (AigTarget.stats), so the per-call cost is one spinlock.
 *
 * ai_gateway.log_requests adds one LOG line per call with key=value fields
 * (router.c, account_end), carried by csvlog/jsonlog to log pipelines.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "base/errcodes.h"
#include "core/catalog.h"
#include "core/handles.h"
#include "governance/stats.h"
#include "providers/provider.h"

#define KEYLEN AIG_STATS_NAMELEN

int			aig_max_stats = 2000;
bool		aig_log_requests = false;

const double aig_stats_bounds[AIG_STATS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, INFINITY
};

enum ErrorClass
{
	EC_AUTH, EC_RATE_LIMIT, EC_SERVER, EC_CONNECTION, EC_TIMEOUT, EC_INVALID_RESPONSE,
	EC_BAD_REQUEST, EC_QUOTA, EC_CANCELED, EC_OTHER, EC_COUNT
};

const char *const aig_stats_class_names[AIG_STATS_NCLASSES] = {
	"auth", "rate_limit", "server", "connection", "timeout", "invalid_response",
	"bad_request", "quota", "canceled", "other"
};

StaticAssertDecl(EC_COUNT == AIG_STATS_NCLASSES, "error classes of stats.h");

struct AigStats
{
	char		key[KEYLEN];	/* "dbid\x1froute\x1fprovider\x1fmodel" */
	slock_t		mutex;			/* protects c, generation, last_used */
	uint64		generation;		/* new at every (re)use, 0 once reclaimed */
	TimestampTz last_used;
	AigStatsCounters c;
};

#define STATS_TRANCHE "ai_gateway stats"

/* The shared part besides the hash: the lock that guards the hash. */
typedef struct StatsShared
{
	LWLock	   *lock;
	pg_atomic_uint64 next_generation;
	pg_atomic_uint64 reclaimed;	/* entries reclaimed to make room */
	pg_atomic_uint64 untracked;	/* combinations that found no room */
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
	{
		stats_shared->lock = &(GetNamedLWLockTranche(STATS_TRANCHE))->lock;
		pg_atomic_init_u64(&stats_shared->next_generation, 1);
		pg_atomic_init_u64(&stats_shared->reclaimed, 0);
		pg_atomic_init_u64(&stats_shared->untracked, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = KEYLEN;
	info.entrysize = sizeof(AigStats);
	stats_hash = ShmemInitHash("ai_gateway stats", aig_max_stats, aig_max_stats,
							   &info, HASH_ELEM | HASH_STRINGS | HASH_FIXED_SIZE);
}

/* Is provider (the third field of key "db\x1froute\x1fprovider\x1fmodel") of this database gone? */
static bool
vanished(const char *key, bool catalog_loaded)
{
	char	   *end;
	const char *p;
	const char *q;
	char		name[KEYLEN];

	if (!catalog_loaded || (Oid) strtoul(key, &end, 10) != MyDatabaseId || *end != '\x1f')
		return false;
	p = strchr(end + 1, '\x1f');
	q = p ? strchr(p + 1, '\x1f') : NULL;
	if (q == NULL)
		return false;
	memcpy(name, p + 1, q - (p + 1));
	name[q - (p + 1)] = '\0';
	return aig_catalog_provider(name) == NULL;
}

/*
 * Make room for one entry: an entry of a vanished provider, else the least
 * recently counted one.  The hash lock is held exclusively.
 */
static bool
reclaim_one(void)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;
	AigStats   *best = NULL;
	TimestampTz best_used = 0;
	bool		loaded = aig_catalog_providers_loaded();

	hash_seq_init(&st, stats_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		TimestampTz used;

		if (vanished(s->key, loaded))
		{
			best = s;
			hash_seq_term(&st);
			break;
		}
		SpinLockAcquire(&s->mutex);
		used = s->last_used;
		SpinLockRelease(&s->mutex);
		if (best == NULL || used < best_used)
		{
			best = s;
			best_used = used;
		}
	}
	if (best == NULL)
		return false;
	SpinLockAcquire(&best->mutex);
	best->generation = 0;
	SpinLockRelease(&best->mutex);
	hash_search(stats_hash, best->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&stats_shared->reclaimed, 1);
	return true;
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
	if (s)
	{
		/* stable: a generation changes only under the exclusive lock */
		aig_handle_remember(s, s->generation);
		LWLockRelease(stats_shared->lock);
		return s;
	}
	LWLockRelease(stats_shared->lock);
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	s = hash_search(stats_hash, key, HASH_ENTER_NULL, &found);
	if (s == NULL && reclaim_one())
		s = hash_search(stats_hash, key, HASH_ENTER_NULL, &found);
	if (s && !found)
	{
		memset((char *) s + KEYLEN, 0, sizeof(AigStats) - KEYLEN);
		SpinLockInit(&s->mutex);
		s->generation = pg_atomic_fetch_add_u64(&stats_shared->next_generation, 1);
		s->last_used = GetCurrentTimestamp();
	}
	if (s)
		aig_handle_remember(s, s->generation);
	else
		pg_atomic_fetch_add_u64(&stats_shared->untracked, 1);
	LWLockRelease(stats_shared->lock);
	return s;
}

void
aig_stats_counts(int64 *used, int64 *reclaimed, int64 *untracked)
{
	*used = *reclaimed = *untracked = 0;
	if (stats_hash == NULL)
		return;
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	*used = (int64) hash_get_num_entries(stats_hash);
	LWLockRelease(stats_shared->lock);
	*reclaimed = (int64) pg_atomic_read_u64(&stats_shared->reclaimed);
	*untracked = (int64) pg_atomic_read_u64(&stats_shared->untracked);
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
		case AIG_ERRCODE_PROVIDER_BAD_ANSWER:
			return EC_INVALID_RESPONSE;
		case AIG_ERRCODE_PROVIDER_TIMEOUT:
			return EC_TIMEOUT;
		case ERRCODE_CONFIGURATION_LIMIT_EXCEEDED:
			return EC_QUOTA;
		case ERRCODE_QUERY_CANCELED:
			return EC_CANCELED;
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_UNDEFINED_OBJECT:
		case AIG_ERRCODE_MODEL_REFUSED: /* the request was refused */
		case AIG_ERRCODE_MODEL_NO_TEXT:
			return EC_BAD_REQUEST;
		default:
			if (ERRCODE_TO_CATEGORY(sqlerrcode) == AIG_ERRCODE_PROVIDER_CLASS)
				return EC_CONNECTION;
			return EC_OTHER;
	}
}

void
aig_stats_record(AigStats *s, bool ok, int sqlerrcode, double latency_ms, int64 in_tok,
				 int64 out_tok, bool has_cost, double cost, bool cache_hit)
{
	int			b = 0;
	TimestampTz now;
	uint64		gen;

	if (s == NULL)
		return;
	while (b < AIG_STATS_BUCKETS - 1 && latency_ms > aig_stats_bounds[b])
		b++;
	now = GetCurrentTimestamp();
	gen = aig_handle_generation(s);
	SpinLockAcquire(&s->mutex);
	if (s->generation == 0 || s->generation != gen)
	{
		/* reclaimed for another combination since this backend looked it up */
		SpinLockRelease(&s->mutex);
		aig_catalog_mark_stale();	/* the next call looks it up again */
		return;
	}
	s->last_used = now;
	s->c.requests++;
	if (!ok)
		s->c.errors[error_class(sqlerrcode)]++;
	if (in_tok > 0)
		s->c.input_tokens += in_tok;
	if (out_tok > 0)
		s->c.output_tokens += out_tok;
	if (has_cost)
		s->c.cost_usd += cost;
	if (cache_hit)
		s->c.cache_hits++;
	s->c.latency_sum_ms += latency_ms;
	s->c.hist[b]++;
	SpinLockRelease(&s->mutex);
}

/* This database's entries, copied (for the SQL functions of api/stats_api.c). */
int
aig_stats_snapshot(AigStatsSnapshot **out)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;
	int			n = 0;
	int			cap;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	cap = (int) hash_get_num_entries(stats_hash);
	*out = palloc0(sizeof(AigStatsSnapshot) * Max(cap, 1));
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
		strlcpy((*out)[n].route, parts[1], AIG_STATS_NAMELEN);
		strlcpy((*out)[n].provider, parts[2], AIG_STATS_NAMELEN);
		strlcpy((*out)[n].model, parts[3], AIG_STATS_NAMELEN);
		SpinLockAcquire(&s->mutex);
		(*out)[n].c = s->c;
		SpinLockRelease(&s->mutex);
		n++;
	}
	LWLockRelease(stats_shared->lock);
	return n;
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
		{
			SpinLockAcquire(&s->mutex);
			s->generation = 0;
			SpinLockRelease(&s->mutex);
			hash_search(stats_hash, s->key, HASH_REMOVE, NULL);
		}
	}
	LWLockRelease(stats_shared->lock);
}

/* Zero the counters of this database's entries (ai_gateway.stats_reset()). */
void
aig_stats_reset_db(void)
{
	HASH_SEQ_STATUS st;
	AigStats   *s;

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	hash_seq_init(&st, stats_hash);
	while ((s = hash_seq_search(&st)) != NULL)
	{
		if ((Oid) strtoul(s->key, NULL, 10) != MyDatabaseId)
			continue;
		SpinLockAcquire(&s->mutex);
		memset(&s->c, 0, sizeof(s->c));
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(stats_shared->lock);
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
