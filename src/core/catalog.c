/*
 * catalog.c — per-backend cache of the gateway configuration.
 *
 * The ai_gateway.providers, routes, route_targets and models tables (and
 * quotas, rate limits, grants) are read with SPI (as the tables' owner, so
 * callers need no privilege on key columns; the reading is catalog_load.c)
 * into aig_catalog_cxt, a child of CacheMemoryContext, and looked up
 * through hash tables on every call.  A statement-level trigger on each table
 * (ai_gateway.catalog_changed) sends a relcache invalidation of the marker
 * relation ai_gateway.providers; it reaches every backend at commit (and this
 * backend at the next command), where catalog_inval_cb marks the cache stale.
 * The pattern is pg_cron's job cache.
 *
 * A reload that races with an invalidation (one arriving while SPI reads the
 * tables) is detected with a counter and repeated, so a stale snapshot is
 * never marked valid.  Decrypted API keys live only in this context.
 *
 * A call holds pointers into the cache (its route, targets, providers) for
 * its whole duration, and a hook or a row-security policy it runs may call
 * back into the extension after a configuration change and reload the
 * cache.  So a call pins the cache (aig_catalog_pin, from the pipeline's
 * resolve stage, to aig_catalog_unpin at its end): a reload while the cache
 * is pinned builds a new context and retires the old one, which is freed
 * when the last pin goes or, at the latest, at the end of the transaction
 * (a call that fails never unpins; the transaction's end does it).
 * The job worker's calls outlive transactions (each job's result is stored
 * as it comes while others are still in flight): each holds the cache it
 * resolved from (aig_catalog_hold / aig_catalog_release, counted per
 * cache), and a retired cache is freed once no call pins or holds it —
 * older caches go even while newer ones are held.
 */
#include "postgres.h"

#include <stdlib.h>

#include <limits.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "utils/acl.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "core/catalog_internal.h"

#define AIG_SCHEMA "ai_gateway"

typedef struct StateEntry
{
	char		key[AIG_PRICE_KEYLEN];
	struct AigTargetState *state;
	struct AigStats *stats;
	bool		stats_known;
} StateEntry;

AigCatalogHooks aig_catalog_hooks;

/* the cache (catalog_internal.h); rebuilt by each load */
MemoryContext aig_catalog_cxt = NULL;
HTAB	   *aig_provider_hash = NULL;
HTAB	   *aig_route_hash = NULL;
HTAB	   *aig_price_hash = NULL;
AigQuota   *aig_quotas = NULL;
int			aig_nquotas = 0;
AigRateLimit *aig_rate_limits = NULL;
int			aig_nrate_limits = 0;
Oid			aig_admin_role = InvalidOid;

static HTAB *direct_state_hash = NULL;	/* provider\x1fmodel -> shared state */
static Oid	extension_owner = InvalidOid;
static bool catalog_valid = false;
static bool callback_registered = false;
static uint64 inval_count = 0;
static Oid	marker_relid = InvalidOid;
static int	catalog_pins = 0;	/* calls in flight holding pointers into the cache */
static List *retired_cxts = NIL;	/* older caches still pinned, in TopMemoryContext */
static bool xact_callback_registered = false;

/* A cache held by calls that outlive transactions (the job worker's), and by how many. */
typedef struct HeldCache
{
	MemoryContext cxt;
	int			holds;
} HeldCache;

static List *held_caches = NIL; /* of HeldCache *, in TopMemoryContext */

/* The hold count of cache cxt, or NULL when no call holds it. */
static HeldCache *
held_of(MemoryContext cxt)
{
	ListCell   *lc;

	foreach(lc, held_caches)
		if (((HeldCache *) lfirst(lc))->cxt == cxt)
			return (HeldCache *) lfirst(lc);
	return NULL;
}

/* Free the retired caches no call pins or holds any more. */
static void
free_retired(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, retired_cxts)
	{
		MemoryContext c = (MemoryContext) lfirst(lc);

		if (held_of(c) != NULL)
			kept = lappend(kept, c);
		else
			MemoryContextDelete(c);
	}
	list_free(retired_cxts);
	retired_cxts = kept;
	MemoryContextSwitchTo(old);
}

/* At a transaction's end no call of it is in flight: every pin is gone. */
static void
catalog_xact_cb(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		catalog_pins = 0;
		if (retired_cxts != NIL)
			free_retired();
	}
}

/* A call begins to hold pointers into the cache. */
void
aig_catalog_pin(void)
{
	catalog_pins++;
}

/* A call lets go of the cache; the last one frees the caches it kept alive. */
void
aig_catalog_unpin(void)
{
	if (catalog_pins > 0)
		catalog_pins--;
	if (catalog_pins == 0 && retired_cxts != NIL)
		free_retired();
}

/*
 * A call that outlives its transaction begins to hold the current cache
 * (the one it resolved from); the token names it for aig_catalog_release.
 */
void *
aig_catalog_hold(void)
{
	HeldCache  *h = held_of(aig_catalog_cxt);

	if (h == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		h = palloc0(sizeof(HeldCache));
		h->cxt = aig_catalog_cxt;
		held_caches = lappend(held_caches, h);
		MemoryContextSwitchTo(old);
	}
	h->holds++;
	return h->cxt;
}

