/*
 * quota_internal.h — what quota.c (reservations, rate limits) and
 * quota_persist.c (saving and restoring usage) share: the usage hash's
 * entries, the shared struct and the period arithmetic.  Not for other
 * files: they use governance/quota.h.
 */
#ifndef AIG_QUOTA_INTERNAL_H
#define AIG_QUOTA_INTERNAL_H

#include "postgres.h"

#include "storage/lwlock.h"
#include "utils/hsearch.h"

#include "core/catalog.h"

typedef struct UsageKey
{
	Oid			dbid;
	Oid			roleid;
	int32		period;
} UsageKey;

typedef struct UsageEntry
{
	UsageKey	key;
	int64		window;			/* start of the period, Unix seconds */
	int64		requests;
	int64		tokens;			/* used */
	int64		tokens_reserved;
	double		cost;
	double		cost_reserved;
} UsageEntry;

typedef struct QuotaShared
{
	LWLock	   *usage_lock;		/* aig_quota_usage_hash and loaded_gen */
	LWLock	   *bucket_lock;	/* bucket_hash */
	/* per database slot (core/dbslots.h): the generation whose saved usage was added */
	uint64		loaded_gen[FLEXIBLE_ARRAY_MEMBER];
} QuotaShared;

/* Has this database's saved usage been added to shared memory (usage_lock held)?  Mark it so. */
extern bool aig_quota_usage_loaded(void);
extern void aig_quota_set_usage_loaded(void);

extern QuotaShared *aig_quota_shared;
extern HTAB *aig_quota_usage_hash;	/* UsageKey -> UsageEntry, under usage_lock */

/* Start of period p's window containing now, and of the next (Unix seconds). */
extern void aig_quota_period_window(AigPeriod p, int64 now, int64 *start, int64 *next);
extern int64 aig_quota_unix_now(void);
/* Load the saved usage as the quota_usage table's owner (a call before the worker did). */
extern void aig_quota_load_as_owner(void);

#endif							/* AIG_QUOTA_INTERNAL_H */
