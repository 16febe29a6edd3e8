/*
 * catalog_load.c — reading the configuration tables into the per-backend
 * catalog cache of catalog.c: providers (options applied, keys decrypted),
 * prices, routes and their targets (sorted, with their shared state), route
 * versions on demand, quotas, rate limits and grants.
 *
 * Every query is one of the fixed ones below, run with SPI as the tables'
 * owner (catalog.c switches user) under a pinned search_path.  What is
 * built goes into aig_catalog_cxt and the hashes of catalog_internal.h.
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "catalog/namespace.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/catalog_internal.h"
#include "core/catalog_options.h"
#include "core/jsonb_util.h"
#include "core/search_path.h"
#include "core/provider_secrets.h"

/*
 * SPI_execute_with_args of one of the loader's fixed queries under a pinned
 * search_path: they run as the tables' owner, so nothing in them may resolve
 * through the caller's search_path (its types, operators, functions).  Hook
 * names are looked up outside, with the caller's path, as documented.
 */
static int
spi_read(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	int			level = aig_pin_search_path();
	volatile int ret = 0;

	PG_TRY();
	{
		ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 0);
	}
	PG_FINALLY();
	{
		aig_restore_search_path(level);
	}
	PG_END_TRY();
	return ret;
}

/*
 * Does table ai_gateway.rel have column col?  A library newer than the
 * extension's SQL objects (before ALTER EXTENSION UPDATE) reads what exists.
 */
static bool
has_column(const char *rel, const char *col)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(rel, nsp) : InvalidOid;

	return OidIsValid(relid) && get_attnum(relid, col) != InvalidAttrNumber;
}

static char *
spi_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static Jsonb *
spi_jsonb(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

static char *
spi_name(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : pstrdup(NameStr(*DatumGetName(d)));
}

static Oid
spi_oid(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

static int
spi_int(HeapTuple tup, TupleDesc desc, int col, int dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? dflt : DatumGetInt32(d);
}

static void
load_providers(void)
{
	int			ret;

	ret = spi_read(has_column("providers", "api_key_env_by") ?
				   "SELECT name, kind, base_url, api_key_encrypted, options, enabled, "
				   "       api_key_env_by::oid FROM ai_gateway.providers" :
				   "SELECT name, kind, base_url, api_key_encrypted, options, enabled, "
				   "       NULL::oid FROM ai_gateway.providers",
				   0, NULL, NULL);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.providers: %s", SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(aig_catalog_cxt);
		AigProvider *p = palloc0(sizeof(AigProvider));
		char	   *sealed;
		char	   *env;
		Jsonb	   *opts;
		bool		isnull;
		ProviderEntry *e;
		bool		found;

		p->name = spi_text(tup, desc, 1);
		p->kind = spi_text(tup, desc, 2);
		p->dialect = aig_dialect_for_kind(p->kind);
		p->base_url = spi_text(tup, desc, 3);
		sealed = spi_text(tup, desc, 4);
		opts = spi_jsonb(tup, desc, 5);
		p->enabled = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull)) || isnull;

		if (p->dialect == NULL)
			elog(ERROR, "provider \"%s\" has unknown kind \"%s\"", p->name,
				 p->kind ? p->kind : "");
		/* vertex_ai sends the Gemini API's bodies: it can what gemini can */
		p->caps = p->dialect == &aig_dialect_vertex_ai ? aig_dialect_gemini.caps :
			p->dialect->caps;
		aig_provider_apply_options(p, opts);

		env = aig_jsonb_get_string(opts, "api_key_env", "provider option");
		aig_provider_open_secrets(p, sealed, env, spi_oid(tup, desc, 7));

		e = hash_search(aig_provider_hash, p->name, HASH_ENTER, &found);
		e->provider = p;
		MemoryContextSwitchTo(old);
	}
}

static int
target_cmp(const void *a, const void *b)
{
	const AigTarget *ta = a;
	const AigTarget *tb = b;
	int			c;

	if (ta->priority != tb->priority)
		return ta->priority < tb->priority ? -1 : 1;
	c = strcmp(ta->provider->name, tb->provider->name);
	return c != 0 ? c : strcmp(ta->model, tb->model);
}