/* Such a call ends; a retired cache nothing pins or holds any more is freed. */
void
aig_catalog_release(void *token)
{
	HeldCache  *h = held_of((MemoryContext) token);

	if (h != NULL && --h->holds <= 0)
	{
		held_caches = list_delete_ptr(held_caches, h);
		pfree(h);
	}
	if (catalog_pins == 0 && retired_cxts != NIL)
		free_retired();
}

static void
catalog_inval_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == marker_relid)
	{
		catalog_valid = false;
		inval_count++;
	}
}

static Oid
lookup_marker_relid(bool missing_ok)
{
	Oid			nsp = get_namespace_oid(AIG_SCHEMA, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("providers", nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ai_gateway is not installed in this database"),
				 errhint("Run CREATE EXTENSION ai_gateway.")));
	return relid;
}

static HTAB *
make_hash(const char *name, Size keysize, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = aig_catalog_cxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

const AigQuota *
aig_catalog_quotas(int *n)
{
	*n = aig_nquotas;
	return aig_quotas;
}

const AigRateLimit *
aig_catalog_rate_limits(int *n)
{
	*n = aig_nrate_limits;
	return aig_rate_limits;
}

int
aig_catalog_providers(AigProvider ***out)
{
	HASH_SEQ_STATUS st;
	ProviderEntry *e;
	int			n = 0;

	*out = palloc(sizeof(AigProvider *) * Max(hash_get_num_entries(aig_provider_hash), 1));
	hash_seq_init(&st, aig_provider_hash);
	while ((e = hash_seq_search(&st)) != NULL)
		(*out)[n++] = e->provider;
	return n;
}

Oid
aig_catalog_owner(void)
{
	return extension_owner;
}

bool
aig_is_admin(void)
{
	Oid			me = GetUserId();

	if (superuser())
		return true;
	if (OidIsValid(extension_owner) && has_privs_of_role(me, extension_owner))
		return true;
	return OidIsValid(aig_admin_role) && is_member_of_role(me, aig_admin_role);
}

PG_FUNCTION_INFO_V1(aig_is_admin_sql);
Datum
aig_is_admin_sql(PG_FUNCTION_ARGS)
{
	aig_catalog_ensure();
	PG_RETURN_BOOL(aig_is_admin());
}

static bool
granted(bool pub, int n, const Oid *grants)
{
	Oid			me = GetUserId();

	if (pub)
		return true;
	for (int i = 0; i < n; i++)
		if (grants[i] == me || is_member_of_role(me, grants[i]))
			return true;
	return aig_is_admin();
}

bool
aig_catalog_route_allowed(const AigRoute *route)
{
	return granted(route->grant_public, route->ngrants, route->grants);
}

bool
aig_catalog_provider_allowed(const AigProvider *p)
{
	return granted(p->grant_public, p->ngrants, p->grants);
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static void
catalog_load(void)
{
	Oid			save_userid;
	int			save_sec;

	if (aig_catalog_cxt != NULL && (catalog_pins > 0 || held_of(aig_catalog_cxt) != NULL))
	{
		/* a call in flight still reads the old cache: keep it until it ends */
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		retired_cxts = lappend(retired_cxts, aig_catalog_cxt);
		MemoryContextSwitchTo(old);
		aig_catalog_cxt = NULL;
	}
	if (aig_catalog_cxt == NULL)
		aig_catalog_cxt = AllocSetContextCreate(CacheMemoryContext,
												"ai_gateway catalog",
												ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(aig_catalog_cxt);
	aig_provider_hash = make_hash("ai_gateway providers", AIG_NAME_KEYLEN, sizeof(ProviderEntry));
	aig_route_hash = make_hash("ai_gateway routes", AIG_NAME_KEYLEN, sizeof(RouteEntry));
	aig_price_hash = make_hash("ai_gateway prices", AIG_PRICE_KEYLEN, sizeof(PriceEntry));
	direct_state_hash = make_hash("ai_gateway direct targets", AIG_PRICE_KEYLEN, sizeof(StateEntry));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	extension_owner = relation_owner(marker_relid);
	SetUserIdAndSecContext(extension_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		aig_catalog_load_tables();
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

void
aig_catalog_ensure(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_inval_cb, (Datum) 0);
		callback_registered = true;
	}
	if (!xact_callback_registered)
	{
		RegisterXactCallback(catalog_xact_cb, NULL);
		xact_callback_registered = true;
	}
	/* pick up invalidations sent by other backends' commits */
	AcceptInvalidationMessages();
	if (catalog_valid && OidIsValid(marker_relid))
		return;

	for (int tries = 0;; tries++)
	{
		uint64		seen = inval_count;

		marker_relid = lookup_marker_relid(false);
		PG_TRY();
		{
			catalog_load();
		}
		PG_CATCH();
		{
			/* leave no half-built cache behind */
			aig_provider_hash = aig_route_hash = aig_price_hash = direct_state_hash = NULL;
			if (aig_catalog_cxt)
				MemoryContextReset(aig_catalog_cxt);
			catalog_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (seen == inval_count || tries >= 3)
			break;
	}
	catalog_valid = true;
}

AigRoute *
aig_catalog_route(const char *name)
{
	RouteEntry *e;
	const char *at;
	char	   *end;
	long		version;

	if (aig_route_hash == NULL || strlen(name) >= AIG_NAME_KEYLEN)
		return NULL;
	e = hash_search(aig_route_hash, name, HASH_FIND, NULL);
	if (e)
		return e->route;

	/* "route@N" pins version N */
	at = strrchr(name, '@');
	if (at == NULL || at == name || at[1] == '\0')
		return NULL;
	version = strtol(at + 1, &end, 10);
	if (*end != '\0' || version <= 0 || version > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid route version in \"%s\"", name),
				 errhint("Pin a version as \"route@N\" with N a version of ai_gateway.route_versions.")));
	{
		char	   *rname = pnstrdup(name, at - name);
		AigRoute   *r = aig_catalog_load_route_version(name, rname, (int) version);

		if (r == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route \"%s\" has no version %ld", rname, version),
					 errhint("SELECT version FROM ai_gateway.route_versions WHERE route = '%s' lists them.",
							 rname)));
		return r;
	}
}

