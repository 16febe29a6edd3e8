/*
 * pipeline.c — the one path of every call, whatever its entry: ai_complete,
 * ai_chat, ai_complete_batch, async jobs, ai_embed (one and many), shadow
 * copies, cache hits and pinned route versions.
 *
 * Stages, in this fixed order (each a function below, named stage_*):
 *
 *   1. resolve route       model string -> route.  A pinned version
 *                          ("route@N") takes its targets and prompts from
 *                          version N but its policy from the current route:
 *                          deny patterns, redaction, both hooks, and the role
 *                          a target is limited to — pinning never loosens
 *                          today's policy.
 *   2. grant check         42501 unless the caller holds a grant.
 *   3. request hook        may rewrite messages and options.
 *   4. deny/redact policy  23514 on a deny pattern; PII -> placeholders.
 *   5. quota and rate      one request + the estimated tokens and cost
 *                          reserved (53400 / 54000 when over).  A caller
 *                          already at a quota (no call could pass) is told
 *                          so right after the grant check, before any hook
 *                          runs: a look that takes nothing.
 *   6. cache lookup        a live answer of the response cache: no attempts.
 *   7. target order        the call's candidates (strategy.c).
 *   8. attempts            router.c (one call) or batch.c (many at once).
 *   9. settle              the reservation replaced by what was used.
 *  10. unredact            placeholders back to values (reversible mode).
 *  11. response hook       may rewrite the result object.
 *  12. cache put           the answer as the provider gave it (placeholders,
 *                          never the caller's values).
 *  13. audit               one record per accounted call, and statistics.
 *  14. shadow              copies queued for the route's shadow targets.
 *
 * A refused call stops where it is refused: a grant refusal runs no hook,
 * a caller already over a quota runs none either, a policy or quota
 * refusal never runs the response hook.  A call refused before it was
 * charged (stages 2–5: grant, quota, rate limit, deny pattern, request
 * hook) gets one audit record with status "denied" and its SQLSTATE, no
 * cost, here and nowhere else (account_refusal); audit.c bounds how many
 * such records a session can queue, so refusals cannot crowd the queue.  Every call that
 * was charged gets exactly one settle and one audit record, on every path:
 * success, upstream failure, hook error, cancel (the error is re-thrown
 * after), and backend exit (a before_shmem_exit callback, single calls).
 *
 * Cache hits take the same stages (grant, request hook, policy, quota,
 * response hook, audit with cache_hit); they cost nothing.  One reordering:
 * when ai_gateway.cache_hits_count_quota is off, a cacheable call looks
 * the cache up before reserving, so that a hit is free of quotas and rate
 * limits; only a miss reserves.  Hits are not shadowed.
 *
 * Embeddings take resolve, grant, policy (deny patterns and redaction of
 * the inputs; nothing to undo in vectors), quota, target order, attempts,
 * settle and audit.  Hooks are chat-shaped (messages in, a chat object
 * out), the cache holds chat answers and shadow copies are chat requests,
 * so those stages do not apply.
 *
 * Many calls (aig_pipeline_chat_many): stages 2–7 run per call inside a
 * subtransaction (core/isolate.c), so one call's refusal or failure —
 * hook error, blocked prompt, quota, a cache table it cannot read — is
 * that call's error; stage 8 runs all remaining calls concurrently
 * (batch.c); stages 9–14 run per call, the response hook isolated too.
 * The job worker takes the same per-call pieces one call at a time
 * (aig_pipeline_many_prepare / _finish / _cancel), so that each job ends
 * on its own while the others are still in flight.
 *
 * A shadow copy (aig_pipeline_shadow) was hooked and redacted by its
 * primary call: it takes target order (its shadow target), one attempt and
 * the audit record (shadow = true) only; it is not charged to quotas.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "core/isolate.h"
#include "core/jsonb_util.h"
#include "core/catalog_options.h"
#include "governance/audit.h"
#include "governance/cache.h"
#include "governance/hooks.h"
#include "governance/identity.h"
#include "governance/policy.h"
#include "governance/shadow_queue.h"
#include "routing/attempt.h"
#include "routing/messages.h"
#include "routing/pipeline.h"
#include "routing/pipeline_internal.h"
#include "routing/router_internal.h"

/* ---- accounting across errors and exits --------------------------------- */

