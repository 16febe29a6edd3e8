/*
 * quota.c — per-role budgets and rate limits, shared by every backend.
 *
 * Budgets (ai_gateway.quotas): per role and period (minute, hour, day,
 * month — calendar periods in UTC), limits on requests, tokens and cost.  A
 * quota on a group role is one pool for all its members; a caller is held
 * to every quota of its own role and of the roles it is a member of — both
 * as its current role and as its session's login role (identity.h): a SET
 * ROLE or a SECURITY DEFINER function adds the current role's limits to
 * the login role's, never replaces them.  A call
 * reserves before it is sent — one request, its estimated tokens and cost —
 * and settles after with what it actually used, so max_requests is never
 * exceeded whatever the concurrency, and token/cost limits overshoot by at
 * most one call's estimate error.  Usage is shared memory, not
 * transactional: a ROLLBACK does not give budget back.  The worker saves
 * it to ai_gateway.quota_usage every few seconds, so a restart does not
 * reset it (what was used since the last save — at most
 * ai_gateway.quota_persist_ms — can be lost by a crash).  The saved usage
 * is added to shared memory once per life of the shared memory (server
 * start, or reinitialisation after a crash), by the worker at its start or
 * by the first call in the workers' database that is under a quota,
 * whichever comes first — so no call is admitted before the saved usage
 * counts, and calls made before the load are not lost.
 *
 * Rate limits: token buckets per role (ai_gateway.rate_limits) and per
 * provider (options.requests_per_minute / tokens_per_minute), refilled
 * continuously.  A call short of tokens waits for them when that takes at
 * most ai_gateway.rate_limit_wait_ms, else fails with 53400 and the wait
 * it would need.
 *
 * Saving and restoring usage is quota_persist.c (quota_internal.h is what
 * the two share).  The usage view's function, ai_gateway.usage(), is in
 * api/quota_api.c; it reads a quota's counters through aig_quota_usage().
 *
 * Shared memory: a struct with the two locks and the usage-loaded flag, the
 * usage hash and the bucket hash; sized by aig_quota_shmem_size(), created
 * by aig_quota_shmem_startup() (init/shmem.c calls both).
 *
 * Locking: two LWLocks of the "ai_gateway quota" tranche.  usage_lock
 * guards the usage hash and usage_loaded: exclusive around each
 * reservation, settlement and load, shared to read (persist, usage view).
 * bucket_lock guards the rate-bucket hash: exclusive around each take.  A
 * backend never holds both at once (forget_db takes them one after the
 * other); neither is held across I/O or an ereport.  Entries are removed
 * only for a dropped database.
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/guc.h"

#include "governance/audit.h"
#include "governance/identity.h"
#include "base/compat.h"
#include "core/dbslots.h"
#include "governance/quota.h"
#include "governance/quota_internal.h"
#include "core/search_path.h"

int			aig_max_quota_entries = 2000;
int			aig_rate_limit_wait_ms = 2000;
int			aig_quota_persist_ms = 5000;

typedef struct BucketKey
{
	Oid			dbid;
	char		kind;			/* 'r' role, 'p' provider */
	char		name[NAMEDATALEN * 4];
} BucketKey;

typedef struct BucketEntry
{
	BucketKey	key;
	double		requests;		/* available */
	double		tokens;
	TimestampTz refilled;
} BucketEntry;

#define QUOTA_TRANCHE "ai_gateway quota"

QuotaShared *aig_quota_shared = NULL;

bool
aig_quota_usage_loaded(void)
{
	uint64		gen;
	int			slot = aig_audit_slot(&gen);

	return slot >= 0 && aig_quota_shared->loaded_gen[slot] == gen;
}

void
aig_quota_set_usage_loaded(void)
{
	uint64		gen;
	int			slot = aig_audit_slot(&gen);

	if (slot >= 0)
		aig_quota_shared->loaded_gen[slot] = gen;
}
HTAB	   *aig_quota_usage_hash = NULL;
static HTAB *bucket_hash = NULL;

