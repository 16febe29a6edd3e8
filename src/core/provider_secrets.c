/*
 * provider_secrets.c — the secrets of a provider row: its api_key, the
 * secret headers of options.headers, and options.api_key_env.
 *
 * Written (the BEFORE trigger ai_gateway.providers_protect_key):
 *  - a plain api_key is sealed into api_key_encrypted, bound to the
 *    provider's endpoint (name, kind, base URL origin: core/secrets.c), and
 *    only its mask stays in api_key;
 *  - a header of options.headers whose name looks like a credential
 *    (authorization, *key*, *token*, *secret*, ...: aig_header_is_secret)
 *    or is listed in options.secret_headers is sealed the same way, in
 *    place ("aigk2:..." as its value);
 *  - an endpoint change that leaves a sealed key or header as it was is
 *    refused: the secret must be written again for the new endpoint;
 *  - options.api_key_env (a server environment variable as the key) is set,
 *    or its provider's endpoint changed, by superusers only; the trigger
 *    records the superuser in api_key_env_by;
 *  - a 0.2.0 key ("aigk1:", not bound) is bound to the row's endpoint when
 *    a superuser writes the row (ALTER EXTENSION UPDATE does it), refused
 *    for anyone else.
 * Read (aig_provider_open_secrets, by the catalog loader): sealed values are
 * opened for the provider's endpoint; anything that does not open, a 0.2.0
 * key, or an api_key_env not recorded as a superuser's, leaves the provider
 * unusable with key_problem saying why (never the secret).
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

#include "core/catalog_options.h"
#include "core/jsonb_util.h"
#include "core/provider_secrets.h"
#include "providers/bedrock.h"
#include "core/secrets.h"

/* Words in a header name that make it a credential (compared in lower case). */
static const char *const secret_words[] = {
	"auth", "key", "token", "secret", "passw", "cookie", "credential", "signature",
	"session",
};