/*
 * The single call in flight, accounted by a before_shmem_exit callback
 * when the backend exits during it (pg_terminate_backend, a FATAL error:
 * no PG_CATCH runs then), while shared memory is still attached.
 */
static CallAccount *inflight_acc = NULL;
static AigCallInfo *inflight_info = NULL;
static bool inflight_charged = false;

static void
account_at_exit(int code, Datum arg)
{
	if (inflight_acc)
	{
		CallAccount *acc = inflight_acc;

		inflight_acc = NULL;
		if (inflight_charged)
			aig_r_account_settle(acc, inflight_info, false);
		aig_r_account_audit(acc, inflight_info, false, "canceled",
							"backend terminated during the call", NULL);
	}
}

/* Watch this call until it is audited. */
static void
watch_inflight(CallAccount *acc, AigCallInfo *info, bool charged)
{
	static bool exit_hook = false;

	if (!exit_hook)
	{
		before_shmem_exit(account_at_exit, (Datum) 0);
		exit_hook = true;
	}
	inflight_acc = acc;
	inflight_info = info;
	inflight_charged = charged;
}

/*
 * A call that failed with a provider's refusal (attempt.c: no_answer) was
 * answered all the same: the tokens the provider billed are charged and
 * audited, with status "refused".
 */
static bool
refusal_billed(AigChatCall *c)
{
	if ((c->info.sqlerrcode != AIG_ERRCODE_MODEL_REFUSED &&
		 c->info.sqlerrcode != AIG_ERRCODE_MODEL_NO_TEXT) ||
		c->info.target == NULL || c->answered)
		return false;
	aig_r_finish_info(&c->info, c->route, c->info.target, c->info.attempts, c->start,
					  c->result.input_tokens, c->result.output_tokens);
	c->info.input_tokens = c->result.input_tokens;
	c->info.output_tokens = c->result.output_tokens;
	c->info.billed = true;
	return true;
}

/* A failed call: settle what it reserved, audit it (once each).  Never raises. */
static void
account_failure(AigChatCall *c, const char *error, bool canceled)
{
	bool		refused = !canceled && refusal_billed(c);

	if (c->charged)
	{
		aig_r_account_settle(&c->acc, &c->info, false);
		c->charged = false;
	}
	if (c->accounted)
	{
		aig_r_account_audit(&c->acc, &c->info, c->answered,
							canceled ? "canceled" : refused ? "refused" : "error",
							error, NULL);
		c->accounted = false;
	}
}

/* A cancel, a statement timeout or a shutdown: audited as "canceled". */
static bool
is_cancel(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_QUERY_CANCELED || sqlerrcode == ERRCODE_ADMIN_SHUTDOWN;
}

/*
 * A call refused before it was charged — grant, quota, rate limit, deny
 * pattern, request hook: the one place such refusals are audited (status
 * "denied", no cost).  A cancel is not a refusal.  Never raises.
 */
static void
account_refusal(const AigRoute *route, const AigCallOptions *co, Oid caller,
				const ErrorData *ed)
{
	if (!is_cancel(ed->sqlerrcode))
		aig_r_account_refusal(route, NULL, co ? co->metadata : NULL, caller, ed->sqlerrcode,
							  ed->message);
}