/* Is s one of AIG_STRATEGY_LIST? */
bool
aig_strategy_valid(const char *s)
{
	static const char *const names[] = {"fallback", "weighted", "cheapest", "fastest", "round_robin"};

	for (int i = 0; i < lengthof(names); i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

static AigStrategy
parse_strategy(const char *s)
{
	if (s == NULL || strcmp(s, "fallback") == 0)
		return AIG_STRATEGY_FALLBACK;
	if (strcmp(s, "weighted") == 0)
		return AIG_STRATEGY_WEIGHTED;
	if (strcmp(s, "cheapest") == 0)
		return AIG_STRATEGY_CHEAPEST;
	if (strcmp(s, "fastest") == 0)
		return AIG_STRATEGY_FASTEST;
	if (strcmp(s, "round_robin") == 0)
		return AIG_STRATEGY_ROUND_ROBIN;
	elog(ERROR, "unknown route strategy \"%s\"", s);
	return AIG_STRATEGY_FALLBACK;	/* keep compiler quiet */
}

/* A route without targets yet, in aig_catalog_cxt. */
static AigRoute *
new_route(char *name, const char *strategy, Jsonb *opts)
{
	MemoryContext old = MemoryContextSwitchTo(aig_catalog_cxt);
	AigRoute   *r = palloc0(sizeof(AigRoute));

	r->name = name;
	r->strategy = parse_strategy(strategy);
	aig_route_apply_options(r, opts, false);
	r->target_cap = 4;
	r->targets = palloc0(sizeof(AigTarget) * r->target_cap);
	MemoryContextSwitchTo(old);
	return r;
}

/* Append a target; unknown providers are skipped (foreign keys prevent them). */
static void
add_target(AigRoute *r, const char *provider, const char *model, int priority,
		   int weight, bool shadow, const char *role)
{
	ProviderEntry *pe = hash_search(aig_provider_hash, provider, HASH_FIND, NULL);
	MemoryContext old;
	AigTarget  *t;

	if (pe == NULL)
		return;
	old = MemoryContextSwitchTo(aig_catalog_cxt);
	if (r->ntargets >= r->target_cap)
	{
		r->target_cap *= 2;
		r->targets = repalloc(r->targets, sizeof(AigTarget) * r->target_cap);
	}
	t = &r->targets[r->ntargets++];
	memset(t, 0, sizeof(*t));
	t->provider = pe->provider;
	t->model = pstrdup(model);
	t->priority = priority;
	t->weight = weight;
	t->shadow = shadow;
	if (role)
	{
		t->role = pstrdup(role);
		t->role_oid = get_role_oid(role, true);
	}
	MemoryContextSwitchTo(old);
}

/* Sort targets and attach their shared state and prices. */
static void
finish_route(AigRoute *r)
{
	if (r->ntargets > 1)
		qsort(r->targets, r->ntargets, sizeof(AigTarget), target_cmp);
	for (int i = 0; i < r->ntargets; i++)
	{
		AigTarget  *t = &r->targets[i];

		t->state = aig_catalog_hook_target_state(t->provider->name, t->model);
		t->stats = aig_catalog_hook_stats(r->name, t->provider->name, t->model);
		r->has_shadows |= t->shadow;
		t->price = aig_catalog_price(t->provider->name, t->model);
	}
	if (r->name)
		r->state = aig_catalog_hook_route_state(r->name);
}

static void
load_routes(void)
{
	int			ret;
	uint64		nroutes;

	ret = spi_read(has_column("routes", "hook_owner") ?
				   "SELECT name, strategy, options, hook_owner::oid FROM ai_gateway.routes" :
				   "SELECT name, strategy, options, NULL::oid FROM ai_gateway.routes",
				   0, NULL, NULL);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.routes: %s", SPI_result_code_string(ret));
	nroutes = SPI_processed;
	for (uint64 i = 0; i < nroutes; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(aig_catalog_cxt);
		char	   *name = spi_text(tup, desc, 1);
		RouteEntry *e;

		MemoryContextSwitchTo(old);
		e = hash_search(aig_route_hash, name, HASH_ENTER, NULL);
		e->route = new_route(name, spi_text(tup, desc, 2), spi_jsonb(tup, desc, 3));
		e->route->hook_owner = spi_oid(tup, desc, 4);
	}

	ret = spi_read("SELECT route, provider, model, priority, weight, shadow, role "
				   "FROM ai_gateway.route_targets", 0, NULL, NULL);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.route_targets: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		RouteEntry *re = hash_search(aig_route_hash, spi_text(tup, desc, 1), HASH_FIND, NULL);
		bool		isnull;
		bool		shadow;

		if (re == NULL)
			continue;
		shadow = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull)) && !isnull;
		add_target(re->route, spi_text(tup, desc, 2), spi_text(tup, desc, 3),
				   spi_int(tup, desc, 4, 0), spi_int(tup, desc, 5, 1), shadow,
				   spi_name(tup, desc, 7));
	}
	{
		HASH_SEQ_STATUS st;
		RouteEntry *e;

		hash_seq_init(&st, aig_route_hash);
		while ((e = hash_seq_search(&st)) != NULL)
			finish_route(e->route);
	}
}