/* Shared memory needed: the struct, the usage hash and the bucket hash. */
Size
aig_quota_shmem_size(void)
{
	return add_size(add_size(hash_estimate_size(aig_max_quota_entries, sizeof(UsageEntry)),
							 hash_estimate_size(aig_max_quota_entries, sizeof(BucketEntry))),
					MAXALIGN(offsetof(QuotaShared, loaded_gen) + sizeof(uint64) * aig_max_databases));
}

/* Ask for the two locks (from the shmem request hook). */
void
aig_quota_shmem_request(void)
{
	RequestNamedLWLockTranche(QUOTA_TRANCHE, 2);
}

/* Create or attach the struct and both hashes; caller holds AddinShmemInitLock. */
void
aig_quota_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;

	aig_quota_shared = ShmemInitStruct("ai_gateway quota locks",
									   offsetof(QuotaShared, loaded_gen) + sizeof(uint64) * aig_max_databases,
									   &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(QUOTA_TRANCHE);

		aig_quota_shared->usage_lock = &locks[0].lock;
		aig_quota_shared->bucket_lock = &locks[1].lock;
		for (int i = 0; i < aig_max_databases; i++)
			aig_quota_shared->loaded_gen[i] = 0;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(UsageKey);
	info.entrysize = sizeof(UsageEntry);
	aig_quota_usage_hash = ShmemInitHash("ai_gateway quota usage", aig_max_quota_entries,
							   aig_max_quota_entries, &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BucketKey);
	info.entrysize = sizeof(BucketEntry);
	bucket_hash = ShmemInitHash("ai_gateway rate buckets", aig_max_quota_entries,
								aig_max_quota_entries, &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

void
aig_quota_forget_db(Oid dbid)
{
	HASH_SEQ_STATUS st;
	UsageEntry *u;
	BucketEntry *b;

	if (aig_quota_usage_hash == NULL || bucket_hash == NULL || !OidIsValid(dbid))
		return;
	LWLockAcquire(aig_quota_shared->usage_lock, LW_EXCLUSIVE);
	hash_seq_init(&st, aig_quota_usage_hash);
	while ((u = hash_seq_search(&st)) != NULL)
		if (u->key.dbid == dbid)
			hash_search(aig_quota_usage_hash, &u->key, HASH_REMOVE, NULL);
	LWLockRelease(aig_quota_shared->usage_lock);
	LWLockAcquire(aig_quota_shared->bucket_lock, LW_EXCLUSIVE);
	hash_seq_init(&st, bucket_hash);
	while ((b = hash_seq_search(&st)) != NULL)
		if (b->key.dbid == dbid)
			hash_search(bucket_hash, &b->key, HASH_REMOVE, NULL);
	LWLockRelease(aig_quota_shared->bucket_lock);
}

const char *
aig_period_name(AigPeriod p)
{
	static const char *const names[] = {"minute", "hour", "day", "month"};

	return names[p];
}

/* Start of the period containing now, and of the next one (UTC). */
void
aig_quota_period_window(AigPeriod p, int64 now, int64 *start, int64 *next)
{
	struct tm	tm;
	time_t		t = (time_t) now;

	switch (p)
	{
		case AIG_PERIOD_MINUTE:
			*start = now - now % 60;
			*next = *start + 60;
			return;
		case AIG_PERIOD_HOUR:
			*start = now - now % 3600;
			*next = *start + 3600;
			return;
		case AIG_PERIOD_DAY:
			*start = now - now % 86400;
			*next = *start + 86400;
			return;
		case AIG_PERIOD_MONTH:
			gmtime_r(&t, &tm);
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			*start = (int64) timegm(&tm);
			tm.tm_mon += 1;
			*next = (int64) timegm(&tm);
			return;
	}
}

int64
aig_quota_unix_now(void)
{
	return (int64) time(NULL);
}

static char *
unix_to_text(int64 t)
{
	TimestampTz ts = time_t_to_timestamptz((pg_time_t) t);

	return pstrdup(timestamptz_to_str(ts));
}

/* Is role me held by a quota on role_oid: its own, or one of its groups'? */
static bool
role_held(Oid me, Oid role_oid)
{
	return role_oid == me || is_member_of_role_nosuper(me, role_oid);
}

/*
 * Does a quota or rate limit on role_oid hold the current call?  It holds
 * the current user (its own role's and its groups') and the session's
 * login role (identity.h) — so SET ROLE to a group without a quota, or a
 * SECURITY DEFINER function, escapes no limit of the login role: both are
 * checked and charged.  is_member_of_role() would also say yes for a
 * superuser and every role, charging an administrator's calls to every
 * team's pool (and refusing them when any pool is spent), so membership is
 * taken without that superuser shortcut.
 */
bool
aig_quota_applies_to_user(Oid role_oid)
{
	Oid			me = GetUserId();
	Oid			session = aig_session_role();

	if (!OidIsValid(role_oid))
		return false;
	return role_held(me, role_oid) ||
		(OidIsValid(session) && session != me && role_held(session, role_oid));
}


typedef struct Refusal
{
	const AigQuota *q;
	const char *what;
	double		used;
	double		limit;
	int64		resets;
} Refusal;

/*
 * Would a call needing est_tokens and est_cost pass quota q, used as e says?
 * Fills *r with what it would exceed (and when the period resets) when not.
 */
static bool
quota_refuses(const AigQuota *q, const UsageEntry *e, int64 est_tokens, double est_cost,
			  int64 resets, Refusal *r)
{
	if (q->max_requests >= 0 && e->requests + 1 > q->max_requests)
		*r = (Refusal) {q, "requests", (double) e->requests, (double) q->max_requests, resets};
	else if (q->max_tokens >= 0 && e->tokens + e->tokens_reserved + est_tokens > q->max_tokens)
		*r = (Refusal) {q, "tokens", (double) (e->tokens + e->tokens_reserved),
		(double) q->max_tokens, resets};
	else if (q->max_cost_usd >= 0 && e->cost + e->cost_reserved + est_cost > q->max_cost_usd)
		*r = (Refusal) {q, "cost_usd", e->cost + e->cost_reserved, q->max_cost_usd, resets};
	else
		return false;
	return true;
}

/* Raise the 53400 of a refusal. */
static void
raise_refusal(const Refusal *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("quota exceeded for role \"%s\": %s per %s", r->q->role,
					r->what, aig_period_name(r->q->period)),
			 errdetail("Used %g of %g %s this %s; the call needs more.", r->used,
					   r->limit, r->what, aig_period_name(r->q->period)),
			 errhint("The quota resets at %s.", unix_to_text(r->resets))));
}