/* fn(arg), a stage before the charge; its error is audited as a refusal, then re-thrown. */
static void
refusable(const AigRoute *route, const AigCallOptions *co, void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			caller = GetUserId();

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		account_refusal(route, co, caller, CopyErrorData());
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void
check_access_fn(void *route)
{
	aig_r_check_access((AigRoute *) route);
}

/* ---- 1. resolve route ------------------------------------------------------ */

/*
 * A pinned version keeps today's policy: deny patterns, redaction and hooks
 * of the current route, and a target limited to a role in the current
 * route stays limited when reached through the old version.
 */
void
aig_pipeline_pinned_policy(AigRoute *route)
{
	AigRoute   *cur;

	if (route->version <= 0 || route->name == NULL)
		return;
	cur = aig_catalog_route(route->name);
	if (cur == NULL || cur == route)
		return;
	route->redact_pii = cur->redact_pii;
	route->ndeny = cur->ndeny;
	route->deny_patterns = cur->deny_patterns;
	route->request_hook_name = cur->request_hook_name;
	route->request_hook = cur->request_hook;
	route->response_hook_name = cur->response_hook_name;
	route->response_hook = cur->response_hook;
	route->hook_owner = cur->hook_owner;
	route->hook_problem = cur->hook_problem;
	for (int i = 0; i < route->ntargets; i++)
	{
		AigTarget  *t = &route->targets[i];

		for (int k = 0; k < cur->ntargets; k++)
		{
			const AigTarget *u = &cur->targets[k];

			if (u->role != NULL && u->provider == t->provider &&
				strcmp(u->model, t->model) == 0)
			{
				t->role = u->role;
				t->role_oid = u->role_oid;
			}
		}
	}
}

/* Stage 1: the route of a model string (the catalog is current). */
AigRoute *
aig_pipeline_resolve(const char *model)
{
	AigRoute   *route;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			caller = GetUserId();

	/* the call holds what it resolves until its end (core/catalog.c) */
	aig_catalog_pin();
	aig_audit_prepare();
	PG_TRY();
	{
		route = aig_resolve_model(model);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		/* a provider the caller may not call directly: refused, audited */
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		if (ed->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			aig_r_account_refusal(NULL, model, NULL, caller, ed->sqlerrcode, ed->message);
		PG_RE_THROW();
	}
	PG_END_TRY();
	aig_pipeline_pinned_policy(route);
	return route;
}

/* ---- 2. grant check -------------------------------------------------------- */

/* Stage 2: 42501 unless the caller holds a grant on the route (or provider). */
static void
stage_grant(AigChatCall *c)
{
	aig_r_check_access(c->route);
}

/*
 * Stage 5's early look, right after the grant: 53400 when the caller is
 * already at a quota, before any hook runs.  Skipped when cache hits are
 * free of quotas (a hit could still answer).
 */
static void
stage_quota_precheck(AigChatCall *c)
{
	if (aig_cache_hits_count_quota)
		aig_quota_precheck();
}

/* Resolve and grant: a queued job is refused now for what the caller can fix. */
AigRoute *
aig_pipeline_precheck(const char *model)
{
	AigRoute   *route = aig_pipeline_resolve(model);

	refusable(route, NULL, check_access_fn, route);
	return route;
}

/* ---- 3. request hook ------------------------------------------------------- */

/* Stage 3: the route's request hook may rewrite messages and options. */
static void
stage_request_hook(AigChatCall *c)
{
	AigRoute   *route = c->route;
	Jsonb	   *out;
	JsonbValue *m;
	JsonbValue *o;
	int			cap = 0;

	if (route->request_hook_name == NULL)
		return;
	out = aig_call_hook(aig_route_hook_refresh(route, true), route->hook_owner,
						"request_hook", route->name,
						aig_chat_request_jsonb(route, c->req, c->opts));
	m = aig_jsonb_get(out, "messages");
	o = aig_jsonb_get(out, "options");
	if (m == NULL || m->type != jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_hook of route \"%s\" returned no messages array", route->name),
				 errhint("Return the document given, with \"messages\" and optionally \"options\" changed.")));
	aig_parse_call_options(o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL, c->co);
	memset(c->req, 0, sizeof(AigChatRequest));
	c->req->opts = c->co->gen;
	aig_parse_messages(JsonbValueToJsonb(m), c->req, &cap);
}

/* ---- 4. deny/redact policy ------------------------------------------------- */

/* Stage 4: 23514 on a deny pattern; PII redacted in place (the map kept when reversible). */
static void
stage_policy(AigChatCall *c)
{
	c->map = aig_policy_apply_chat(c->route, c->req);
}

/* ---- 5. quota and rate reservation ----------------------------------------- */

