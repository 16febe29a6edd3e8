/*
 * cache.c — the response cache of chat calls.
 *
 * Key: SHA-256 over a fingerprint of the route's configuration (targets,
 * providers' endpoints, strategy, system prompt, policy, hooks), the scope
 * (the caller's role, or none when the route shares answers globally), the
 * messages as sent and every option that changes the answer.  Because the
 * configuration is in the key, an edited route, target or provider never
 * serves an answer its old configuration produced — in any backend, and
 * after a restart — without a message having to reach anyone.
 *
 * Store: the table ai_gateway.cache (one row per key; an UNLOGGED table, so
 * it survives a clean restart and costs no WAL, and is emptied by crash
 * recovery).  Front: each backend keeps the entries it read or wrote in a
 * small LRU hash (ai_gateway.cache_local_kb), so a repeated call costs a
 * hash probe and no SQL.  A shared generation counter, bumped by
 * ai_gateway.cache_clear() (and again when its transaction commits),
 * empties every backend's front at its next lookup.  Expired rows are
 * deleted by the worker once a minute; expired front entries are dropped
 * when met.
 *
 * Writes run in a subtransaction as the extension's owner: a failed write
 * (a read-only transaction, a full disk) warns and never fails the call
 * whose answer it was keeping.
 *
 * Bounds no caller can lift: a call's TTL (its options.cache, the route's
 * cache_ttl_s or the GUC) is cut to ai_gateway.cache_max_ttl_s, and each
 * row records the role whose call stored it (stored_by): once a role has
 * ai_gateway.cache_max_entries_per_role rows, storing another evicts that
 * role's oldest ones (0 stores none).  Neither is ever an error for the
 * call.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "common/shortest_dec.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/preload.h"
#include "core/isolate.h"
#include "governance/cache.h"
#include "governance/standby.h"
#include "core/search_path.h"

int			aig_cache_ttl_s = 0;
int			aig_cache_scope = AIG_CACHE_SCOPE_ROLE;
int			aig_cache_local_kb = 4096;
bool		aig_cache_hits_count_quota = true;
int			aig_cache_max_ttl_s = 86400;
int			aig_cache_max_entries_per_role = 10000;

#define DEFAULT_TTL_S 3600
#define EXPIRE_BATCH 10000

typedef struct CacheShared
{
	pg_atomic_uint64 generation;	/* bumped by cache_clear() */
} CacheShared;

static CacheShared *cache_shared = NULL;

/* One answer kept in this backend's front. */
typedef struct FrontEntry
{
	uint8		digest[32];		/* hash key: must be first */
	dlist_node	lru;			/* most recently used first */
	uint64		generation;
	TimestampTz expires_at;
	Size		bytes;			/* what it costs against cache_local_kb */
	char	   *provider;		/* these point into one allocation */
	char	   *model;
	char	   *content;
	char	   *finish_reason;	/* may be NULL */
	char	   *reported_model; /* may be NULL */
} FrontEntry;

static MemoryContext front_cxt = NULL;
static HTAB *front = NULL;
static dlist_head front_lru = DLIST_STATIC_INIT(front_lru);
static Size front_bytes = 0;

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr write_plan = NULL;
static SPIPlanPtr evict_plan = NULL;
static bool bump_at_commit = false;
static bool xact_callback_registered = false;

Size
aig_cache_shmem_size(void)
{
	return MAXALIGN(sizeof(CacheShared));
}

void
aig_cache_shmem_startup(void)
{
	bool		found;

	cache_shared = ShmemInitStruct("ai_gateway cache", sizeof(CacheShared), &found);
	if (!found)
		pg_atomic_init_u64(&cache_shared->generation, 1);
}

/* ---- key ---------------------------------------------------------------- */

/* Length-prefixed fields, so that no two different inputs share bytes. */
static void
put_bytes(StringInfo b, const void *data, uint32 len)
{
	appendBinaryStringInfo(b, (const char *) &len, sizeof(len));
	if (len > 0)
		appendBinaryStringInfo(b, data, len);
}

static void
put_str(StringInfo b, const char *s)
{
	if (s == NULL)
	{
		uint32		none = PG_UINT32_MAX;

		appendBinaryStringInfo(b, (const char *) &none, sizeof(none));
	}
	else
		put_bytes(b, s, (uint32) strlen(s));
}