bool
aig_header_is_secret(const char *name, Jsonb *opts)
{
	char	   *lower = pstrdup(name);
	JsonbValue *listed;

	for (char *c = lower; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	for (int i = 0; i < lengthof(secret_words); i++)
		if (strstr(lower, secret_words[i]) != NULL)
			return true;
	listed = opts ? aig_jsonb_get(opts, "secret_headers") : NULL;
	if (listed != NULL && listed->type != jbvNull)
	{
		int			n;
		char	  **names = aig_jsonb_string_array(listed, &n);

		for (int i = 0; names != NULL && i < n; i++)
			if (pg_strcasecmp(names[i], name) == 0)
				return true;
	}
	return false;
}

/* "header:<lower-case name>", the purpose a header's value is sealed for. */
static char *
header_purpose(const char *name)
{
	char	   *p = psprintf("header:%s", name);

	for (char *c = p; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	return p;
}

/* The endpoint a provider row's secrets are bound to. */
typedef struct Endpoint
{
	char	   *name;
	char	   *kind;
	char	   *origin;
	Jsonb	   *opts;
} Endpoint;

static char *
col_text(HeapTuple tup, TupleDesc desc, const char *col)
{
	int			att = SPI_fnumber(desc, col);
	bool		isnull;
	Datum		d;

	if (att <= 0)
		return NULL;
	d = heap_getattr(tup, att, desc, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * name, kind, origin of the effective base URL (the stored one, else the
 * Azure resource's, else the dialect's default) and options of a row;
 * false when name or kind is missing or unknown (constraints report it).
 * validate: the options are parsed as the catalog will (new or changed
 * options: their errors come first); else only what makes the base URL is
 * read (the old row; options unchanged, as validated when written).
 */
static bool
row_endpoint(HeapTuple tup, TupleDesc desc, bool validate, Endpoint *ep)
{
	AigProvider p;
	bool		isnull;
	Datum		d;

	memset(&p, 0, sizeof(p));
	ep->name = p.name = col_text(tup, desc, "name");
	ep->kind = p.kind = col_text(tup, desc, "kind");
	p.dialect = p.kind ? aig_dialect_for_kind(p.kind) : NULL;
	if (p.name == NULL || p.dialect == NULL)
		return false;
	d = heap_getattr(tup, SPI_fnumber(desc, "options"), desc, &isnull);
	ep->opts = isnull ? NULL : DatumGetJsonbP(d);
	p.base_url = col_text(tup, desc, "base_url");
	if (validate)
		aig_provider_apply_options(&p, ep->opts);
	else if (p.base_url == NULL)
	{
		JsonbValue *res = ep->opts ? aig_jsonb_get(ep->opts, "resource") : NULL;

		JsonbValue *region = ep->opts ? aig_jsonb_get(ep->opts, "region") : NULL;

		if (res != NULL && res->type == jbvString && strcmp(p.kind, "azure_openai") == 0)
			p.base_url = psprintf("https://%.*s.openai.azure.com",
								  res->val.string.len, res->val.string.val);
		else if (region != NULL && region->type == jbvString && strcmp(p.kind, "bedrock") == 0)
			p.base_url = aig_bedrock_default_base_url(pnstrdup(region->val.string.val,
															   region->val.string.len));
		else
			p.base_url = pstrdup(p.dialect->default_base_url);
	}
	ep->origin = aig_secret_origin(p.base_url);
	return true;
}

static bool
same_endpoint(const Endpoint *a, const Endpoint *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->kind, b->kind) == 0 &&
		strcmp(a->origin, b->origin) == 0;
}

/*
 * The mask that stays in api_key.  A bedrock key document is checked here
 * (22023 naming what is wrong, never the key) and shows the end of its
 * access key id, not of the secret that ends the document.
 */
static char *
key_mask(const char *kind, const char *name, const char *plain)
{
	AigBedrockKey key;
	char	   *problem;

	if (kind == NULL || strcmp(kind, "bedrock") != 0)
		return aig_secret_mask(plain);
	if (!aig_bedrock_parse_key(plain, &key, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("api_key of provider \"%s\": %s", name, problem)));
	return aig_secret_mask(key.bearer ? key.bearer : key.cred.access_key_id);
}

/* The string value of header name in opts.headers, or NULL. */
static char *
header_value(Jsonb *opts, const char *name)
{
	JsonbValue *hv = opts ? aig_jsonb_get(opts, "headers") : NULL;
	JsonbValue *v;

	if (hv == NULL || hv->type != jbvBinary || !JsonContainerIsObject(hv->val.binary.data))
		return NULL;
	v = getKeyJsonValueFromContainer(hv->val.binary.data, name, strlen(name), NULL);
	return v && v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

static void
refuse_moved_secret(const Endpoint *old, const Endpoint *new, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("changing the endpoint of provider \"%s\" needs its %s written again",
					old->name, what),
			 errdetail("A sealed secret is bound to its provider's name, kind and base URL origin: %s %s %s, now %s %s %s.",
					   old->name, old->kind, old->origin, new->name, new->kind, new->origin),
			 errhint("Set it again in the same UPDATE (api_key = '...', or NULL for no key; options.headers with the plain value).")));
}

/* opts with headers.name set to the string value. */
static Jsonb *
set_header(Jsonb *opts, const char *name, const char *value)
{
	Datum		path[2] = {CStringGetTextDatum("headers"), CStringGetTextDatum(name)};
	ArrayType  *arr = construct_array(path, 2, TEXTOID, -1, false, TYPALIGN_INT);
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	return DatumGetJsonbP(DirectFunctionCall4(jsonb_set, JsonbPGetDatum(opts),
											  PointerGetDatum(arr),
											  JsonbPGetDatum(JsonbValueToJsonb(&v)),
											  BoolGetDatum(false)));
}

/*
 * Seal the secret headers of new->opts that are plain; refuse sealed ones
 * unchanged across an endpoint change.  Returns the options to store.
 */
static Jsonb *
seal_headers(const Endpoint *new, const Endpoint *old, bool moved)
{
	JsonbValue *hv = new->opts ? aig_jsonb_get(new->opts, "headers") : NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	List	   *names = NIL;
	List	   *values = NIL;
	ListCell   *ln,
			   *lv;
	Jsonb	   *opts = new->opts;

	if (hv == NULL || hv->type != jbvBinary || !JsonContainerIsObject(hv->val.binary.data))
		return opts;			/* validate_provider reports a bad one */
	it = JsonbIteratorInit(hv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *value;

		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		if (tok != WJB_VALUE || v.type != jbvString || !aig_header_is_secret(name, new->opts))
			continue;
		value = pnstrdup(v.val.string.val, v.val.string.len);
		if (aig_secret_is_sealed(value))
		{
			char	   *was = old ? header_value(old->opts, name) : NULL;

			if (moved && was != NULL && strcmp(was, value) == 0)
				refuse_moved_secret(old, new, psprintf("secret header \"%s\"", name));
			continue;
		}
		names = lappend(names, name);
		values = lappend(values, aig_secret_encrypt(value, header_purpose(name), new->name,
													new->kind, new->origin));
		explicit_bzero(value, strlen(value));
	}
	forboth(ln, names, lv, values)
		opts = set_header(opts, lfirst(ln), lfirst(lv));
	return opts;
}

/* Does options.api_key_env differ between the two option documents? */
static bool
env_changed(Jsonb *a, Jsonb *b)
{
	char	   *x = a ? aig_jsonb_get_string(a, "api_key_env", "provider option") : NULL;
	char	   *y = b ? aig_jsonb_get_string(b, "api_key_env", "provider option") : NULL;

	return (x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0);
}

/*
 * options.api_key_env: set (or its endpoint changed) by superusers only,
 * recorded in api_key_env_by; fills *by_val / *by_null for the new row.
 */
static void
check_env(const Endpoint *new, const Endpoint *old, HeapTuple newtup, HeapTuple oldtup,
		  TupleDesc desc, bool moved, Datum *by_val, bool *by_null)
{
	int			att = SPI_fnumber(desc, "api_key_env_by");
	char	   *env = new->opts ? aig_jsonb_get_string(new->opts, "api_key_env",
													   "provider option") : NULL;
	bool		isnull = true;
	bool		oldnull = true;
	Datum		by = (Datum) 0;
	Datum		oldby = (Datum) 0;
	bool		approve;

	*by_null = true;
	*by_val = (Datum) 0;
	if (env == NULL)
		return;
	if (att > 0)
	{
		by = heap_getattr(newtup, att, desc, &isnull);
		if (oldtup)
			oldby = heap_getattr(oldtup, att, desc, &oldnull);
	}
	approve = old == NULL || moved || env_changed(old->opts, new->opts) ||
		isnull != oldnull || (!isnull && DatumGetObjectId(by) != DatumGetObjectId(oldby));
	if (!approve)
	{
		*by_val = by;
		*by_null = isnull;
		return;
	}
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg(old != NULL && moved && !env_changed(old->opts, new->opts) ?
						"only a superuser may change the endpoint of provider \"%s\", whose key is a server environment variable" :
						"only a superuser may set options.api_key_env of provider \"%s\"",
						new->name),
				 errdetail("options.api_key_env sends a variable of the server's environment as the provider's key."),
				 errhint("Give the key itself in api_key, which is sealed and bound to the provider's endpoint.")));
	*by_val = ObjectIdGetDatum(GetUserId());
	*by_null = false;
}