/* The order context (size estimate, sticky key) and the accounting of the call. */
void
aig_pl_begin_account(AigChatCall *c)
{
	int64		bytes = 0;

	for (int i = 0; i < c->req->nmessages; i++)
		bytes += strlen(c->req->messages[i].content);
	aig_r_order_context(c->route, c->co, bytes, &c->ctx);
	aig_r_account_init(&c->acc, c->route, c->co,
					   aig_log_prompts ? aig_messages_json_ex(c->req, false) : NULL);
}

/* Stage 5: reserve one request and the estimate; charged from here on. */
static void
stage_quota(AigChatCall *c)
{
	aig_pl_begin_account(c);
	aig_r_account_reserve(&c->acc, c->route, &c->ctx,
						  c->co->gen.max_tokens > 0 ? c->co->gen.max_tokens : AIG_EST_OUTPUT_TOKENS);
	c->charged = c->accounted = true;
}

/* ---- 6. cache lookup ------------------------------------------------------- */

/* true on a hit: result and info hold the cached answer. */
static bool
stage_cache_lookup(AigChatCall *c)
{
	AigTarget  *t;

	if (!c->cacheable || !aig_cache_get(c->route, &c->key, &c->result, &t))
		return false;
	aig_r_finish_info(&c->info, c->route, t, 0, c->start, 0, 0);
	c->info.input_tokens = c->info.output_tokens = 0;
	c->info.has_cost = true;
	c->info.cost_usd = 0;
	c->info.cache_hit = true;
	c->cache_hit = c->answered = true;
	return true;
}

/*
 * Stages 5 and 6 together: reserve, then look up; or, when hits are free
 * of quotas, look up and reserve only on a miss.  true on a hit.
 */
static bool
quota_and_cache(AigChatCall *c)
{
	c->cacheable = aig_cache_prepare(c->route, c->req, c->co->cache_ttl_s, &c->key);
	if (c->cacheable && !aig_cache_hits_count_quota)
	{
		if (stage_cache_lookup(c))
		{
			aig_pl_begin_account(c);
			c->accounted = true;
			return true;
		}
		stage_quota(c);
		return false;
	}
	stage_quota(c);
	return stage_cache_lookup(c);
}

/* ---- 7. target order ------------------------------------------------------- */

/* Stage 7: the call's candidates, in the order to try them. */
static void
stage_target_order(AigChatCall *c, bool raise_when_none)
{
	c->ncand = aig_route_order(c->route, &c->ctx, &c->cands, raise_when_none);
}

/* ---- 9. settle ------------------------------------------------------------- */

/* Stage 9: the reservation replaced by what the call used. */
static void
stage_settle(AigChatCall *c)
{
	if (c->charged)
	{
		aig_r_account_settle(&c->acc, &c->info, true);
		c->charged = false;
	}
}

/* ---- 10. unredact ---------------------------------------------------------- */

/* Stage 10: the answer for the caller, placeholders mapped back when reversible. */
static void
stage_unredact(AigChatCall *c)
{
	c->answer = c->map ? aig_unredact(c->map, c->result.content) : c->result.content;
	/* the model's tool arguments may quote placeholders too */
	for (int i = 0; c->map && i < c->result.ntool_calls; i++)
		c->result.tool_calls[i].arguments =
			aig_unredact(c->map, c->result.tool_calls[i].arguments);
}

/* ---- 11. response hook ----------------------------------------------------- */

/*
 * Stage 11: the result object (when a hook or the entry wants it), through
 * the route's response hook; for text callers its content is the answer.
 */
static void
stage_response_hook(AigChatCall *c)
{
	AigRoute   *route = c->route;
	AigChatResult shown;
	JsonbValue *v;

	if (route->response_hook_name == NULL && !c->want_object)
		return;
	shown = c->result;
	shown.content = c->answer;
	c->response = aig_chat_result_jsonb(&shown, &c->info);
	if (route->response_hook_name == NULL)
		return;
	c->response = aig_call_hook(aig_route_hook_refresh(route, false), route->hook_owner,
								"response_hook",
								route->name, c->response);
	if (!c->want_text)
		return;
	/* the response hook had the last word */
	v = aig_jsonb_get(c->response, "content");
	if (v == NULL || v->type == jbvNull)
		c->answer = NULL;
	else if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("response_hook of route \"%s\" returned a non-string content",
						route->name)));
	else
		c->answer = pnstrdup(v->val.string.val, v->val.string.len);
}

