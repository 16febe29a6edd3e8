/*
 * quota_persist.c — quota usage across restarts: the worker saves this
 * database's usage to ai_gateway.quota_usage every
 * ai_gateway.quota_persist_ms (aig_quota_persist), and the saved usage of
 * the current windows is added back to shared memory once per life of the
 * shared memory (aig_quota_load: by the worker at its start, or by the
 * first call under a quota, as the table's owner).  Locking as in quota.c:
 * usage_lock shared to copy the usage out, exclusive to add it back; never
 * held across SPI.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/search_path.h"
#include "governance/quota.h"
#include "governance/quota_internal.h"

/*
 * Worker: save this database's current usage.  Upserts one row per role and
 * period of the current window; runs in the worker's transaction.
 */
void
aig_quota_persist(void)
{
	HASH_SEQ_STATUS st;
	UsageEntry *e;
	int			cap = aig_max_quota_entries;
	UsageEntry *copy = palloc(sizeof(UsageEntry) * cap);
	int			n = 0;
	Oid			types[6] = {OIDOID, TEXTOID, INT8OID, INT8OID, INT8OID, FLOAT8OID};
	SPIPlanPtr	plan;

	LWLockAcquire(aig_quota_shared->usage_lock, LW_SHARED);
	hash_seq_init(&st, aig_quota_usage_hash);
	while ((e = hash_seq_search(&st)) != NULL)
		if (e->key.dbid == MyDatabaseId && n < cap)
			copy[n++] = *e;
	LWLockRelease(aig_quota_shared->usage_lock);
	if (n == 0)
		return;
	plan = SPI_prepare("INSERT INTO ai_gateway.quota_usage AS u "
					   "(role_oid, period, window_start, requests, tokens, cost_usd) "
					   "VALUES ($1, $2, to_timestamp($3), $4, $5, $6) "
					   "ON CONFLICT (role_oid, period) DO UPDATE SET "
					   "window_start = excluded.window_start, requests = excluded.requests, "
					   "tokens = excluded.tokens, cost_usd = excluded.cost_usd, saved_at = now() "
					   "WHERE u.window_start <> excluded.window_start OR u.requests <> excluded.requests "
					   "OR u.tokens <> excluded.tokens OR u.cost_usd <> excluded.cost_usd",
					   6, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the quota usage upsert");
	for (int i = 0; i < n; i++)
	{
		Datum		v[6];

		v[0] = ObjectIdGetDatum(copy[i].key.roleid);
		v[1] = CStringGetTextDatum(aig_period_name(copy[i].key.period));
		v[2] = Int64GetDatum(copy[i].window);
		v[3] = Int64GetDatum(copy[i].requests);
		v[4] = Int64GetDatum(copy[i].tokens);
		v[5] = Float8GetDatum(copy[i].cost);
		if (SPI_execute_plan(plan, v, NULL, false, 0) < 0)
			elog(ERROR, "could not save quota usage");
	}
	SPI_freeplan(plan);
}

static int
period_from_name(const char *s)
{
	for (int p = AIG_PERIOD_MINUTE; p <= AIG_PERIOD_MONTH; p++)
		if (strcmp(aig_period_name(p), s) == 0)
			return p;
	return -1;
}

/*
 * Bring back the usage saved before a restart or crash (same windows only),
 * adding it to what shared memory counted since: once per life of the
 * shared memory, by whoever comes first (the worker at its start, or a
 * call's load_as_owner()).  In a transaction, SPI connected.
 */
void
aig_quota_load(void)
{
	int64		now = aig_quota_unix_now();

	if (aig_quota_usage_loaded())
		return;
	if (SPI_execute("SELECT role_oid, period, extract(epoch FROM window_start)::int8, "
					"requests, tokens, cost_usd::float8 FROM ai_gateway.quota_usage",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.quota_usage");
	LWLockAcquire(aig_quota_shared->usage_lock, LW_EXCLUSIVE);
	if (aig_quota_usage_loaded())
	{
		LWLockRelease(aig_quota_shared->usage_lock);
		return;
	}
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		UsageKey	key;
		UsageEntry *e;
		bool		found;
		int			period;
		int64		window,
					start,
					next;
		char	   *pname;

		pname = SPI_getvalue(tup, desc, 2);
		period = pname ? period_from_name(pname) : -1;
		if (period < 0)
			continue;
		window = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		aig_quota_period_window(period, now, &start, &next);
		if (window != start)
			continue;			/* an old period: nothing to restore */
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.roleid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		key.period = period;
		e = hash_search(aig_quota_usage_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
			break;
		if (!found || e->window != window)
		{
			e->window = window;
			e->requests = e->tokens = e->tokens_reserved = 0;
			e->cost = e->cost_reserved = 0;
		}
		/* shared memory holds only what was used since it was created */
		e->requests += DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		e->tokens += DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		e->cost += DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
	}
	aig_quota_set_usage_loaded();
	LWLockRelease(aig_quota_shared->usage_lock);
}

/* A call came before the worker loaded the saved usage: load it now, as the table's owner. */
void
aig_quota_load_as_owner(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", false);
	Oid			rel = get_relname_relid("quota_usage", nsp);
	HeapTuple	tup;
	Oid			owner;
	AigAsOwner owner_scope;

	if (!OidIsValid(rel))
		return;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	if (!HeapTupleIsValid(tup))
		return;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(owner, &owner_scope);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		aig_quota_load();
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();
}
