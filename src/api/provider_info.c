/*
 * provider_info.c — ai_gateway.provider_info(): each provider as the
 * gateway resolved it: its kind, the base URL it calls (the stored one, or
 * the kind's documented default), what its API takes (capabilities,
 * embeddings and their batch size) and what a preset kind changes in the
 * OpenAI format.  Nothing secret: no key, no header value.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "core/preload.h"
#include "core/catalog.h"
#include "providers/batch_api.h"
#include "providers/provider.h"

/* AIG_CAP_* names, in the order they are listed */
static const struct
{
	unsigned	flag;
	const char *name;
}			cap_names[] = {
	{AIG_CAP_TOOLS, "tools"},
	{AIG_CAP_IMAGES, "images"},
	{AIG_CAP_IMAGE_URLS, "image_urls"},
	{AIG_CAP_DOCUMENTS, "documents"},
	{AIG_CAP_JSON_SCHEMA, "json_schema"},
};

/* caps as a text[] of their names */
static Datum
caps_array(unsigned caps, bool batch_api)
{
	Datum		elems[lengthof(cap_names) + 1];
	int			n = 0;

	for (int i = 0; i < lengthof(cap_names); i++)
		if (caps & cap_names[i].flag)
			elems[n++] = CStringGetTextDatum(cap_names[i].name);
	/* options.batch: the provider's Batch API (providers/batch_api.h) */
	if (batch_api)
		elems[n++] = CStringGetTextDatum("batch_api");
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(aig_provider_info);
Datum
aig_provider_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigProvider **providers;
	int			nprov;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	aig_catalog_ensure();
	nprov = aig_catalog_providers(&providers);
	for (int i = 0; i < nprov; i++)
	{
		const AigProvider *p = providers[i];
		const AigDialect *d = p->dialect;
		Datum		values[7];
		bool		nulls[7] = {0};
		const char *notes = aig_preset_notes(d);
		int			batch = d->max_embed_batch;

		if (p->max_embed_batch > 0 && batch > 0)
			batch = Min(batch, p->max_embed_batch);
		values[0] = CStringGetTextDatum(p->name);
		values[1] = CStringGetTextDatum(p->kind);
		values[2] = CStringGetTextDatum(p->base_url ? p->base_url : "");
		values[3] = BoolGetDatum(d->build_embed != NULL && d->max_embed_batch > 0);
		values[4] = Int32GetDatum(batch);
		nulls[4] = !DatumGetBool(values[3]);
		values[5] = caps_array(p->caps, aig_batch_api_for(p) != NULL);
		values[6] = notes ? CStringGetTextDatum(notes) : (Datum) 0;
		nulls[6] = notes == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