/* ---- 12. cache put --------------------------------------------------------- */

/* Stage 12: keep the provider's answer (never the unredacted one) for the key. */
static void
stage_cache_put(AigChatCall *c)
{
	/* the cache keeps text answers: a tool-call answer is asked again */
	if (c->cacheable && !c->cache_hit && c->result.ntool_calls == 0)
		aig_cache_put(c->route, &c->key, &c->result, c->info.target);
}

/* ---- 13. audit ------------------------------------------------------------- */

/* Stage 13: the call's audit record, statistics and log line. */
void
aig_pl_stage_audit(AigChatCall *c)
{
	if (c->accounted)
	{
		aig_r_account_audit(&c->acc, &c->info, true, "ok", NULL, c->result.content);
		c->accounted = false;
	}
}

/* ---- 14. shadow ------------------------------------------------------------ */

/* Stage 14: a copy per shadow target of the request as sent (not for hits). */
static void
stage_shadow(AigChatCall *c)
{
	if (c->route->has_shadows && !c->cache_hit)
		aig_shadow_enqueue(c->route, aig_messages_json(c->req),
						   c->co->raw ? JsonbToCString(NULL, &c->co->raw->root,
													   VARSIZE(c->co->raw)) : "{}");
}

/* ---- one chat call --------------------------------------------------------- */

/* A zeroed call of route with its request and options (see pipeline.h). */
void
aig_chat_call_init(AigChatCall *c, AigRoute *route, AigChatRequest *req,
				   AigCallOptions *co, Jsonb *opts)
{
	memset(c, 0, sizeof(*c));
	c->route = route;
	c->req = req;
	c->co = co;
	c->opts = opts;
	c->retry_after_ms = -1;
}

/* The call's figures before its first attempt. */
static void
start_info(AigChatCall *c)
{
	INSTR_TIME_SET_CURRENT(c->start);
	memset(&c->info, 0, sizeof(c->info));
	c->info.route = c->route;
	c->info.input_tokens = c->info.output_tokens = -1;
}

/* Stages 9–12 of a call that was answered. */
static void
finish_answered(AigChatCall *c)
{
	stage_settle(c);
	stage_unredact(c);
	stage_response_hook(c);
	stage_cache_put(c);
}

/* options.batch is a way to queue work: a call that answers now cannot take it. */
static void
refuse_batch_option(const AigCallOptions *co)
{
	if (co != NULL && co->batch)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"batch\" is for work that can wait: a provider batch answers within 24 hours"),
				 errhint("Queue the call with ai_complete_async(..., options => '{\"batch\": true}'), or create a pipeline with {\"batch\": true}.")));
}

/* Every stage of one chat call; a failure is accounted, then re-thrown. */
void
aig_pipeline_chat(AigChatCall *c)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			caller = GetUserId();

	refuse_batch_option(c->co);
	start_info(c);
	PG_TRY();
	{
		stage_grant(c);
		stage_quota_precheck(c);
		stage_request_hook(c);
		stage_policy(c);
		if (!quota_and_cache(c))
		{
			watch_inflight(&c->acc, &c->info, true);
			stage_target_order(c, true);
			aig_route_attempts_chat(c);
			c->answered = true;
		}
		finish_answered(c);
	}
	PG_CATCH();
	{
		/* settled and audited, then re-thrown */
		ErrorData  *ed;

		inflight_acc = NULL;
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		c->info.sqlerrcode = ed->sqlerrcode;
		if (!c->accounted && !c->charged)
			account_refusal(c->route, c->co, caller, ed);
		account_failure(c, ed->message, is_cancel(ed->sqlerrcode));
		PG_RE_THROW();
	}
	PG_END_TRY();
	inflight_acc = NULL;
	aig_pl_stage_audit(c);
	stage_shadow(c);
	c->ok = true;
	aig_catalog_unpin();
}

/* ---- many chat calls ------------------------------------------------------- */

typedef struct ManyPrep
{
	AigChatCall *call;
	bool		grant;
} ManyPrep;