/* A new row, or an update that changes options? */
static bool
options_changed(HeapTuple tup, HeapTuple oldtup, TupleDesc desc, int att)
{
	bool		n1,
				n2;
	Datum		a,
				b;

	if (oldtup == NULL)
		return true;
	a = heap_getattr(tup, att, desc, &n1);
	b = heap_getattr(oldtup, att, desc, &n2);
	if (n1 || n2)
		return n1 != n2;
	return !DatumGetBool(DirectFunctionCall2(jsonb_eq, a, b));
}

/*
 * BEFORE INSERT OR UPDATE trigger on ai_gateway.providers (see the file
 * header).  A value that already is a mask (an UPDATE of other columns, or
 * a pg_dump restore) leaves api_key_encrypted as the row carries it.
 */
PG_FUNCTION_INFO_V1(aig_providers_protect_key);
Datum
aig_providers_protect_key(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	HeapTuple	oldtup = NULL;
	TupleDesc	tupdesc;
	int			key_att,
				enc_att,
				opt_att,
				by_att;
	Endpoint	new;
	Endpoint	old;
	bool		have_old = false;
	bool		moved = false;
	char	   *plain;
	char	   *sealed;
	Jsonb	   *opts;
	int			cols[4];
	Datum		vals[4];
	bool		nulls[4];
	int			n = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "aig_providers_protect_key must be a BEFORE ROW trigger");

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		tuple = trigdata->tg_newtuple;
		oldtup = trigdata->tg_trigtuple;
	}
	else
		tuple = trigdata->tg_trigtuple;
	tupdesc = trigdata->tg_relation->rd_att;
	key_att = SPI_fnumber(tupdesc, "api_key");
	enc_att = SPI_fnumber(tupdesc, "api_key_encrypted");
	opt_att = SPI_fnumber(tupdesc, "options");
	by_att = SPI_fnumber(tupdesc, "api_key_env_by");
	if (key_att <= 0 || enc_att <= 0 || opt_att <= 0)
		elog(ERROR, "ai_gateway.providers lacks the api_key columns");
	if (!row_endpoint(tuple, tupdesc, options_changed(tuple, oldtup, tupdesc, opt_att), &new))
		return PointerGetDatum(tuple);	/* NOT NULL / CHECK report these */
	if (oldtup != NULL && row_endpoint(oldtup, tupdesc, false, &old))
	{
		have_old = true;
		moved = !same_endpoint(&old, &new);
	}

	/* the api_key */
	plain = col_text(tuple, tupdesc, "api_key");
	sealed = col_text(tuple, tupdesc, "api_key_encrypted");
	cols[n] = enc_att;
	nulls[n] = true;
	vals[n] = (Datum) 0;
	if (plain != NULL && !aig_secret_is_mask(plain))
	{
		if (plain[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("api_key must not be empty"),
					 errhint("Use NULL for a provider that needs no key.")));
		vals[n] = CStringGetTextDatum(aig_secret_encrypt(plain, "api_key", new.name,
														 new.kind, new.origin));
		nulls[n] = false;
		cols[++n] = key_att;
		vals[n] = CStringGetTextDatum(key_mask(new.kind, new.name, plain));
		nulls[n] = false;
		explicit_bzero(plain, strlen(plain));
	}
	else if (plain != NULL && sealed != NULL && aig_secret_is_legacy(sealed))
	{
		const char *why;
		char	   *key;

		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("the api_key of provider \"%s\" is sealed in the format of ai_gateway 0.2.0, not bound to an endpoint",
							new.name),
					 errhint("A superuser binds it (ALTER EXTENSION ai_gateway UPDATE does), or set api_key again.")));
		key = aig_secret_decrypt_legacy(sealed, &why);
		vals[n] = CStringGetTextDatum(key ? aig_secret_encrypt(key, "api_key", new.name,
															   new.kind, new.origin)
									  : sealed);
		nulls[n] = false;
		if (key)
			explicit_bzero(key, strlen(key));
	}
	else if (plain != NULL && sealed != NULL)
	{
		char	   *was = have_old ? col_text(oldtup, tupdesc, "api_key_encrypted") : NULL;

		if (moved && was != NULL && strcmp(was, sealed) == 0)
			refuse_moved_secret(&old, &new, "api_key");
		vals[n] = CStringGetTextDatum(sealed);
		nulls[n] = false;
	}
	n++;						/* else no key: drop any sealed one too */

	/* secret headers */
	opts = seal_headers(&new, have_old ? &old : NULL, moved);
	if (opts != new.opts)
	{
		cols[n] = opt_att;
		vals[n] = JsonbPGetDatum(opts);
		nulls[n++] = false;
	}

	/* a server environment variable as the key */
	if (by_att > 0)
	{
		cols[n] = by_att;
		check_env(&new, have_old ? &old : NULL, tuple, oldtup, tupdesc, moved,
				  &vals[n], &nulls[n]);
		n++;
	}
	else
	{
		Datum		d;
		bool		isnull;

		check_env(&new, have_old ? &old : NULL, tuple, oldtup, tupdesc, moved, &d, &isnull);
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, n, cols, vals, nulls));
}