static void
put_int(StringInfo b, int64 v)
{
	put_bytes(b, &v, sizeof(v));
}

static void
put_double(StringInfo b, double v)
{
	/* as the server's shortest round-trip text: one value, one text */
	char		text[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, text);
	put_str(b, text);
}

static void
sha256(const StringInfo b, uint8 *out)
{
	unsigned int len = 0;

	if (EVP_Digest(b->data, b->len, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the response cache key")));
}

/*
 * What makes the route's answers: computed once per catalog load (pinned
 * versions: once per call).  Breaker and timeout settings are left out:
 * they decide whether an answer comes, not what it says.
 */
static const uint8 *
route_fingerprint(AigRoute *route)
{
	StringInfoData b;

	if (route->cache_fp_set)
		return route->cache_fp;
	initStringInfo(&b);
	put_str(&b, "ai_gateway route v1");
	put_str(&b, route->name);
	put_int(&b, route->version);
	put_int(&b, route->strategy);
	put_str(&b, route->system_prompt);
	put_str(&b, route->sticky_key);
	put_int(&b, route->redact_pii);
	put_int(&b, route->ndeny);
	for (int i = 0; i < route->ndeny; i++)
		put_str(&b, route->deny_patterns[i]);
	put_str(&b, route->request_hook_name);
	put_str(&b, route->response_hook_name);
	put_int(&b, route->ntargets);
	for (int i = 0; i < route->ntargets; i++)
	{
		const AigTarget *t = &route->targets[i];
		const AigProvider *p = t->provider;

		put_str(&b, p->name);
		put_str(&b, p->kind);
		put_str(&b, p->base_url);
		put_str(&b, p->api_version);
		put_int(&b, p->default_max_tokens);
		put_int(&b, p->nextra_headers);
		for (int h = 0; h < p->nextra_headers; h++)
			put_str(&b, p->extra_headers[h]);
		put_str(&b, t->model);
		put_int(&b, t->priority);
		put_int(&b, t->weight);
		put_int(&b, t->shadow);
		put_str(&b, t->role);
	}
	sha256(&b, route->cache_fp);
	pfree(b.data);
	route->cache_fp_set = true;
	return route->cache_fp;
}

/* The TTL the call asked for (its option, the route's, the GUC's), before the cap. */
static int
requested_ttl(const AigRoute *route, int opt_ttl_s)
{
	int			route_ttl = route->cache_ttl_s;

	if (opt_ttl_s == 0)
		return 0;
	if (opt_ttl_s > 0)
		return opt_ttl_s;
	if (opt_ttl_s == AIG_CACHE_TTL_DEFAULT)
		return route_ttl > 0 ? route_ttl : aig_cache_ttl_s > 0 ? aig_cache_ttl_s : DEFAULT_TTL_S;
	/* not asked: the route decides (0 turns the GUC off for it), else the GUC */
	return route_ttl >= 0 ? route_ttl : aig_cache_ttl_s;
}

/* The call's TTL, cut to the administrator's ai_gateway.cache_max_ttl_s. */
static int
effective_ttl(const AigRoute *route, int opt_ttl_s)
{
	return Min(requested_ttl(route, opt_ttl_s), aig_cache_max_ttl_s);
}

bool
aig_cache_prepare(AigRoute *route, const AigChatRequest *req, int opt_ttl_s,
				  AigCacheKey *key)
{
	StringInfoData b;
	const AigGenOptions *g = &req->opts;
	int			scope;

	key->ttl_s = effective_ttl(route, opt_ttl_s);
	/* a standby can neither read nor write the UNLOGGED table: no cache there */
	if (key->ttl_s <= 0 || aig_on_standby())
		return false;
	scope = route->cache_scope >= 0 ? route->cache_scope : aig_cache_scope;
	key->scope_role = scope == AIG_CACHE_SCOPE_GLOBAL ? InvalidOid : GetUserId();

	initStringInfo(&b);
	appendBinaryStringInfo(&b, (const char *) route_fingerprint(route), 32);
	put_int(&b, key->scope_role);
	put_int(&b, req->nmessages);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		put_str(&b, m->role);
		put_str(&b, m->content);
		/* images and documents by their bytes or URL; tool calls and results */
		put_int(&b, m->nparts);
		for (int j = 0; j < m->nparts; j++)
		{
			put_int(&b, m->parts[j].kind);
			put_str(&b, m->parts[j].text);
			put_str(&b, m->parts[j].media_type);
			put_str(&b, m->parts[j].data_b64);
			put_str(&b, m->parts[j].url);
		}
		put_int(&b, m->ntool_calls);
		for (int j = 0; j < m->ntool_calls; j++)
		{
			put_str(&b, m->tool_calls[j].id);
			put_str(&b, m->tool_calls[j].name);
			put_str(&b, m->tool_calls[j].arguments);
		}
		put_str(&b, m->tool_call_id);
		put_str(&b, m->name);
	}
	put_int(&b, g->ntools);
	for (int i = 0; i < g->ntools; i++)
	{
		put_str(&b, g->tools[i].name);
		put_str(&b, g->tools[i].description);
		put_str(&b, g->tools[i].parameters);
	}
	put_int(&b, g->tool_choice);
	put_str(&b, g->tool_choice_name);
	put_int(&b, g->parallel_tool_calls);
	put_int(&b, g->has_temperature);
	if (g->has_temperature)
		put_double(&b, g->temperature);
	put_int(&b, g->has_top_p);
	if (g->has_top_p)
		put_double(&b, g->top_p);
	put_int(&b, g->max_tokens);
	put_int(&b, g->has_seed);
	put_int(&b, g->has_seed ? g->seed : 0);
	put_int(&b, g->nstop);
	for (int i = 0; i < g->nstop; i++)
		put_str(&b, g->stop[i]);
	put_str(&b, g->response_format);
	sha256(&b, key->digest);
	pfree(b.data);
	return true;
}

/* ---- front -------------------------------------------------------------- */

static void
front_remove(FrontEntry *e)
{
	dlist_delete(&e->lru);
	front_bytes -= e->bytes;
	pfree(e->provider);
	hash_search(front, e->digest, HASH_REMOVE, NULL);
}

static void
front_init(void)
{
	HASHCTL		ctl;

	front_cxt = AllocSetContextCreate(TopMemoryContext, "ai_gateway cache front",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = 32;
	ctl.entrysize = sizeof(FrontEntry);
	ctl.hcxt = front_cxt;
	front = hash_create("ai_gateway cache front", 256, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static FrontEntry *
front_find(const uint8 *digest, uint64 generation, TimestampTz now)
{
	FrontEntry *e;

	if (front == NULL)
		return NULL;
	e = hash_search(front, digest, HASH_FIND, NULL);
	if (e == NULL)
		return NULL;
	if (e->generation != generation || e->expires_at <= now)
	{
		front_remove(e);
		return NULL;
	}
	dlist_move_head(&front_lru, &e->lru);
	return e;
}

static char *
copy_into(char **pos, const char *s)
{
	char	   *start = *pos;
	size_t		len;

	if (s == NULL)
		return NULL;
	len = strlen(s) + 1;
	memcpy(start, s, len);
	*pos += len;
	return start;
}

/* Keep an answer in the front (when it fits), evicting the least used. */
static void
front_put(const uint8 *digest, uint64 generation, TimestampTz expires_at,
		  const char *provider, const char *model, const char *content,
		  const char *finish_reason, const char *reported_model)
{
	Size		limit = (Size) aig_cache_local_kb * 1024;
	Size		len;
	Size		bytes;
	FrontEntry *e;
	bool		found;
	char	   *pos;

	if (limit == 0)
		return;
	len = strlen(provider) + strlen(model) + strlen(content) + 3 +
		(finish_reason ? strlen(finish_reason) + 1 : 0) +
		(reported_model ? strlen(reported_model) + 1 : 0);
	bytes = len + sizeof(FrontEntry) + 64;
	if (bytes > limit / 4)
		return;					/* one answer must not flush the rest */
	if (front == NULL)
		front_init();
	e = hash_search(front, digest, HASH_FIND, NULL);
	if (e != NULL)
		front_remove(e);
	while (front_bytes + bytes > limit && !dlist_is_empty(&front_lru))
		front_remove(dlist_tail_element(FrontEntry, lru, &front_lru));

	e = hash_search(front, digest, HASH_ENTER, &found);
	pos = MemoryContextAlloc(front_cxt, len);
	e->provider = copy_into(&pos, provider);
	e->model = copy_into(&pos, model);
	e->content = copy_into(&pos, content);
	e->finish_reason = copy_into(&pos, finish_reason);
	e->reported_model = copy_into(&pos, reported_model);
	e->generation = generation;
	e->expires_at = expires_at;
	e->bytes = bytes;
	dlist_push_head(&front_lru, &e->lru);
	front_bytes += bytes;
}

/* ---- table -------------------------------------------------------------- */

static bool
table_exists(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("cache", nsp));
}

static void
require_table(void)
{
	if (!table_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the response cache needs the table ai_gateway.cache"),
				 errhint("The library is newer than the extension's SQL objects: run ALTER EXTENSION ai_gateway UPDATE.")));
}

static Datum
digest_datum(const uint8 *digest)
{
	bytea	   *b = palloc(VARHDRSZ + 32);

	SET_VARSIZE(b, VARHDRSZ + 32);
	memcpy(VARDATA(b), digest, 32);
	return PointerGetDatum(b);
}

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare a response cache statement: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

typedef struct CacheRow
{
	char	   *provider;
	char	   *model;
	char	   *content;
	char	   *finish_reason;
	char	   *reported_model;
	TimestampTz expires_at;
} CacheRow;

/* The live row for key, read as the extension's owner. */
static bool
table_read(const AigCacheKey *key, TimestampTz now, CacheRow *row)
{
	MemoryContext caller = CurrentMemoryContext;
	AigAsOwner owner_scope;
	volatile bool found = false;

	require_table();
	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(aig_catalog_owner(), &owner_scope);
	PG_TRY();
	{
		Datum		args[2];

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (read_plan == NULL)
		{
			Oid			types[2] = {BYTEAOID, TIMESTAMPTZOID};

			read_plan = keep_plan("SELECT provider, model, content, finish_reason, reported_model, "
								  "expires_at FROM ai_gateway.cache "
								  "WHERE key = $1 AND expires_at > $2", 2, types);
		}
		args[0] = digest_datum(key->digest);
		args[1] = TimestampTzGetDatum(now);
		if (SPI_execute_plan(read_plan, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read ai_gateway.cache");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			MemoryContext old = MemoryContextSwitchTo(caller);

			row->provider = SPI_getvalue(tup, desc, 1);
			row->model = SPI_getvalue(tup, desc, 2);
			row->content = SPI_getvalue(tup, desc, 3);
			row->finish_reason = SPI_getvalue(tup, desc, 4);
			row->reported_model = SPI_getvalue(tup, desc, 5);
			row->expires_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
			MemoryContextSwitchTo(old);
			found = row->provider && row->model && row->content;
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();
	return found;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Keep the role's newest ai_gateway.cache_max_entries_per_role rows: its
 * older ones go (SPI connected, as the owner).  A backward scan of the
 * (stored_by, created_at) index: it reads at most the cap's entries and
 * sorts nothing.
 */
static void
evict_oldest(Oid stored_by)
{
	Datum		args[2];

	if (evict_plan == NULL)
	{
		Oid			types[2] = {OIDOID, INT8OID};

		evict_plan = keep_plan("DELETE FROM ai_gateway.cache WHERE key IN (SELECT key FROM "
							   "ai_gateway.cache WHERE stored_by = $1 "
							   "ORDER BY created_at DESC OFFSET $2)", 2, types);
	}
	args[0] = ObjectIdGetDatum(stored_by);
	args[1] = Int64GetDatum((int64) aig_cache_max_entries_per_role);
	if (SPI_execute_plan(evict_plan, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not evict ai_gateway.cache rows");
}

/* Store the answer for key as role stored_by, then trim that role's rows to its cap. */
static void
table_write(const AigRoute *route, const AigCacheKey *key, const AigChatResult *res,
			const AigTarget *t, Oid stored_by, TimestampTz now, TimestampTz expires_at)
{
	Datum		args[13];
	char		nulls[13];
	bool		isnull;
	const char *label;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (write_plan == NULL)
	{
		Oid			types[13] = {BYTEAOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID,
		TEXTOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, OIDOID};

		write_plan = keep_plan("INSERT INTO ai_gateway.cache AS c (key, route, provider, model, "
							   "scope_role, content, finish_reason, reported_model, input_tokens, "
							   "output_tokens, created_at, expires_at, stored_by) "
							   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
							   "ON CONFLICT (key) DO UPDATE SET route = EXCLUDED.route, "
							   "provider = EXCLUDED.provider, model = EXCLUDED.model, "
							   "scope_role = EXCLUDED.scope_role, content = EXCLUDED.content, "
							   "finish_reason = EXCLUDED.finish_reason, "
							   "reported_model = EXCLUDED.reported_model, "
							   "input_tokens = EXCLUDED.input_tokens, "
							   "output_tokens = EXCLUDED.output_tokens, "
							   "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, "
							   "stored_by = EXCLUDED.stored_by",
							   13, types);
	}
	memset(nulls, ' ', sizeof(nulls));
	label = route->name == NULL ? NULL :
		route->version > 0 ? psprintf("%s@%d", route->name, route->version) : route->name;
	args[0] = digest_datum(key->digest);
	args[1] = text_or_null(label, &isnull);
	nulls[1] = isnull ? 'n' : ' ';
	args[2] = CStringGetTextDatum(t->provider->name);
	args[3] = CStringGetTextDatum(t->model);
	args[4] = ObjectIdGetDatum(key->scope_role);
	nulls[4] = OidIsValid(key->scope_role) ? ' ' : 'n';
	args[5] = CStringGetTextDatum(res->content);
	args[6] = text_or_null(res->finish_reason, &isnull);
	nulls[6] = isnull ? 'n' : ' ';
	args[7] = text_or_null(res->model, &isnull);
	nulls[7] = isnull ? 'n' : ' ';
	args[8] = Int64GetDatum(res->input_tokens);
	nulls[8] = res->input_tokens < 0 ? 'n' : ' ';
	args[9] = Int64GetDatum(res->output_tokens);
	nulls[9] = res->output_tokens < 0 ? 'n' : ' ';
	args[10] = TimestampTzGetDatum(now);
	args[11] = TimestampTzGetDatum(expires_at);
	args[12] = ObjectIdGetDatum(stored_by);
	if (SPI_execute_plan(write_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write ai_gateway.cache");
	evict_oldest(stored_by);
	SPI_finish();
}

/* ---- lookups and stores --------------------------------------------------- */

/* The route's target that gave a cached answer, if the caller may still use it. */
static AigTarget *
find_target(AigRoute *route, const char *provider, const char *model)
{
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];

		if (t->shadow || strcmp(t->provider->name, provider) != 0 ||
			strcmp(t->model, model) != 0)
			continue;
		if (t->role != NULL &&
			!(OidIsValid(t->role_oid) && is_member_of_role(GetUserId(), t->role_oid)))
			return NULL;
		return t;
	}
	return NULL;
}

bool
aig_cache_get(AigRoute *route, const AigCacheKey *key, AigChatResult *result,
			  AigTarget **target)
{
	TimestampTz now = GetCurrentTimestamp();
	uint64		generation = pg_atomic_read_u64(&cache_shared->generation);
	FrontEntry *e = front_find(key->digest, generation, now);
	CacheRow	row;
	AigTarget  *t;

	if (e != NULL)
	{
		row.provider = e->provider;
		row.model = e->model;
		row.content = e->content;
		row.finish_reason = e->finish_reason;
		row.reported_model = e->reported_model;
	}
	else
	{
		if (!table_read(key, now, &row))
			return false;
		front_put(key->digest, generation, row.expires_at, row.provider, row.model,
				  row.content, row.finish_reason, row.reported_model);
	}
	t = find_target(route, row.provider, row.model);
	if (t == NULL)
		return false;
	memset(result, 0, sizeof(*result));
	result->content = pstrdup(row.content);
	result->finish_reason = row.finish_reason ? pstrdup(row.finish_reason) : NULL;
	result->model = row.reported_model ? pstrdup(row.reported_model) : NULL;
	result->input_tokens = 0;
	result->output_tokens = 0;
	*target = t;
	return true;
}

/* What a cache write needs inside its subtransaction. */
typedef struct CacheWrite
{
	const AigRoute *route;
	const AigCacheKey *key;
	const AigChatResult *result;
	const AigTarget *target;
	Oid			stored_by;		/* the calling role, counted against its cap */
	TimestampTz now;
	TimestampTz expires_at;
} CacheWrite;

/* The write itself, as the extension's owner (isolated: its abort restores the user). */
static void
write_isolated(void *arg)
{
	CacheWrite *w = (CacheWrite *) arg;
	AigAsOwner	owner_scope;

	aig_as_owner_begin(aig_catalog_owner(), &owner_scope);
	table_write(w->route, w->key, w->result, w->target, w->stored_by, w->now, w->expires_at);
	aig_as_owner_end(&owner_scope);
}

void
aig_cache_put(AigRoute *route, const AigCacheKey *key, const AigChatResult *result,
			  const AigTarget *target)
{
	CacheWrite	w;
	ErrorData  *edata;

	if (result->content == NULL)
		return;
	w.route = route;
	w.key = key;
	w.result = result;
	w.target = target;
	w.stored_by = GetUserId();
	w.now = GetCurrentTimestamp();
	w.expires_at = TimestampTzPlusMilliseconds(w.now, (int64) key->ttl_s * 1000);
	front_put(key->digest, pg_atomic_read_u64(&cache_shared->generation), w.expires_at,
			  target->provider->name, target->model, result->content,
			  result->finish_reason, result->model);
	if (XactReadOnly || RecoveryInProgress() || !IsTransactionState() || !table_exists())
		return;
	/* a role allowed no rows stores none (its backend's own front still keeps it) */
	if (aig_cache_max_entries_per_role <= 0)
		return;

	/* a failed write warns; it never fails the call whose answer it keeps */
	if (!aig_isolate(write_isolated, &w, &edata))
	{
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not keep the answer in the response cache: %s", edata->message)));
		FreeErrorData(edata);
	}
}

/* ---- clearing and expiry --------------------------------------------------- */

static void
bump_generation(void)
{
	pg_atomic_fetch_add_u64(&cache_shared->generation, 1);
}

static void
cache_xact_callback(XactEvent event, void *arg)
{
	if (!bump_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		bump_generation();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		bump_at_commit = false;
}

/*
 * ai_gateway.cache_clear(route text, provider text, model text) RETURNS bigint
 * Deletes the entries matching every argument given (all when none) and
 * empties every backend's front.  Administrators only.
 */
PG_FUNCTION_INFO_V1(aig_cache_clear);
Datum
aig_cache_clear(PG_FUNCTION_ARGS)
{
	Datum		args[3];
	char		nulls[3];
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	AigAsOwner owner_scope;
	volatile int64 deleted = 0;

	aig_require_preload();
	aig_catalog_ensure();
	if (!aig_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to clear the response cache"),
				 errhint("Only superusers and members of ai_gateway_admin can clear it.")));
	require_table();
	for (int i = 0; i < 3; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	if (!xact_callback_registered)
	{
		RegisterXactCallback(cache_xact_callback, NULL);
		xact_callback_registered = true;
	}
	/* now, so this backend stops using its front; at commit, for everyone */
	bump_generation();
	bump_at_commit = true;

	/* as the owner: nothing may resolve through the caller's search_path */
	aig_as_owner_begin(aig_catalog_owner(), &owner_scope);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("DELETE FROM ai_gateway.cache WHERE ($1 IS NULL OR route = $1 "
								  "OR left(route, length($1) + 1) = $1 || '@') AND ($2 IS NULL OR provider = $2) "
								  "AND ($3 IS NULL OR model = $3)",
								  3, types, args, nulls, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete from ai_gateway.cache");
		deleted = (int64) SPI_processed;
		SPI_finish();
	}
	PG_FINALLY();
	{
		aig_as_owner_end(&owner_scope);
	}
	PG_END_TRY();
	PG_RETURN_INT64(deleted);
}

/* Worker, once a minute: delete expired rows, a bounded batch at a time. */
uint64
aig_cache_expire(void)
{
	uint64		total = 0;

	if (!table_exists())
		return 0;
	for (int round = 0; round < 100; round++)
	{
		if (SPI_execute("DELETE FROM ai_gateway.cache WHERE key IN (SELECT key FROM "
						"ai_gateway.cache WHERE expires_at <= now() LIMIT " CppAsString2(EXPIRE_BATCH) ")",
						false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not expire ai_gateway.cache rows");
		total += SPI_processed;
		if (SPI_processed < EXPIRE_BATCH)
			break;
	}
	return total;
}
