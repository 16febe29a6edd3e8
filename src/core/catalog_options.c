/*
 * catalog_options.c — providers.options and routes.options.
 *
 * One parser per table fills the catalog structs when the cache loads, and
 * the same parser runs in a BEFORE ROW trigger on each table, so a typo or a
 * wrong type is refused (22023, naming the key) when the row is written
 * rather than breaking calls later.  Unknown keys are errors: a misspelt
 * "timeout_ms" must not be silently ignored.
 */
#include "postgres.h"

#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/guc.h"

#include "core/catalog_options.h"
#include "providers/bedrock.h"
#include "base/compat.h"
#include "core/jsonb_util.h"
#include "transport/http.h"

AigBreakerConf aig_breaker_defaults = {
	.failures = 5,
	.error_rate = 0.5,
	.min_requests = 20,
	.window_ms = 60000,
	.cooldown_ms = 30000,
};

/* "role" / "global" -> AIG_CACHE_SCOPE_*, -1 when neither. */
int
aig_cache_scope_from_name(const char *name)
{
	if (strcmp(name, "role") == 0)
		return AIG_CACHE_SCOPE_ROLE;
	if (strcmp(name, "global") == 0)
		return AIG_CACHE_SCOPE_GLOBAL;
	return -1;
}

static const char *const provider_keys[] = {
	"timeout_ms", "connect_timeout_ms", "api_version", "anthropic_version",
	"default_max_tokens", "max_embed_batch", "headers", "api_key_env", "resource",
	"max_retries", "requests_per_minute", "tokens_per_minute", "max_concurrency", "max_embed_tokens",
	"secret_headers", "region", "ca_file",
};

static const char *const route_keys[] = {
	"timeout_ms", "system_prompt", "max_retries", "sticky_key", "explore_ratio",
	"breaker_failures", "breaker_error_rate", "breaker_min_requests",
	"breaker_window_ms", "breaker_cooldown_ms", "request_hook", "response_hook",
	"redact_pii", "deny_patterns", "cache_ttl_s", "cache_scope",
};

#define MAX_EXTRA_HEADERS 12

static void
reject_unknown_keys(Jsonb *opts, const char *what, const char *owner,
					const char *const *keys, int nkeys)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData valid;

	if (opts == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(opts) || JB_ROOT_IS_SCALAR(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of %s \"%s\" must be a JSON object", what, owner)));
	it = JsonbIteratorInit(&opts->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < nkeys; i++)
			if (strlen(keys[i]) == (size_t) v.val.string.len &&
				strncmp(keys[i], v.val.string.val, v.val.string.len) == 0)
				known = true;
		if (known)
			continue;
		initStringInfo(&valid);
		for (int i = 0; i < nkeys; i++)
			appendStringInfo(&valid, "%s%s", i ? ", " : "", keys[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown option \"%.*s\" for %s \"%s\"",
						v.val.string.len, v.val.string.val, what, owner),
				 errhint("Valid %s options are: %s.", what, valid.data)));
	}
}

static int
opt_int(Jsonb *opts, const char *key, const char *what, int min, int max)
{
	int64		v;

	if (opts && aig_jsonb_get_int(opts, key, what, min, max, &v))
		return (int) v;
	return -1;
}

/* options.headers: {"Name": "value", ...} -> "Name: value" strings */
static void
apply_extra_headers(AigProvider *p, Jsonb *opts)
{
	JsonbValue *hv = aig_jsonb_get(opts, "headers");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	int			n = 0;

	p->nextra_headers = 0;
	p->extra_headers = NULL;
	if (hv == NULL || hv->type == jbvNull)
		return;
	if (hv->type != jbvBinary || !JsonContainerIsObject(hv->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.headers of provider \"%s\" must be an object", p->name)));
	p->extra_headers = palloc0(sizeof(char *) * MAX_EXTRA_HEADERS);
	it = JsonbIteratorInit(hv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString || n >= MAX_EXTRA_HEADERS || name[0] == '\0' ||
				strpbrk(name, ": \t\r\n") != NULL ||
				memchr(v.val.string.val, '\n', v.val.string.len) != NULL ||
				memchr(v.val.string.val, '\r', v.val.string.len) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options.headers of provider \"%s\" is invalid", p->name),
						 errhint("Give at most %d headers as {\"Name\": \"value\"} strings without line breaks.",
								 MAX_EXTRA_HEADERS)));
			p->extra_headers[n++] = psprintf("%s: %.*s", name,
											 v.val.string.len, v.val.string.val);
		}
	}
	p->nextra_headers = n;
}