/*
 * "route@N": version N from ai_gateway.route_versions, built like a current
 * route and cached until the next invalidation.  NULL when there is none.
 */
AigRoute *
aig_catalog_load_route_version(const char *key, const char *name, int version)
{
	Datum		args[2];
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	AigRoute   *r = NULL;
	int			ret;

	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(version);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = spi_read("SELECT strategy, options, t.provider, t.model, t.priority, "
				   "       t.weight, t.shadow, t.role "
				   "FROM ai_gateway.route_versions v "
				   "LEFT JOIN LATERAL jsonb_to_recordset(v.targets) "
				   "     AS t(provider text, model text, priority int, weight int, "
				   "          shadow bool, role name) ON true "
				   "WHERE v.route = $1 AND v.version = $2",
				   2, argtypes, args);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.route_versions: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *provider;

		if (r == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(aig_catalog_cxt);
			char	   *rname = pstrdup(name);

			MemoryContextSwitchTo(old);
			r = new_route(rname, spi_text(tup, desc, 1), spi_jsonb(tup, desc, 2));
			r->version = version;

			/*
			 * No hook owner: route_versions is the administrators' to
			 * write, so its hook_owner is a record, never trusted.  A
			 * pinned version runs the current route's hooks, as their
			 * owner (aig_pipeline_pinned_policy); with no current route
			 * its hooks are refused.
			 */
			r->hook_owner = InvalidOid;
		}
		provider = spi_text(tup, desc, 3);
		if (provider == NULL)
			continue;			/* a version without targets */
		add_target(r, provider, spi_text(tup, desc, 4), spi_int(tup, desc, 5, 0),
				   spi_int(tup, desc, 6, 1),
				   DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull)) && !isnull,
				   spi_name(tup, desc, 8));
	}
	SPI_finish();
	if (r)
	{
		RouteEntry *e;
		RouteEntry *cur = hash_search(aig_route_hash, name, HASH_FIND, NULL);

		finish_route(r);
		/* a pinned version is called under the route's current grants */
		if (cur)
		{
			r->grant_public = cur->route->grant_public;
			r->ngrants = cur->route->ngrants;
			r->grants = cur->route->grants;
		}
		e = hash_search(aig_route_hash, key, HASH_ENTER, NULL);
		e->route = r;
	}
	return r;
}

static void
load_prices(void)
{
	int			ret;

	/*
	 * The user's rows (by provider name), then the shipped list (by the
	 * provider's kind) for every model the user did not price: neither a
	 * row for that model nor a provider-wide '*' row.  A catalog without
	 * model_catalog (0.2.0 not yet updated) reads the user's rows alone.
	 */
	if (OidIsValid(get_relname_relid("model_catalog", get_namespace_oid("ai_gateway", false))))
		ret = spi_read("SELECT provider, model, input_usd_per_mtok::float8, "
					   "output_usd_per_mtok::float8, context_window FROM ai_gateway.models "
					   "UNION ALL "
					   "SELECT p.name, c.model, c.input_usd_per_mtok::float8, "
					   "c.output_usd_per_mtok::float8, c.context_window "
					   "FROM ai_gateway.providers p JOIN ai_gateway.model_catalog c ON c.kind = p.kind "
					   "WHERE NOT EXISTS (SELECT FROM ai_gateway.models m WHERE m.provider = p.name "
					   "AND m.model IN (c.model, '*'))",
					   0, NULL, NULL);
	else
		ret = spi_read("SELECT provider, model, input_usd_per_mtok::float8, "
					   "output_usd_per_mtok::float8, context_window FROM ai_gateway.models",
					   0, NULL, NULL);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.models: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *provider = spi_text(tup, desc, 1);
		char	   *model = spi_text(tup, desc, 2);
		char		key[AIG_PRICE_KEYLEN];
		PriceEntry *e;
		bool		isnull;
		Datum		d;

		snprintf(key, sizeof(key), "%s\x1f%s", provider, model);
		e = hash_search(aig_price_hash, key, HASH_ENTER, NULL);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		e->price.has_input_price = !isnull;
		e->price.input_usd_per_mtok = isnull ? 0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		e->price.has_output_price = !isnull;
		e->price.output_usd_per_mtok = isnull ? 0 : DatumGetFloat8(d);
		e->price.context_window = spi_int(tup, desc, 5, -1);
	}
}

