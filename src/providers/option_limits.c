/*
 * option_limits.c — what each provider's API accepts of a call's options
 * (AigOptionLimits in provider.h, one table per dialect, from the providers'
 * published OpenAPI documents), checked before a request is built.
 *
 * The gateway's own ranges (call_options.c) are the union of what the APIs
 * take; a target whose API takes less fails the attempt with 22023 and a
 * message naming the API's limit, so nothing is sent that the provider would
 * refuse with an HTTP 400 after a round trip.  Embedding input types are
 * named in one neutral vocabulary (query, document, classification,
 * clustering, similarity) and mapped to each API's own; an API's own names
 * are accepted too.
 */
#include "postgres.h"

#include <math.h>

#include "providers/provider.h"

/* The gateway's neutral input types, for messages. */
#define NEUTRAL_TYPES "query, document, classification, clustering, similarity"

char *
aig_check_chat_options(const AigProvider *p, const AigGenOptions *o)
{
	const AigOptionLimits *lim = p->dialect->limits;

	if (lim == NULL)
		return NULL;
	if (lim->max_stop > 0 && o->nstop > lim->max_stop)
		return psprintf("the %s API accepts at most %d stop sequences; the call has %d",
						p->kind, lim->max_stop, o->nstop);
	if (lim->temperature_max > 0 && o->has_temperature &&
		o->temperature > lim->temperature_max)
		return psprintf("the %s API accepts temperature from 0 to %g, not %g",
						p->kind, lim->temperature_max, o->temperature);
	if (lim->top_p_max > 0 && o->has_top_p &&
		(o->top_p < lim->top_p_min || o->top_p > lim->top_p_max))
		return psprintf("the %s API accepts top_p from %g to %g, not %g",
						p->kind, lim->top_p_min, lim->top_p_max, o->top_p);
	if (lim->seed_unsigned && o->has_seed && o->seed < 0)
		return psprintf("the %s API accepts a seed of 0 or more, not " INT64_FORMAT,
						p->kind, o->seed);
	return NULL;
}

char *
aig_check_embed_request(const AigProvider *p, const AigEmbedRequest *req,
						const char **native)
{
	const AigOptionLimits *lim = p->dialect->limits;

	*native = NULL;
	if (lim == NULL)
		return NULL;
	if (lim->embed_no_empty)
		for (int i = 0; i < req->ninputs; i++)
			if (req->inputs[i] != NULL && req->inputs[i][0] == '\0')
				return psprintf("the %s API refuses an empty embedding input (input %d), and with it the whole request; pass NULL for a text with nothing to embed (a NULL input gives a NULL embedding)",
								p->kind, i + 1);
	if (req->input_type != NULL && lim->input_types != NULL)
	{
		for (const AigInputType *t = lim->input_types; t->neutral != NULL; t++)
			if (strcmp(t->neutral, req->input_type) == 0 ||
				strcmp(t->native, req->input_type) == 0)
			{
				*native = t->native;
				return NULL;
			}
		return psprintf("the %s API has no input type \"%s\" (input types: " NEUTRAL_TYPES ", or the API's own names)",
						p->kind, req->input_type);
	}
	return NULL;
}