/* The dialect's default base URL; Azure's is https://{resource}.openai.azure.com. */
static char *
default_base_url(const AigProvider *p, Jsonb *opts)
{
	char	   *resource = aig_jsonb_get_string(opts, "resource", "provider option");

	if (resource != NULL)
	{
		if (strcmp(p->kind, "azure_openai") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.resource applies to azure_openai providers only")));
		if (resource[0] == '\0' ||
			strspn(resource, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
			strlen(resource))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.resource of provider \"%s\" is not an Azure resource name",
							p->name),
					 errhint("Use the resource name only (letters, digits, hyphens), as in https://<resource>.openai.azure.com.")));
		return psprintf("https://%s.openai.azure.com", resource);
	}
	return pstrdup(p->dialect->default_base_url);
}

/*
 * Bedrock's region: options.region, else the region the base URL's host
 * names (bedrock-runtime[-fips].<region>.amazonaws.com[.cn]); sets
 * p->region and, without a stored base URL, the regional default one.
 * Other kinds must not set options.region.
 */
static void
apply_region(AigProvider *p, Jsonb *opts)
{
	char	   *region = aig_jsonb_get_string(opts, "region", "provider option");

	if (strcmp(p->kind, "bedrock") != 0)
	{
		if (region != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.region applies to bedrock providers only")));
		return;
	}
	if (region != NULL &&
		(region[0] == '\0' || strlen(region) > 32 ||
		 strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.region of provider \"%s\" is not an AWS region name", p->name),
				 errhint("Give the region code, e.g. {\"region\": \"us-east-1\"}.")));
	if (region == NULL && p->base_url != NULL)
		region = aig_bedrock_region_of_url(p->base_url);
	if (region == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bedrock provider \"%s\" needs a region", p->name),
				 errhint("Set options.region (e.g. {\"region\": \"us-east-1\"}), or a base_url such as https://bedrock-runtime.us-east-1.amazonaws.com.")));
	p->region = region;
	if (p->base_url == NULL)
		p->base_url = aig_bedrock_default_base_url(region);
}

void
aig_provider_apply_options(AigProvider *p, Jsonb *opts)
{
	const char *what = "provider option";
	char	   *base;

	reject_unknown_keys(opts, "provider", p->name, provider_keys, lengthof(provider_keys));
	apply_region(p, opts);
	base = default_base_url(p, opts);
	if (p->base_url == NULL)
		p->base_url = base;
	while (strlen(p->base_url) > 0 && p->base_url[strlen(p->base_url) - 1] == '/')
		p->base_url[strlen(p->base_url) - 1] = '\0';

	p->timeout_ms = opt_int(opts, "timeout_ms", what, 1, 3600000);
	p->connect_timeout_ms = opt_int(opts, "connect_timeout_ms", what, 1, 600000);
	p->default_max_tokens = opt_int(opts, "default_max_tokens", what, 1, INT_MAX);
	p->max_embed_batch = opt_int(opts, "max_embed_batch", what, 1, 100000);
	p->max_retries = opt_int(opts, "max_retries", what, 0, 10);
	p->requests_per_minute = opt_int(opts, "requests_per_minute", what, 1, 100000000);
	p->tokens_per_minute = opt_int(opts, "tokens_per_minute", what, 1, 2000000000);
	p->max_concurrency = opt_int(opts, "max_concurrency", what, 1, 1024);
	p->max_embed_tokens = opt_int(opts, "max_embed_tokens", what, 1, 100000000);
	p->api_version = aig_jsonb_get_string(opts, "api_version", what);
	if (p->api_version == NULL)
		p->api_version = aig_jsonb_get_string(opts, "anthropic_version", what);
	apply_extra_headers(p, opts);
	/* secret_headers: names of headers sealed like the key (provider_secrets.c) */
	{
		JsonbValue *sh = opts ? aig_jsonb_get(opts, "secret_headers") : NULL;
		int			n;

		if (sh != NULL && sh->type != jbvNull && aig_jsonb_string_array(sh, &n) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.secret_headers of provider \"%s\" must be an array of header names",
							p->name),
					 errhint("Headers named like credentials (Authorization, *key*, *token*, *secret*, ...) are sealed anyway.")));
	}
	/* api_key_env is resolved by the loader; here only its type is checked */
	(void) aig_jsonb_get_string(opts, "api_key_env", what);
	/* a bundle in ai_gateway.ca_directory, opened per call (transport/http_tls.c) */
	p->ca_file = aig_jsonb_get_string(opts, "ca_file", what);
	if (p->ca_file != NULL && !aig_ca_file_name_ok(p->ca_file))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.ca_file of provider \"%s\" must be a plain file name", p->name),
				 errdetail("It names a PEM bundle in the directory of ai_gateway.ca_directory: letters, digits, '.', '_' and '-', not starting with '.'; no path."),
				 errhint("A superuser puts the bundle in ai_gateway.ca_directory; give its file name here.")));
}

