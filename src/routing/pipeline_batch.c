/*
 * pipeline_batch.c — the call pipeline for calls answered through a
 * provider's Batch API (the job worker's provider batches,
 * background/provider_batches.c).  Such a call takes the same stages as
 * any other, split in two halves that may be hours (and server restarts)
 * apart:
 *
 *   at submission   stages 2–7 as for an async job (aig_pipeline_many_prepare:
 *                   grant, request hook, deny/redact policy, quota and
 *                   rate, cache lookup, target order), then the target:
 *                   the first candidate whose provider has a Batch API
 *                   and takes the request (capabilities, options); the
 *                   reservation is settled at once with the request
 *                   counted and nothing used (aig_pipeline_batch_handed).
 *                   Reversible redaction is refused (0A000): its
 *                   placeholders' values cannot be kept until the answer.
 *   at completion   the answer read and checked as a direct answer is
 *                   (aig_chat_finish: tool calls, structured output,
 *                   refusals), its tokens and cost — at the batch price —
 *                   charged to the caller's quotas (aig_quota_charge: the
 *                   work is done, so nothing refuses it), the response
 *                   hook, and the one audit record of the call, whose
 *                   metadata names the provider batch.
 *
 * Batch answers are not cached and not shadowed (a shadow copy compares
 * live answers); the circuit breakers and latency statistics of live
 * calls are left alone.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "core/isolate.h"
#include "governance/quota.h"
#include "providers/batch_api.h"
#include "routing/attempt.h"
#include "routing/pipeline_batch.h"
#include "routing/pipeline_internal.h"
#include "routing/router_internal.h"

/* A call of many that ends before it is handed over: error, settle, audit. */
static bool
refuse(AigChatCall *c, int sqlerrcode, const char *error)
{
	c->ok = false;
	c->answered = false;
	c->error = pstrdup(error);
	c->info.sqlerrcode = sqlerrcode;
	c->retryable = false;
	aig_pipeline_many_finish(c);
	c->done = true;
	return false;
}

void
aig_pipeline_batch_precheck(const AigRoute *route)
{
	const char *name = route->name ? route->name : "(direct)";

	if (route->redact_pii == AIG_REDACT_REVERSIBLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("route \"%s\" redacts reversibly, which the Batch API mode cannot", name),
				 errhint("The values behind the placeholders are not kept until a batch answers: call without \"batch\", or use a route with redact_pii true or off.")));
	for (int i = 0; i < route->ntargets; i++)
		if (!route->targets[i].shadow && aig_batch_api_for(route->targets[i].provider) != NULL)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("no target of route \"%s\" has a Batch API", name),
			 errhint("The Batch API mode runs on providers of kind openai and anthropic; add such a target or call without \"batch\".")));
}

bool
aig_pipeline_batch_target(AigChatCall *c, AigTarget **target, AigHttpRequest *hreq)
{
	StringInfoData why;

	if (c->map != NULL)
		return refuse(c, ERRCODE_FEATURE_NOT_SUPPORTED,
					  psprintf("route \"%s\" redacts reversibly, which the Batch API mode cannot: "
							   "the values behind the placeholders are not kept until the answer",
							   c->route->name ? c->route->name : "(direct)"));
	initStringInfo(&why);
	for (int i = 0; i < c->ncand; i++)
	{
		AigTarget  *t = c->cands[i].target;
		AigAttemptError err;

		if (!c->cands[i].eligible)
			continue;
		if (aig_batch_api_for(t->provider) == NULL)
		{
			appendStringInfo(&why, "%s%s/%s: kind %s has no Batch API here", why.len ? "; " : "",
							 t->provider->name, t->model, t->provider->kind);
			continue;
		}
		memset(&err, 0, sizeof(err));
		if (aig_chat_build(t, c->req, hreq, &err))
		{
			*target = t;
			return true;
		}
		appendStringInfo(&why, "%s%s/%s: %s", why.len ? "; " : "", t->provider->name, t->model,
						 err.message ? err.message : "unusable");
	}
	return refuse(c, ERRCODE_FEATURE_NOT_SUPPORTED,
				  psprintf("no target of %s%s%s can take the call through a Batch API (openai, anthropic)%s%s",
						   c->route->name ? "route \"" : "the model",
						   c->route->name ? c->route->name : "",
						   c->route->name ? "\"" : "",
						   why.len ? ": " : "", why.data));
}

void
aig_pipeline_batch_handed(AigChatCall *c)
{
	if (c->charged)
	{
		/* the request counted, nothing used yet: the answer is charged when it comes */
		memset(&c->info, 0, sizeof(c->info));
		aig_r_account_settle(&c->acc, &c->info, false);
		c->charged = false;
	}
	c->accounted = false;
}

/* The call's metadata with {"provider_batch": label} added. */
static void
label_metadata(AigChatCall *c, const char *label)
{
	Datum		tag = DirectFunctionCall1(jsonb_in, CStringGetDatum(
											  psprintf("{\"provider_batch\": \"%s\"}", label)));

	c->co->metadata = c->co->metadata == NULL ? DatumGetJsonbP(tag) :
		DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(c->co->metadata), tag));
}

void
aig_pipeline_batch_finish(AigChatCall *c, AigTarget *t, AigHttpResponse *resp,
						  const char *label)
{
	AigAttemptError err;
	ErrorData  *ed;

	memset(&c->info, 0, sizeof(c->info));
	c->info.route = c->route;
	INSTR_TIME_SET_CURRENT(c->start);
	label_metadata(c, label);
	aig_pl_begin_account(c);
	c->accounted = true;
	memset(&err, 0, sizeof(err));
	err.retry_after_ms = -1;
	memset(&c->result, 0, sizeof(c->result));
	if (resp->failed || !aig_chat_finish(t, c->req, resp, &c->result, &err))
	{
		if (resp->failed)
		{
			err.sqlerrcode = resp->sqlerrcode;
			err.message = resp->error;
			err.retryable = resp->retryable;
		}
		aig_r_finish_info(&c->info, c->route, t, 1, c->start, -1, -1);
		c->info.http_status = resp->status;
		c->info.sqlerrcode = err.sqlerrcode;
		c->ok = false;
		c->error = err.message ? err.message : "the provider batch gave no answer";
		c->retryable = err.retryable;
		aig_r_account_audit(&c->acc, &c->info, false, "error", c->error, NULL);
		c->accounted = false;
		return;
	}
	aig_r_finish_info(&c->info, c->route, t, 1, c->start, c->result.input_tokens,
					  c->result.output_tokens);
	c->info.input_tokens = c->result.input_tokens;
	c->info.output_tokens = c->result.output_tokens;
	c->info.http_status = resp->status;
	if (c->info.has_cost)
		c->info.cost_usd *= AIG_BATCH_PRICE_FACTOR;
	c->answered = true;
	/* 9. the answer charged: what was used is used */
	aig_quota_charge(Max(c->info.input_tokens, 0) + Max(c->info.output_tokens, 0),
					 c->info.has_cost ? c->info.cost_usd : 0);
	/* 10–11: unredact (nothing: reversible redaction is refused), response hook */
	if (!aig_isolate(aig_pl_finish_one, c, &ed))
	{
		c->ok = false;
		c->error = ed->message;
		c->info.sqlerrcode = ed->sqlerrcode;
		c->retryable = false;
		aig_r_account_audit(&c->acc, &c->info, true, "error", ed->message, NULL);
		c->accounted = false;
		return;
	}
	aig_pl_stage_audit(c);
	c->ok = true;
}