/*
 * The usage entry of quota q in this database (usage_lock held
 * exclusively), moved to the current period (*window; *next: when it
 * ends); NULL when the table is full.
 */
static UsageEntry *
current_usage(const AigQuota *q, int64 now, int64 *window, int64 *next)
{
	UsageKey	key;
	UsageEntry *e;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.roleid = q->role_oid;
	key.period = q->period;
	e = hash_search(aig_quota_usage_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
		return NULL;
	aig_quota_period_window(q->period, now, window, next);
	if (!found || e->window < *window)
	{
		e->window = *window;
		e->requests = e->tokens = e->tokens_reserved = 0;
		e->cost = e->cost_reserved = 0;
	}
	return e;
}

void
aig_quota_reserve(AigQuotaTicket *t, int64 est_tokens, double est_cost)
{
	int			nq;
	const AigQuota *quotas = aig_catalog_quotas(&nq);
	const AigQuota *mine[AIG_MAX_TICKET];
	int			nmine = 0;
	int64		now = aig_quota_unix_now();
	Refusal		refusal = {0};
	bool		full = false;

	t->n = 0;
	for (int i = 0; i < nq && nmine < AIG_MAX_TICKET; i++)
		if (aig_quota_applies_to_user(quotas[i].role_oid))
			mine[nmine++] = &quotas[i];

	/* after a start or a crash, the saved usage counts before any call */
	if (nmine > 0 && !aig_quota_usage_loaded() && aig_audit_db_served())
		aig_quota_load_as_owner();
	if (nmine > 0)
	{
		UsageEntry *entries[AIG_MAX_TICKET];
		int64		windows[AIG_MAX_TICKET];

		LWLockAcquire(aig_quota_shared->usage_lock, LW_EXCLUSIVE);
		for (int i = 0; i < nmine && !refusal.q && !full; i++)
		{
			const AigQuota *q = mine[i];
			UsageEntry *e;
			int64		next;

			e = current_usage(q, now, &windows[i], &next);
			if (e == NULL)
			{
				full = true;
				break;
			}
			entries[i] = e;
			(void) quota_refuses(q, e, est_tokens, est_cost, next, &refusal);
		}
		if (!refusal.q && !full)
		{
			for (int i = 0; i < nmine; i++)
			{
				entries[i]->requests++;
				entries[i]->tokens_reserved += est_tokens;
				entries[i]->cost_reserved += est_cost;
				t->items[t->n].entry = entries[i];
				t->items[t->n].window = windows[i];
				t->items[t->n].est_tokens = est_tokens;
				t->items[t->n].est_cost = est_cost;
				t->n++;
			}
		}
		LWLockRelease(aig_quota_shared->usage_lock);
	}

	if (full)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("ai_gateway quota usage table is full"),
				 errhint("Raise ai_gateway.max_quota_entries (requires a restart).")));
	if (refusal.q)
		raise_refusal(&refusal);
}