/*
 * A hook names a function (jsonb) RETURNS jsonb.  When writing a route it
 * must exist (strict); when loading, a hook dropped since is reported at
 * call time through r->hook_problem instead of breaking every route.
 */
static Oid
lookup_hook(AigRoute *r, const char *name, const char *key, bool strict)
{
	Oid			argtypes[1] = {JSONBOID};
	Oid			fn;
	char	   *problem = NULL;

	if (name == NULL)
		return InvalidOid;
	fn = LookupFuncName(aig_qualified_name_list(name), 1, argtypes, true);
	if (!OidIsValid(fn))
		problem = psprintf("%s function %s(jsonb) does not exist", key, name);
	else if (get_func_rettype(fn) != JSONBOID)
		problem = psprintf("%s function %s(jsonb) must return jsonb", key, name);
	if (problem == NULL)
		return fn;
	if (strict)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("%s of route \"%s\": %s", key, r->name, problem),
				 errhint("A hook is a function taking and returning jsonb, e.g. CREATE FUNCTION my_hook(jsonb) RETURNS jsonb.")));
	r->hook_problem = problem;
	return InvalidOid;
}

static void
breaker_option(Jsonb *opts, const char *key, int min, int max, int *field)
{
	int			v = opt_int(opts, key, "route option", min, max);

	if (v >= 0)
		*field = v;
}

/*
 * A hook function dropped (and perhaps created again) since the cache was
 * built: look its name up again.  Raises when it is gone for good.
 */
Oid
aig_route_hook_refresh(AigRoute *r, bool request)
{
	Oid			fn = request ? r->request_hook : r->response_hook;
	const char *name = request ? r->request_hook_name : r->response_hook_name;

	if (name == NULL || (OidIsValid(fn) && SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(fn))))
		return fn;
	fn = lookup_hook(r, name, request ? "request_hook" : "response_hook", true);
	if (request)
		r->request_hook = fn;
	else
		r->response_hook = fn;
	return fn;
}

/* redact_pii: true | false | "reversible"; deny_patterns: array of regexes */
static void
apply_policy_options(AigRoute *r, Jsonb *opts, bool strict)
{
	JsonbValue *v = aig_jsonb_get(opts, "redact_pii");

	r->redact_pii = AIG_REDACT_OFF;
	if (v && v->type == jbvBool)
		r->redact_pii = v->val.boolean ? AIG_REDACT_ON : AIG_REDACT_OFF;
	else if (v && v->type == jbvString && v->val.string.len == 10 &&
			 strncmp(v->val.string.val, "reversible", 10) == 0)
		r->redact_pii = AIG_REDACT_REVERSIBLE;
	else if (v && v->type != jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option \"redact_pii\" must be true, false or \"reversible\"")));

	r->ndeny = 0;
	r->deny_patterns = NULL;
	v = aig_jsonb_get(opts, "deny_patterns");
	if (v == NULL || v->type == jbvNull)
		return;
	r->deny_patterns = aig_jsonb_string_array(v, &r->ndeny);
	if (r->deny_patterns == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option \"deny_patterns\" must be an array of regular expressions")));
	if (strict && aig_catalog_hooks.check_patterns != NULL)
		aig_catalog_hooks.check_patterns(r->name, r->ndeny, r->deny_patterns);
}