/* Stages 2–7 of one call of many (isolated: raising is that call's failure). */
static void
prepare_one(void *arg)
{
	ManyPrep   *p = (ManyPrep *) arg;
	AigChatCall *c = p->call;

	if (p->grant)
		stage_grant(c);
	stage_quota_precheck(c);
	stage_request_hook(c);
	stage_policy(c);
	if (quota_and_cache(c))
	{
		c->done = true;
		return;
	}
	stage_target_order(c, true);
}

/* Stages 10–12 of one call of many (isolated when a response hook may raise). */
void
aig_pl_finish_one(void *arg)
{
	AigChatCall *c = (AigChatCall *) arg;

	stage_unredact(c);
	stage_response_hook(c);
	stage_cache_put(c);
}

/* A call of many failed: its error, its settle and audit (a refusal's, before the charge). */
static void
fail_one(AigChatCall *c, ErrorData *ed)
{
	if (!c->accounted && !c->charged)
		account_refusal(c->route, c->co, GetUserId(), ed);
	c->ok = false;
	c->done = true;
	c->error = ed->message;
	c->info.sqlerrcode = ed->sqlerrcode;
	c->retryable = false;
	account_failure(c, ed->message, false);
}

/* Stages 2–7 of one call of many, isolated; true when it needs attempts. */
bool
aig_pipeline_many_prepare(AigChatCall *c, bool grant_per_call)
{
	ManyPrep	p;
	ErrorData  *ed;

	if (c->req == NULL)
		return false;
	start_info(c);
	p.call = c;
	p.grant = grant_per_call;
	/* an async job is held to the quotas of the session that queued it */
	aig_session_role_set(c->session_role);
	if (!aig_isolate(prepare_one, &p, &ed))
	{
		fail_one(c, ed);
		aig_session_role_set(InvalidOid);
		return false;
	}
	aig_session_role_set(InvalidOid);
	return !c->done;
}

/* Stages 9–14 of one call of many after its attempts (or its cache hit). */
void
aig_pipeline_many_finish(AigChatCall *c)
{
	ErrorData  *ed;

	if (c->req == NULL || (c->done && !c->cache_hit))
		return;					/* nothing sent, or failed before attempts */
	if (!c->answered)
	{
		/* the attempts failed: batch.c filled error and retryable */
		account_failure(c, c->error, false);
		return;
	}
	stage_settle(c);
	if (c->route->response_hook_name == NULL)
		aig_pl_finish_one(c);
	else if (!aig_isolate(aig_pl_finish_one, c, &ed))
	{
		fail_one(c, ed);
		return;
	}
	aig_pl_stage_audit(c);
	stage_shadow(c);
	c->ok = true;
}

/* A call of many dropped during its attempts (a cancel): settled and audited "canceled". */
void
aig_pipeline_many_cancel(AigChatCall *c, const char *why)
{
	account_failure(c, why, true);
}

/* Every stage of many chat calls on one route; per-call failures become their errors. */
void
aig_pipeline_chat_many(AigRoute *route, AigChatCall *calls, int n, int concurrency,
					   bool grant_per_call)
{
	AigChatCall **pending = palloc(sizeof(AigChatCall *) * Max(n, 1));
	int			npending = 0;

	if (n > 0)
		refuse_batch_option(calls[0].co);
	/* one route, one caller: a refused grant refuses the statement */
	if (!grant_per_call)
		refusable(route, n > 0 ? calls[0].co : NULL, check_access_fn, route);
	for (int i = 0; i < n; i++)
		if (aig_pipeline_many_prepare(&calls[i], grant_per_call))
			pending[npending++] = &calls[i];

	PG_TRY();
	{
		aig_route_attempts_many(route, pending, npending, concurrency);
	}
	PG_CATCH();
	{
		/* a cancel: every charged call is settled and audited, then re-thrown */
		for (int i = 0; i < npending; i++)
			account_failure(pending[i], "batch canceled", true);
		PG_RE_THROW();
	}
	PG_END_TRY();

	for (int i = 0; i < n; i++)
		aig_pipeline_many_finish(&calls[i]);
	aig_catalog_unpin();
}

/* ---- embeddings ------------------------------------------------------------ */