/*
 * Charge work already done (a provider batch's answer) to every quota of
 * the current user: its tokens and cost in the current period, no request
 * (the request was counted when it was sent) and no refusal — what was
 * used is used.  A full usage table skips the quota, with a warning.
 * Never raises but for that warning.
 */
void
aig_quota_charge(int64 tokens, double cost)
{
	int			nq;
	const AigQuota *quotas = aig_catalog_quotas(&nq);
	int64		now = aig_quota_unix_now();
	bool		full = false;

	if (nq > 0 && !aig_quota_usage_loaded() && aig_audit_db_served())
		aig_quota_load_as_owner();
	LWLockAcquire(aig_quota_shared->usage_lock, LW_EXCLUSIVE);
	for (int i = 0; i < nq; i++)
	{
		const AigQuota *q = &quotas[i];
		UsageEntry *e;
		int64		window;
		int64		next;

		if (!aig_quota_applies_to_user(q->role_oid))
			continue;
		e = current_usage(q, now, &window, &next);
		if (e == NULL)
		{
			full = true;
			continue;
		}
		if (e->window == window)
		{
			e->tokens += tokens;
			e->cost += cost;
		}
	}
	LWLockRelease(aig_quota_shared->usage_lock);
	if (full)
		ereport(WARNING,
				(errmsg("ai_gateway quota usage table is full: a batch answer was not charged to every quota"),
				 errhint("Raise ai_gateway.max_quota_entries.")));
}

void
aig_quota_settle(AigQuotaTicket *t, int64 tokens, double cost)
{
	if (t->n == 0)
		return;
	LWLockAcquire(aig_quota_shared->usage_lock, LW_EXCLUSIVE);
	for (int i = 0; i < t->n; i++)
	{
		UsageEntry *e = (UsageEntry *) t->items[i].entry;

		if (e->window != t->items[i].window)
			continue;			/* a new period started meanwhile */
		e->tokens_reserved -= t->items[i].est_tokens;
		e->cost_reserved -= t->items[i].est_cost;
		e->tokens += tokens;
		e->cost += cost;
	}
	LWLockRelease(aig_quota_shared->usage_lock);
	t->n = 0;
}

/*
 * Take one request and est_tokens from a bucket refilling `rpm` requests
 * and `tpm` tokens a minute; on a shortfall, *wait_ms is how long until it
 * would succeed.  bucket_lock held by the caller.
 */