void
aig_route_apply_options(AigRoute *r, Jsonb *opts, bool strict)
{
	const char *what = "route option";
	double		d;

	reject_unknown_keys(opts, "route", r->name, route_keys, lengthof(route_keys));
	r->timeout_ms = opt_int(opts, "timeout_ms", what, 1, 3600000);
	r->max_retries = opt_int(opts, "max_retries", what, 0, 10);
	r->system_prompt = aig_jsonb_get_string(opts, "system_prompt", what);
	r->sticky_key = aig_jsonb_get_string(opts, "sticky_key", what);
	r->explore_ratio = -1;
	r->cache_ttl_s = opt_int(opts, "cache_ttl_s", what, 0, AIG_CACHE_MAX_TTL_S);
	r->cache_scope = -1;
	if (opts)
	{
		char	   *scope = aig_jsonb_get_string(opts, "cache_scope", what);

		if (scope != NULL && (r->cache_scope = aig_cache_scope_from_name(scope)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option \"cache_scope\" of route \"%s\" must be \"role\" or \"global\"",
							r->name ? r->name : "?"),
					 errhint("\"role\" keeps each role's cached answers apart; \"global\" shares them.")));
	}
	if (opts && aig_jsonb_get_number(opts, "explore_ratio", what, 0, 0.5, &d))
		r->explore_ratio = d;

	r->breaker = aig_breaker_defaults;
	breaker_option(opts, "breaker_failures", 1, 1000, &r->breaker.failures);
	breaker_option(opts, "breaker_min_requests", 1, 1000000, &r->breaker.min_requests);
	breaker_option(opts, "breaker_window_ms", 1000, 3600000, &r->breaker.window_ms);
	breaker_option(opts, "breaker_cooldown_ms", 10, 3600000, &r->breaker.cooldown_ms);
	if (opts && aig_jsonb_get_number(opts, "breaker_error_rate", what, 0.01, 1, &d))
		r->breaker.error_rate = d;

	apply_policy_options(r, opts, strict);
	r->request_hook_name = aig_jsonb_get_string(opts, "request_hook", what);
	r->response_hook_name = aig_jsonb_get_string(opts, "response_hook", what);
	r->request_hook = lookup_hook(r, r->request_hook_name, "request_hook", strict);
	r->response_hook = lookup_hook(r, r->response_hook_name, "response_hook", strict);
}

static char *
new_text(HeapTuple tup, TupleDesc desc, const char *col)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, SPI_fnumber(desc, col), desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static Jsonb *
new_jsonb(HeapTuple tup, TupleDesc desc, const char *col)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, SPI_fnumber(desc, col), desc, &isnull);

	return isnull ? NULL : DatumGetJsonbP(d);
}

static HeapTuple
trigger_new_tuple(FunctionCallInfo fcinfo, const char *fname)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "%s must be a BEFORE ROW trigger", fname);
	return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
}

/* BEFORE INSERT OR UPDATE on ai_gateway.providers: options must parse. */
PG_FUNCTION_INFO_V1(aig_validate_provider);
Datum
aig_validate_provider(PG_FUNCTION_ARGS)
{
	HeapTuple	tup = trigger_new_tuple(fcinfo, "aig_validate_provider");
	TupleDesc	desc = ((TriggerData *) fcinfo->context)->tg_relation->rd_att;
	AigProvider p;

	memset(&p, 0, sizeof(p));
	p.name = new_text(tup, desc, "name");
	p.kind = new_text(tup, desc, "kind");
	p.base_url = new_text(tup, desc, "base_url");
	p.dialect = aig_dialect_for_kind(p.kind);
	/* before the CHECK constraint: say which kinds there are */
	if (p.kind != NULL && p.dialect == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown provider kind \"%s\"", p.kind),
				 errhint("Valid kinds: %s.", aig_dialect_kind_list())));
	if (p.name == NULL || p.dialect == NULL)
		return PointerGetDatum(tup);	/* NOT NULL reports these */
	aig_provider_apply_options(&p, new_jsonb(tup, desc, "options"));
	return PointerGetDatum(tup);
}

