/*
 * functions.c — the SQL entry points of calls: ai_complete, ai_chat,
 * ai_complete_batch, ai_embed (one text or an array).  Argument handling
 * only: each turns its arguments into a normalized request and options,
 * hands them to the call pipeline (routing/pipeline.c), which runs every
 * stage — grant, hooks, policy, quota, cache, attempts, audit, shadow —
 * and shapes the answer.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/preload.h"
#include "routing/attempt.h"
#include "core/catalog.h"
#include "governance/standby.h"
#include "routing/call_options.h"
#include "routing/messages.h"
#include "routing/pipeline.h"

/* Text of the server encoding as the UTF-8 that provider APIs speak. */
static char *
to_utf8(text *t)
{
	char	   *s = text_to_cstring(t);

	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * Common start of every call: the library loaded, refused on a hot standby
 * unless ai_gateway.standby_calls allows it, the catalog current, stage 1.
 */
static AigRoute *
begin_call(text *model)
{
	aig_require_preload();
	aig_standby_check_call();
	aig_catalog_ensure();
	return aig_pipeline_resolve(model ? text_to_cstring(model) : NULL);
}

/* A chat request with the call's generation options and no messages yet. */
static AigChatRequest *
new_chat_request(const AigCallOptions *co)
{
	AigChatRequest *req = palloc0(sizeof(AigChatRequest));

	req->opts = co->gen;
	return req;
}

/*
 * ai_complete(prompt text, model text, system_prompt text, options jsonb)
 * RETURNS text
 */
PG_FUNCTION_INFO_V1(aig_complete);
Datum
aig_complete(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigChatRequest *req;
	AigChatCall call;
	AigRoute   *route;
	Jsonb	   *opts;
	int			cap = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	aig_parse_call_options(opts, &co);
	req = new_chat_request(&co);
	if (!PG_ARGISNULL(2))
		aig_add_message(req, &cap, "system", to_utf8(PG_GETARG_TEXT_PP(2)));
	else if (route->system_prompt)
		aig_add_message(req, &cap, "system", route->system_prompt);
	aig_add_message(req, &cap, "user", to_utf8(PG_GETARG_TEXT_PP(0)));

	aig_chat_call_init(&call, route, req, &co, opts);
	call.want_text = true;
	aig_pipeline_chat(&call);
	if (call.answer == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(call.answer));
}

/* ai_chat(messages jsonb, model text, options jsonb) RETURNS jsonb */
PG_FUNCTION_INFO_V1(aig_chat);
Datum
aig_chat(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigChatRequest *req;
	AigChatCall call;
	AigRoute   *route;
	Jsonb	   *opts;
	int			cap = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	aig_parse_call_options(opts, &co);
	req = new_chat_request(&co);
	aig_parse_messages(PG_GETARG_JSONB_P(0), req, &cap);
	/* the route's system prompt goes first */
	if (route->system_prompt && !aig_has_system_message(req))
		aig_prepend_system(req, &cap, route->system_prompt);

	aig_chat_call_init(&call, route, req, &co, opts);
	call.want_object = true;
	aig_pipeline_chat(&call);
	PG_RETURN_JSONB_P(call.response);
}

/*
 * ai_complete_batch(prompts text[], model text, system_prompt text, options jsonb)
 * RETURNS TABLE(ordinality int, completion text, error text)
 *
 * Every prompt is a call of its own (hooks, policy, routing, retries,
 * quotas, audit), all run concurrently.  A NULL prompt gives a row of
 * NULLs; one prompt's failure is its row's error.
 */
static Datum complete_batch(FunctionCallInfo fcinfo, bool with_retryable);

PG_FUNCTION_INFO_V1(aig_complete_batch);
Datum
aig_complete_batch(PG_FUNCTION_ARGS)
{
	return complete_batch(fcinfo, false);
}

/*
 * ai_gateway.pipeline_complete_batch(prompts, model, system_prompt, options):
 * ai_complete_batch with two more columns, retryable (a later retry may
 * succeed) and sqlstate, for the pipelines' worker (pipeline_compute).
 */
PG_FUNCTION_INFO_V1(aig_pipeline_complete_batch);
Datum
aig_pipeline_complete_batch(PG_FUNCTION_ARGS)
{
	return complete_batch(fcinfo, true);
}

/* ai_complete_batch's rows, with `retryable` as a fourth column when asked. */
static Datum
complete_batch(FunctionCallInfo fcinfo, bool with_retryable)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigCallOptions co;
	AigRoute   *route;
	Jsonb	   *opts;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	AigChatCall *calls;
	char	   *system = NULL;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	opts = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	aig_parse_call_options(opts, &co);
	if (!PG_ARGISNULL(2))
		system = to_utf8(PG_GETARG_TEXT_PP(2));
	else if (route->system_prompt)
		system = route->system_prompt;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	calls = palloc(sizeof(AigChatCall) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		AigCallOptions *item_co = NULL;
		AigChatRequest *req = NULL;
		int			cap = 0;

		if (!nulls[i])
		{
			item_co = palloc(sizeof(AigCallOptions));
			*item_co = co;
			req = new_chat_request(&co);
			if (system)
				aig_add_message(req, &cap, "system", system);
			aig_add_message(req, &cap, "user", to_utf8(DatumGetTextPP(elems[i])));
		}
		aig_chat_call_init(&calls[i], route, req, item_co, opts);
		calls[i].want_text = true;
	}

	aig_pipeline_chat_many(route, calls, n,
						   co.concurrency > 0 ? co.concurrency : aig_batch_concurrency, false);

	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		isnull[5] = {false, true, true, true, true};

		values[0] = Int32GetDatum(i + 1);
		if (with_retryable && !calls[i].ok && calls[i].error)
		{
			values[3] = BoolGetDatum(calls[i].retryable);
			isnull[3] = false;
			if (calls[i].info.sqlerrcode != 0)
			{
				values[4] = CStringGetTextDatum(unpack_sql_state(calls[i].info.sqlerrcode));
				isnull[4] = false;
			}
		}
		if (calls[i].ok)
		{
			if (calls[i].answer != NULL)
			{
				values[1] = CStringGetTextDatum(calls[i].answer);
				isnull[1] = false;
			}
		}
		else if (calls[i].error)
		{
			values[2] = CStringGetTextDatum(calls[i].error);
			isnull[2] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}

/* An embeddings request with the call's dimensions and input type. */
static void
init_embed_request(AigEmbedRequest *req, const AigCallOptions *co)
{
	memset(req, 0, sizeof(*req));
	req->dimensions = co->dimensions;
	req->input_type = co->input_type;
}

/* A vector as real[]. */
static ArrayType *
vector_array(const float4 *v, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Float4GetDatum(v[i]);
	return construct_array(elems, n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

/* ai_embed(input text, model text, options jsonb) RETURNS real[] */
PG_FUNCTION_INFO_V1(aig_embed);
Datum
aig_embed(PG_FUNCTION_ARGS)
{
	AigCallOptions co;
	AigEmbedRequest req;
	AigEmbedResult res;
	AigCallInfo info;
	AigRoute   *route;
	char	   *input;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	aig_parse_call_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &co);
	init_embed_request(&req, &co);
	input = to_utf8(PG_GETARG_TEXT_PP(0));
	req.ninputs = 1;
	req.inputs = &input;
	aig_pipeline_embed(route, &req, &co, &res, &info);
	PG_RETURN_ARRAYTYPE_P(vector_array(res.vectors[0], res.ndims[0]));
}

/*
 * ai_embed(inputs text[], model text, options jsonb)
 * RETURNS TABLE(ordinality int, embedding real[])
 *
 * NULL elements yield a NULL embedding and are not sent.
 */
PG_FUNCTION_INFO_V1(aig_embed_many);
Datum
aig_embed_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigCallOptions co;
	AigEmbedRequest req;
	AigEmbedResult res;
	AigCallInfo info;
	AigRoute   *route;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int		   *slot;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	route = begin_call(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	aig_parse_call_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &co);
	init_embed_request(&req, &co);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	req.inputs = palloc(sizeof(char *) * Max(nelems, 1));
	slot = palloc(sizeof(int) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		slot[i] = -1;
		if (!nulls[i])
		{
			slot[i] = req.ninputs;
			req.inputs[req.ninputs++] = to_utf8(DatumGetTextPP(elems[i]));
		}
	}
	if (req.ninputs > 0)
	{
		aig_pipeline_embed(route, &req, &co, &res, &info);
	}

	for (int i = 0; i < nelems; i++)
	{
		Datum		values[2];
		bool		isnull[2] = {false, false};

		values[0] = Int32GetDatum(i + 1);
		if (slot[i] < 0)
		{
			values[1] = (Datum) 0;
			isnull[1] = true;
		}
		else
			values[1] = PointerGetDatum(vector_array(res.vectors[slot[i]],
													 res.ndims[slot[i]]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