/* Resolve (done), grant, policy, quota, order, attempts, settle, audit of an embeddings call. */
void
aig_pipeline_embed(AigRoute *route, AigEmbedRequest *req, const AigCallOptions *co,
				   AigEmbedResult *result, AigCallInfo *info)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			caller = GetUserId();
	AigOrderContext ctx;
	AigCandidate *cands;
	int			ncand;
	CallAccount acc;
	int64		bytes = 0;

	refuse_batch_option(co);
	memset(info, 0, sizeof(*info));
	info->route = route;
	info->input_tokens = info->output_tokens = -1;
	/* 2. grant, 4. policy (no hooks: they are chat-shaped), 5. quota */
	PG_TRY();
	{
		aig_r_check_access(route);
		aig_policy_apply_embed(route, req);
		for (int i = 0; i < req->ninputs; i++)
			bytes += strlen(req->inputs[i]);
		aig_r_order_context(route, co, bytes, &ctx);
		ctx.max_tokens = -1;
		aig_r_account_init(&acc, route, co, NULL);
		aig_r_account_reserve(&acc, route, &ctx, 0);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		account_refusal(route, co, caller, CopyErrorData());
		PG_RE_THROW();
	}
	PG_END_TRY();
	watch_inflight(&acc, info, true);
	PG_TRY();
	{
		/* 7. target order, 8. attempts */
		ncand = aig_route_order(route, &ctx, &cands, true);
		aig_route_attempts_embed(route, cands, ncand, &ctx, req, co, result, info);
	}
	PG_CATCH();
	{
		/* settled and audited, then re-thrown */
		ErrorData  *ed;

		inflight_acc = NULL;
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		info->sqlerrcode = ed->sqlerrcode;
		aig_r_account_settle(&acc, info, false);
		aig_r_account_audit(&acc, info, false, is_cancel(ed->sqlerrcode) ? "canceled" : "error",
							ed->message, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inflight_acc = NULL;
	/* 9. settle, 13. audit */
	aig_r_account_settle(&acc, info, true);
	aig_r_account_audit(&acc, info, true, "ok", NULL, NULL);
	aig_catalog_unpin();
}

/* ---- shadow copies --------------------------------------------------------- */

/* One attempt of a shadow copy to its target, audited with shadow = true. */
bool
aig_pipeline_shadow(const char *route_name, AigTarget *target, AigChatRequest *req,
					const AigCallOptions *co, Oid roleid)
{
	AigRoute	route;
	AigChatResult res;
	AigChatAttempt a;
	AigAttemptError err;
	AigHttpLimits lim;
	AigCallInfo info;
	CallAccount acc;
	instr_time	start;
	bool		ok;

	/* a route of the one shadow target: its name labels the audit row */
	memset(&route, 0, sizeof(route));
	route.name = (char *) route_name;
	route.ntargets = 1;
	route.targets = target;
	aig_r_account_init(&acc, &route, co, NULL);
	acc.roleid = roleid;
	acc.shadow = true;

	/* 7. target order: the shadow target; 8. attempts: one, no retry */
	lim = aig_r_attempt_limits(target->provider, co,
							   co->timeout_ms > 0 ? co->timeout_ms :
							   target->provider->timeout_ms > 0 ?
							   target->provider->timeout_ms : aig_timeout_ms);
	memset(&res, 0, sizeof(res));
	memset(&err, 0, sizeof(err));
	err.retry_after_ms = -1;
	a.req = req;
	a.result = &res;
	INSTR_TIME_SET_CURRENT(start);
	ok = aig_attempt_chat(target, &lim, &a, &err);

	/* 13. audit, shadow = true */
	memset(&info, 0, sizeof(info));
	aig_r_finish_info(&info, &route, target, 1, start, res.input_tokens, res.output_tokens);
	info.http_status = ok ? 200 : err.http_status;
	info.sqlerrcode = err.sqlerrcode;
	info.input_tokens = res.input_tokens;
	info.output_tokens = res.output_tokens;
	aig_r_account_audit(&acc, &info, ok, ok ? "ok" : "error", ok ? NULL : err.message,
						ok ? res.content : NULL);
	return ok;
}