AigProvider *
aig_catalog_provider(const char *name)
{
	ProviderEntry *e;

	if (aig_provider_hash == NULL || strlen(name) >= AIG_NAME_KEYLEN)
		return NULL;
	e = hash_search(aig_provider_hash, name, HASH_FIND, NULL);
	return e ? e->provider : NULL;
}

bool
aig_catalog_providers_loaded(void)
{
	return aig_provider_hash != NULL;
}

void
aig_catalog_mark_stale(void)
{
	/* as an invalidation would: a pinned cache is retired, not freed */
	catalog_valid = false;
	inval_count++;
}

/* The price of provider/model, else the provider-wide default (model '*'). */
const AigModelPrice *
aig_catalog_price(const char *provider, const char *model)
{
	char		key[AIG_PRICE_KEYLEN];
	PriceEntry *e;

	if (aig_price_hash == NULL)
		return NULL;
	snprintf(key, sizeof(key), "%s\x1f%s", provider, model);
	e = hash_search(aig_price_hash, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		snprintf(key, sizeof(key), "%s\x1f*", provider);
		e = hash_search(aig_price_hash, key, HASH_FIND, NULL);
	}
	return e ? &e->price : NULL;
}

/*
 * The shared state of a provider/model called directly, found once per
 * catalog load: later calls pay a local hash lookup, not the shared lock.
 */
struct AigTargetState *
aig_catalog_target_state(const char *provider, const char *model)
{
	char		key[AIG_PRICE_KEYLEN];
	StateEntry *e;
	bool		found;

	if (direct_state_hash == NULL ||
		snprintf(key, sizeof(key), "%s\x1f%s", provider, model) >= (int) sizeof(key))
		return aig_catalog_hook_target_state(provider, model);
	e = hash_search(direct_state_hash, key, HASH_ENTER, &found);
	if (!found)
	{
		e->state = aig_catalog_hook_target_state(provider, model);
		e->stats_known = false;
	}
	return e->state;
}

/* Direct routes share the route hash under their model string (which has a
 * '/' that route names cannot have, so the two never collide). */
AigRoute *
aig_catalog_direct_route(const char *model)
{
	RouteEntry *e;

	if (aig_route_hash == NULL || strlen(model) >= AIG_NAME_KEYLEN)
		return NULL;
	e = hash_search(aig_route_hash, model, HASH_FIND, NULL);
	return e ? e->route : NULL;
}

void
aig_catalog_remember_direct_route(const char *model, AigRoute *route)
{
	RouteEntry *e;

	if (aig_route_hash == NULL || strlen(model) >= AIG_NAME_KEYLEN)
		return;
	e = hash_search(aig_route_hash, model, HASH_ENTER, NULL);
	e->route = route;
}

MemoryContext
aig_catalog_memory(void)
{
	return aig_catalog_cxt;
}

struct AigStats *
aig_catalog_direct_stats(const char *provider, const char *model)
{
	char		key[AIG_PRICE_KEYLEN];
	StateEntry *e;
	bool		found;

	if (direct_state_hash == NULL ||
		snprintf(key, sizeof(key), "%s\x1f%s", provider, model) >= (int) sizeof(key))
		return aig_catalog_hook_stats(NULL, provider, model);
	e = hash_search(direct_state_hash, key, HASH_ENTER, &found);
	if (!found)
		e->state = aig_catalog_hook_target_state(provider, model);
	if (!e->stats_known)
	{
		e->stats = aig_catalog_hook_stats(NULL, provider, model);
		e->stats_known = true;
	}
	return e->stats;
}

/*
 * Statement-level trigger on the configuration tables: tell every backend
 * (at commit) that its catalog cache is stale.
 */
PG_FUNCTION_INFO_V1(aig_catalog_changed);
Datum
aig_catalog_changed(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "aig_catalog_changed must be called as a trigger");
	relid = lookup_marker_relid(true);
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}
