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
 * are accepted too.  It also checks the capabilities a chat request needs
 * (tool calling, image and PDF input: AIG_CAP_*) against the provider's,
 * with the API's own image size limit.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"

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

/* The capabilities a request needs of a provider (AIG_CAP_*). */
unsigned
aig_chat_needed_caps(const AigChatRequest *req)
{
	unsigned	caps = 0;

	if (req->opts.ntools > 0)
		caps |= AIG_CAP_TOOLS;
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (m->ntool_calls > 0 || strcmp(m->role, "tool") == 0)
			caps |= AIG_CAP_TOOLS;
		for (int j = 0; j < m->nparts; j++)
		{
			const AigContentPart *p = &m->parts[j];

			if (p->kind == AIG_PART_DOCUMENT)
				caps |= AIG_CAP_DOCUMENTS;
			else if (p->kind == AIG_PART_IMAGE)
				caps |= p->url ? AIG_CAP_IMAGE_URLS : AIG_CAP_IMAGES;
		}
	}
	return caps;
}

/* The largest decoded part of a request, in bytes. */
size_t
aig_chat_largest_part(const AigChatRequest *req)
{
	size_t		largest = 0;

	for (int i = 0; i < req->nmessages; i++)
		for (int j = 0; j < req->messages[i].nparts; j++)
			largest = Max(largest, req->messages[i].parts[j].nbytes);
	return largest;
}

/* Names of the capabilities in caps, for messages. */
static char *
cap_names(unsigned caps)
{
	StringInfoData b;
	static const struct
	{
		unsigned	cap;
		const char *name;
	}			names[] = {
		{AIG_CAP_TOOLS, "tool calling"},
		{AIG_CAP_IMAGES, "image input"},
		{AIG_CAP_IMAGE_URLS, "image URLs"},
		{AIG_CAP_DOCUMENTS, "PDF input"},
	};

	initStringInfo(&b);
	for (int i = 0; i < lengthof(names); i++)
		if (caps & names[i].cap)
			appendStringInfo(&b, "%s%s", b.len ? ", " : "", names[i].name);
	return b.data;
}

char *
aig_check_chat_caps(const AigProvider *p, const AigChatRequest *req)
{
	unsigned	missing = aig_chat_needed_caps(req) & ~p->caps;
	size_t		largest;
	int			limit_kb = p->dialect->max_image_kb;

	if (missing != 0)
		return psprintf("provider kind %s has no %s", p->kind, cap_names(missing));
	largest = aig_chat_largest_part(req);
	if (limit_kb > 0 && largest > (size_t) limit_kb * 1024)
		return psprintf("an image or document has %zu bytes; provider kind %s takes at most %d kB",
						largest, p->kind, limit_kb);
	return NULL;
}

/* Dimensions of well-known embedding models, for the answer-size estimate. */
static const struct
{
	const char *prefix;
	int			dims;
}			known_dims[] = {
	{"text-embedding-3-small", 1536},
	{"text-embedding-3-large", 3072},
	{"text-embedding-ada-002", 1536},
	{"embed-v4.0", 1536},
	{"embed-english-v3.0", 1024},
	{"embed-multilingual-v3.0", 1024},
	{"gemini-embedding-001", 3072},
	{"text-embedding-004", 768},
	{"nomic-embed-text", 768},
	{"mxbai-embed-large", 1024},
	{"all-minilm", 384},
	{"mistral-embed", 1024},
};

/*
 * Bytes one input's vector takes in the answer: the dimensions asked for,
 * else the model's known ones, at 24 bytes a dimension as JSON numbers or 6
 * as base64 float32, plus the object around it; 0 when the dimensions are
 * unknown (the caller then splits a chunk whose answer turns out too large).
 */
size_t
aig_embed_answer_bytes(const AigProvider *p, const AigEmbedRequest *req)
{
	int			dims = req->dimensions > 0 ? req->dimensions : 0;

	for (int i = 0; dims == 0 && i < lengthof(known_dims); i++)
		if (req->model && strncmp(req->model, known_dims[i].prefix, strlen(known_dims[i].prefix)) == 0)
			dims = known_dims[i].dims;
	if (dims == 0)
		return 0;
	return (size_t) dims * (p->dialect->embed_base64 ? 6 : 24) + 96;
}