static int
period_of(const char *s)
{
	if (strcmp(s, "minute") == 0)
		return AIG_PERIOD_MINUTE;
	if (strcmp(s, "hour") == 0)
		return AIG_PERIOD_HOUR;
	if (strcmp(s, "day") == 0)
		return AIG_PERIOD_DAY;
	return AIG_PERIOD_MONTH;
}

static int64
spi_int8(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? -1 : DatumGetInt64(d);
}

/* Grants (grantee NULL = PUBLIC) of each route and provider. */
static void
load_grants(const char *sql, bool routes)
{
	if (spi_read(sql, 0, NULL, NULL) != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway grants");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = spi_text(tup, desc, 1);
		bool		isnull;
		Oid			grantee = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		bool	   *pub;
		int		   *n;
		Oid		  **arr;
		MemoryContext old;

		if (routes)
		{
			RouteEntry *e = hash_search(aig_route_hash, name, HASH_FIND, NULL);

			if (e == NULL)
				continue;
			pub = &e->route->grant_public;
			n = &e->route->ngrants;
			arr = &e->route->grants;
		}
		else
		{
			ProviderEntry *e = hash_search(aig_provider_hash, name, HASH_FIND, NULL);

			if (e == NULL)
				continue;
			pub = &e->provider->grant_public;
			n = &e->provider->ngrants;
			arr = &e->provider->grants;
		}
		if (isnull)
		{
			*pub = true;
			continue;
		}
		old = MemoryContextSwitchTo(aig_catalog_cxt);
		*arr = *arr ? repalloc(*arr, sizeof(Oid) * (*n + 1)) : palloc(sizeof(Oid));
		(*arr)[(*n)++] = grantee;
		MemoryContextSwitchTo(old);
	}
}

static void
load_governance(void)
{
	MemoryContext old;

	if (spi_read("SELECT role::text, period, max_requests, max_tokens, "
				 "max_cost_usd::float8 FROM ai_gateway.quotas", 0, NULL, NULL) != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.quotas");
	old = MemoryContextSwitchTo(aig_catalog_cxt);
	aig_nquotas = (int) SPI_processed;
	aig_quotas = palloc0(sizeof(AigQuota) * Max(aig_nquotas, 1));
	for (int i = 0; i < aig_nquotas; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		aig_quotas[i].role = spi_text(tup, desc, 1);
		aig_quotas[i].role_oid = get_role_oid(aig_quotas[i].role, true);
		aig_quotas[i].period = period_of(spi_text(tup, desc, 2));
		aig_quotas[i].max_requests = spi_int8(tup, desc, 3);
		aig_quotas[i].max_tokens = spi_int8(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		aig_quotas[i].max_cost_usd = isnull ? -1 : DatumGetFloat8(d);
	}
	MemoryContextSwitchTo(old);

	if (spi_read("SELECT role::text, requests_per_minute, tokens_per_minute "
				 "FROM ai_gateway.rate_limits", 0, NULL, NULL) != SPI_OK_SELECT)
		elog(ERROR, "could not read ai_gateway.rate_limits");
	old = MemoryContextSwitchTo(aig_catalog_cxt);
	aig_nrate_limits = (int) SPI_processed;
	aig_rate_limits = palloc0(sizeof(AigRateLimit) * Max(aig_nrate_limits, 1));
	for (int i = 0; i < aig_nrate_limits; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		aig_rate_limits[i].role = spi_text(tup, desc, 1);
		aig_rate_limits[i].role_oid = get_role_oid(aig_rate_limits[i].role, true);
		aig_rate_limits[i].requests_per_minute = spi_int(tup, desc, 2, -1);
		aig_rate_limits[i].tokens_per_minute = spi_int(tup, desc, 3, -1);
	}
	MemoryContextSwitchTo(old);

	load_grants("SELECT route, grantee::oid FROM ai_gateway.route_grants", true);
	load_grants("SELECT provider, grantee::oid FROM ai_gateway.provider_grants", false);
	aig_admin_role = get_role_oid("ai_gateway_admin", true);
}

void
aig_catalog_load_tables(void)
{
	load_providers();
	load_prices();				/* routes attach their targets' prices */
	load_routes();
	load_governance();			/* grants attach to routes and providers */
}