static bool
bucket_take(BucketEntry *b, bool found, int rpm, int tpm, int64 est_tokens,
			TimestampTz now, long *wait_ms)
{
	double		elapsed_s;
	double		need = 0;

	if (!found)
	{
		b->requests = rpm > 0 ? rpm : 0;
		b->tokens = tpm > 0 ? tpm : 0;
		b->refilled = now;
	}
	elapsed_s = (double) (now - b->refilled) / 1e6;
	if (elapsed_s > 0)
	{
		if (rpm > 0)
			b->requests = Min((double) rpm, b->requests + elapsed_s * rpm / 60.0);
		if (tpm > 0)
			b->tokens = Min((double) tpm, b->tokens + elapsed_s * tpm / 60.0);
		b->refilled = now;
	}
	if (rpm > 0 && b->requests < 1)
		need = Max(need, (1 - b->requests) * 60.0 / rpm);
	/* a request bigger than the whole bucket waits for a full one */
	if (tpm > 0 && b->tokens < Min((double) est_tokens, (double) tpm))
		need = Max(need, (Min((double) est_tokens, (double) tpm) - b->tokens) * 60.0 / tpm);
	if (need > 0)
	{
		*wait_ms = (long) ceil(need * 1000);
		return false;
	}
	if (rpm > 0)
		b->requests -= 1;
	if (tpm > 0)
		b->tokens -= Min((double) est_tokens, (double) tpm);
	return true;
}

/* Take from a bucket, waiting if that is quick enough. */
static bool
rate_take(char kind, const char *name, int rpm, int tpm, int64 est_tokens, long *need_ms)
{
	BucketKey	key;
	int			waited = 0;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.kind = kind;
	strlcpy(key.name, name, sizeof(key.name));
	for (;;)
	{
		BucketEntry *b;
		bool		found;
		bool		ok;
		long		wait = 0;

		LWLockAcquire(aig_quota_shared->bucket_lock, LW_EXCLUSIVE);
		b = hash_search(bucket_hash, &key, HASH_ENTER_NULL, &found);
		ok = b == NULL || bucket_take(b, found, rpm, tpm, est_tokens, GetCurrentTimestamp(), &wait);
		LWLockRelease(aig_quota_shared->bucket_lock);
		if (ok)
			return true;
		if (waited + wait > aig_rate_limit_wait_ms)
		{
			*need_ms = wait;
			return false;
		}
		/* wait for the refill, interruptibly */
		while (wait > 0)
		{
			long		slice = Min(wait, 100);

			CHECK_FOR_INTERRUPTS();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 slice, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			wait -= slice;
			waited += slice;
		}
	}
}

static void
role_rate_limits(int64 est_tokens)
{
	int			n;
	const AigRateLimit *limits = aig_catalog_rate_limits(&n);

	for (int i = 0; i < n; i++)
	{
		const AigRateLimit *l = &limits[i];
		long		need = 0;

		if (!aig_quota_applies_to_user(l->role_oid))
			continue;
		if (!rate_take('r', l->role, l->requests_per_minute, l->tokens_per_minute,
					   est_tokens, &need))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("rate limit exceeded for role \"%s\"", l->role),
					 l->tokens_per_minute > 0 && l->requests_per_minute > 0 ?
					 errdetail("Limits: %d requests and %d tokens per minute.",
							   l->requests_per_minute, l->tokens_per_minute) :
					 l->requests_per_minute > 0 ?
					 errdetail("Limit: %d requests per minute.", l->requests_per_minute) :
					 errdetail("Limit: %d tokens per minute.", l->tokens_per_minute),
					 errhint("Retry in %ld ms.", need)));
	}
}