/*
 * Open the secrets of provider p (its endpoint parsed already): sealed key
 * (or NULL), api_key_env recorded by env_by (InvalidOid: none), sealed
 * headers in p->extra_headers.  Sets p->api_key, p->secrets, or
 * p->key_problem; runs in the catalog's memory context.
 */
void
aig_provider_open_secrets(AigProvider *p, const char *sealed, const char *env, Oid env_by)
{
	char	   *origin = aig_secret_origin(p->base_url);
	const char *why;

	if (sealed != NULL && aig_secret_is_legacy(sealed))
		p->key_problem = pstrdup("its stored api_key is sealed in the format of ai_gateway 0.2.0, not bound to its endpoint: run ALTER EXTENSION ai_gateway UPDATE, or set api_key again");
	else if (sealed != NULL)
	{
		p->api_key = aig_secret_decrypt(sealed, "api_key", p->name, p->kind, origin, &why);
		if (p->api_key == NULL)
			p->key_problem = psprintf("its stored api_key cannot be decrypted: %s; set api_key again",
									  why);
	}
	else if (env != NULL)
	{
		const char *val = getenv(env);

		if (!OidIsValid(env_by) || !superuser_arg(env_by))
			p->key_problem = psprintf("options.api_key_env (%s) was not set by a superuser; only a superuser may set it",
									  env);
		else if (val == NULL || val[0] == '\0')
			p->key_problem = psprintf("environment variable %s named by options.api_key_env is not set in the server",
									  env);
		else
			p->api_key = pstrdup(val);
	}

	p->secrets = palloc0(sizeof(char *) * Max(p->nextra_headers, 1));
	for (int i = 0; i < p->nextra_headers; i++)
	{
		char	   *colon = strchr(p->extra_headers[i], ':');
		char	   *name;
		char	   *value;
		char	   *open;

		if (colon == NULL)
			continue;
		value = colon + 1;
		while (*value == ' ')
			value++;
		if (!aig_secret_is_sealed(value))
			continue;
		name = pnstrdup(p->extra_headers[i], colon - p->extra_headers[i]);
		open = aig_secret_decrypt(value, header_purpose(name), p->name, p->kind, origin, &why);
		if (open == NULL)
		{
			if (p->key_problem == NULL)
				p->key_problem = psprintf("its sealed header \"%s\" cannot be decrypted: %s; set it again",
										  name, why);
			continue;
		}
		p->extra_headers[i] = psprintf("%s: %s", name, open);
		p->secrets[p->nsecrets++] = open;
	}
	/* bedrock: the secret access key and session token inside the key document */
	if (p->api_key != NULL && strcmp(p->kind, "bedrock") == 0)
		aig_bedrock_add_secrets(p);
}
