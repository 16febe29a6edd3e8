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
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

#include "catalog_options.h"
#include "jsonb_util.h"

static const char *const provider_keys[] = {
	"timeout_ms", "connect_timeout_ms", "api_version", "anthropic_version",
	"default_max_tokens", "max_embed_batch", "headers", "api_key_env", "resource",
};

static const char *const route_keys[] = {
	"timeout_ms", "system_prompt",
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

void
aig_provider_apply_options(AigProvider *p, Jsonb *opts)
{
	const char *what = "provider option";
	char	   *base;

	reject_unknown_keys(opts, "provider", p->name, provider_keys, lengthof(provider_keys));
	base = default_base_url(p, opts);
	if (p->base_url == NULL)
		p->base_url = base;
	while (strlen(p->base_url) > 0 && p->base_url[strlen(p->base_url) - 1] == '/')
		p->base_url[strlen(p->base_url) - 1] = '\0';

	p->timeout_ms = opt_int(opts, "timeout_ms", what, 1, 3600000);
	p->connect_timeout_ms = opt_int(opts, "connect_timeout_ms", what, 1, 600000);
	p->default_max_tokens = opt_int(opts, "default_max_tokens", what, 1, INT_MAX);
	p->max_embed_batch = opt_int(opts, "max_embed_batch", what, 1, 100000);
	p->api_version = aig_jsonb_get_string(opts, "api_version", what);
	if (p->api_version == NULL)
		p->api_version = aig_jsonb_get_string(opts, "anthropic_version", what);
	apply_extra_headers(p, opts);
	/* api_key_env is resolved by the loader; here only its type is checked */
	(void) aig_jsonb_get_string(opts, "api_key_env", what);
}

void
aig_route_apply_options(AigRoute *r, Jsonb *opts)
{
	const char *what = "route option";

	reject_unknown_keys(opts, "route", r->name, route_keys, lengthof(route_keys));
	r->timeout_ms = opt_int(opts, "timeout_ms", what, 1, 3600000);
	r->system_prompt = aig_jsonb_get_string(opts, "system_prompt", what);
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
	if (p.name == NULL || p.dialect == NULL)
		return PointerGetDatum(tup);	/* NOT NULL / CHECK report these */
	aig_provider_apply_options(&p, new_jsonb(tup, desc, "options"));
	return PointerGetDatum(tup);
}

/* BEFORE INSERT OR UPDATE on ai_gateway.routes: options must parse. */
PG_FUNCTION_INFO_V1(aig_validate_route);
Datum
aig_validate_route(PG_FUNCTION_ARGS)
{
	HeapTuple	tup = trigger_new_tuple(fcinfo, "aig_validate_route");
	TupleDesc	desc = ((TriggerData *) fcinfo->context)->tg_relation->rd_att;
	AigRoute	r;

	memset(&r, 0, sizeof(r));
	r.name = new_text(tup, desc, "name");
	if (r.name == NULL)
		return PointerGetDatum(tup);
	aig_route_apply_options(&r, new_jsonb(tup, desc, "options"));
	return PointerGetDatum(tup);
}