bool
aig_provider_rate_take(const AigProvider *p, int64 est_tokens, char **why)
{
	long		need = 0;

	if (p->requests_per_minute <= 0 && p->tokens_per_minute <= 0)
		return true;
	if (rate_take('p', p->name, p->requests_per_minute, p->tokens_per_minute, est_tokens, &need))
		return true;
	*why = psprintf("rate limit of provider \"%s\" exceeded; retry in %ld ms", p->name, need);
	return false;
}

/*
 * Is the current user already at one of its quotas — every request of the
 * period used, or its tokens or cost spent past the limit — so that any
 * call would be refused?  Then raise the reservation's 53400 now; nothing
 * is taken either way (aig_quota_reserve decides).  Without a quota for the
 * user: no lock, a loop over the catalog's quotas.
 */
void
aig_quota_precheck(void)
{
	int			nq;
	const AigQuota *quotas = aig_catalog_quotas(&nq);
	Refusal		refusal = {0};
	int64		now;
	bool		any = false;

	for (int i = 0; i < nq && !any; i++)
		any = aig_quota_applies_to_user(quotas[i].role_oid);
	/* before the saved usage is loaded, only the reservation can tell */
	if (!any || !aig_quota_usage_loaded())
		return;
	now = aig_quota_unix_now();
	LWLockAcquire(aig_quota_shared->usage_lock, LW_SHARED);
	for (int i = 0, n = 0; i < nq && n < AIG_MAX_TICKET && !refusal.q; i++)
	{
		const AigQuota *q = &quotas[i];
		UsageKey	key;
		UsageEntry *e;
		int64		window;
		int64		next;

		if (!aig_quota_applies_to_user(q->role_oid))
			continue;
		n++;
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.roleid = q->role_oid;
		key.period = q->period;
		e = hash_search(aig_quota_usage_hash, &key, HASH_FIND, NULL);
		aig_quota_period_window(q->period, now, &window, &next);
		if (e == NULL || e->window != window)
			continue;			/* nothing used in this period yet */
		/* any call takes a request and at least one token */
		(void) quota_refuses(q, e, 1, 0.0, next, &refusal);
	}
	LWLockRelease(aig_quota_shared->usage_lock);
	if (refusal.q)
		raise_refusal(&refusal);
}

/* Reserve quotas, then the role's rate limits. */
void
aig_quota_check(AigQuotaTicket *t, int64 est_tokens, double est_cost)
{
	role_rate_limits(est_tokens);
	aig_quota_reserve(t, est_tokens, est_cost);
}

/* What quota q has used in its current period in this database (the usage view). */
void
aig_quota_usage(const AigQuota *q, AigQuotaUsage *out)
{
	UsageKey	key;
	UsageEntry *e;

	memset(out, 0, sizeof(*out));
	aig_quota_period_window(q->period, aig_quota_unix_now(), &out->window_start, &out->window_end);
	if (!OidIsValid(q->role_oid))
		return;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.roleid = q->role_oid;
	key.period = q->period;
	LWLockAcquire(aig_quota_shared->usage_lock, LW_SHARED);
	e = hash_search(aig_quota_usage_hash, &key, HASH_FIND, NULL);
	if (e && e->window == out->window_start)
	{
		out->requests = e->requests;
		out->tokens = e->tokens;
		out->tokens_reserved = e->tokens_reserved;
		out->cost = e->cost;
		out->cost_reserved = e->cost_reserved;
	}
	LWLockRelease(aig_quota_shared->usage_lock);
}

/* Define the quota and rate-limit ai_gateway.* GUCs (called from _PG_init). */
void
aig_quota_define_gucs(void)
{
	/* PGC_POSTMASTER: defined only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ai_gateway.max_quota_entries",
								"Role/period quota counters and rate buckets kept in shared memory.",
								NULL,
								&aig_max_quota_entries,
								2000, 16, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.quota_persist_ms",
							"How often the worker saves quota usage.",
							NULL,
							&aig_quota_persist_ms,
							5000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.rate_limit_wait_ms",
							"Longest wait for a rate limit's bucket to refill before the call fails.",
							NULL,
							&aig_rate_limit_wait_ms,
							2000, 0, 600000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}