/* opts with key set to the schema-qualified name of fn (opts itself when already so). */
static Jsonb *
qualify_hook(Jsonb *opts, const char *key, Oid fn)
{
	char	   *qualified;
	char	   *given;
	StringInfoData buf;

	if (!OidIsValid(fn))
		return opts;
	given = aig_jsonb_get_string(opts, key, "route option");
	qualified = quote_qualified_identifier(get_namespace_name(get_func_namespace(fn)),
										   get_func_name(fn));
	if (given != NULL && strcmp(given, qualified) == 0)
		return opts;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	escape_json(&buf, key);
	appendStringInfoChar(&buf, ':');
	escape_json(&buf, qualified);
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(opts),
											  DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data))));
}

/*
 * BEFORE INSERT OR UPDATE on ai_gateway.routes: options must parse, and
 * hook names are stored schema-qualified.  Calls look hooks up by name in
 * the caller's session; an unqualified name would let a caller put a
 * function of its own (a schema first on its search_path) in place of the
 * administrator's hook and skip it.
 */
PG_FUNCTION_INFO_V1(aig_validate_route);
Datum
aig_validate_route(PG_FUNCTION_ARGS)
{
	HeapTuple	tup = trigger_new_tuple(fcinfo, "aig_validate_route");
	TupleDesc	desc = ((TriggerData *) fcinfo->context)->tg_relation->rd_att;
	AigRoute	r;

	Jsonb	   *opts;
	Jsonb	   *fixed;

	memset(&r, 0, sizeof(r));
	r.name = new_text(tup, desc, "name");
	/* before the CHECK constraint: say which strategies there are */
	{
		char	   *strategy = new_text(tup, desc, "strategy");

		if (strategy != NULL && !aig_strategy_valid(strategy))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown route strategy \"%s\"", strategy),
					 errhint("Valid strategies: %s.", AIG_STRATEGY_LIST)));
	}
	if (r.name == NULL)
		return PointerGetDatum(tup);
	opts = new_jsonb(tup, desc, "options");
	aig_route_apply_options(&r, opts, true);

	/*
	 * Store hooks schema-qualified, as resolved now: which function runs
	 * must not depend on a caller's search_path (nor on the empty one a
	 * pg_dump restore runs with).
	 */
	fixed = qualify_hook(opts, "request_hook", r.request_hook);
	fixed = qualify_hook(fixed, "response_hook", r.response_hook);
	if (fixed != opts)
	{
		int			col = SPI_fnumber(desc, "options");
		Datum		values[1] = {JsonbPGetDatum(fixed)};
		bool		nulls[1] = {false};

		tup = heap_modify_tuple_by_cols(tup, desc, 1, &col, values, nulls);
	}
	return PointerGetDatum(tup);
}

/* Define the breaker defaults that route options override (called from _PG_init). */
void
aig_catalog_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.breaker_failures",
							"Consecutive failures of a target that open its circuit breaker.",
							NULL,
							&aig_breaker_defaults.failures,
							5, 1, 1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("ai_gateway.breaker_error_rate",
							 "Error share over the breaker window that opens a target's breaker.",
							 NULL,
							 &aig_breaker_defaults.error_rate,
							 0.5, 0.01, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_min_requests",
							"Requests in the breaker window before its error rate counts.",
							NULL,
							&aig_breaker_defaults.min_requests,
							20, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_window_ms",
							"Length of the sliding window of a target's error rate.",
							NULL,
							&aig_breaker_defaults.window_ms,
							60000, 1000, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.breaker_cooldown_ms",
							"How long an open circuit breaker stays open before a probe.",
							NULL,
							&aig_breaker_defaults.cooldown_ms,
							30000, 10, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}
