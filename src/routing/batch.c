/*
 * batch.c — the attempts stage of many calls at once (ai_complete_batch,
 * a round of async jobs); pipeline.c runs every other stage around it.
 *
 * Each call has its own target order (made by the pipeline), retries with
 * backoff and breaker checks, but all share one event loop on the
 * backend's curl multi handle, so up to `concurrency` requests are in
 * flight at once (call option concurrency, else ai_gateway.batch_concurrency;
 * a provider's options.max_concurrency caps its own share).  As soon as a
 * transfer ends its slot goes to the next attempt: a retry whose backoff
 * has passed first, else the next new call, so a slow call never holds up
 * the rest.
 *
 * A call whose attempts all fail gets its error (and whether a later retry
 * may succeed) and the others go on.  A cancel stops the whole batch at
 * once: in-flight transfers are dropped and the error is re-thrown; the
 * pipeline accounts every charged call ("canceled").
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "governance/audit.h"
#include "routing/attempt.h"
#include "routing/router_internal.h"
#include "routing/target_state.h"

typedef enum ItemState
{
	ITEM_IDLE,					/* nothing in flight; may be waiting for a retry */
	ITEM_INFLIGHT,
	ITEM_DONE,
} ItemState;

typedef struct Work
{
	AigChatCall *item;
	ItemState	state;
	TargetRun  *run;
	int			attempts;
	int			budget;
	int			cur;			/* candidate in flight */
	TimestampTz deadline;		/* set at the first attempt */
	AigAttemptError err;
	AigHttpRequest hreq;
	instr_time	attempt_start;
} Work;

/* Provider in-flight counts, for options.max_concurrency. */
typedef struct ProviderLoad
{
	const AigProvider *p;
	int			inflight;
} ProviderLoad;

/* The in-flight count of provider p (added on first use). */
static ProviderLoad *
load_of(ProviderLoad *loads, int *nloads, const AigProvider *p)
{
	for (int i = 0; i < *nloads; i++)
		if (loads[i].p == p)
			return &loads[i];
	loads[*nloads].p = p;
	loads[*nloads].inflight = 0;
	return &loads[(*nloads)++];
}

/* The call's attempts are over: answered, or failed with its last error. */
static void
finish(Work *w, bool ok, const char *error)
{
	AigChatCall *it = w->item;

	w->state = ITEM_DONE;
	it->answered = ok;
	if (!ok)
	{
		it->error = pstrdup(error ? error : "failed");
		it->retryable = w->err.retryable;
		it->info.sqlerrcode = w->err.sqlerrcode;
		it->retry_after_ms = w->err.retry_after_ms;
	}
}

/* After a failed attempt: the target is done, or due again after its backoff. */
static void
fail_attempt(Work *w, TargetRun *r)
{
	if (w->err.final)
	{
		/* a refusal ends the call: no retry, no other target */
		for (int i = 0; i < w->item->ncand; i++)
			w->run[i].done = true;
	}
	else if (!w->err.retryable || r->tries > r->max_retries)
		r->done = true;
	else
		r->ready_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  aig_r_backoff_ms(r->tries, w->err.retry_after_ms));
}

/* Prepare a call's attempts over the candidates the pipeline ordered. */
static void
prepare(AigRoute *route, Work *w)
{
	AigChatCall *it = w->item;
	int			route_retries = 0;

	w->run = palloc0(sizeof(TargetRun) * Max(it->ncand, 1));
	for (int i = 0; i < it->ncand; i++)
	{
		w->run[i].cand = &it->cands[i];
		w->run[i].max_retries = aig_r_effective_max_retries(route, it->cands[i].target->provider,
															it->co);
		route_retries = Max(route_retries, w->run[i].max_retries);
	}
	w->budget = route_retries + it->ncand;
}

/*
 * Try to start this item's next attempt.  Returns true when a transfer was
 * added; false when the item is waiting (retry not yet due, provider at its
 * cap) or finished.
 */
static bool
start_attempt(AigRoute *route, Work *w, AigHttpBatch *batch, int tag,
			  ProviderLoad *loads, int *nloads, TimestampTz now)
{
	for (;;)
	{
		int			i;
		TargetRun  *r;
		AigTarget  *t;
		bool		probe;
		long		remaining;
		AigHttpLimits lim;
		ProviderLoad *pl;
		char	   *why = NULL;

		if (w->attempts >= w->budget || (i = aig_r_next_target(w->run, w->item->ncand)) < 0)
		{
			finish(w, false, w->err.message ? w->err.message : "no target left to try");
			return false;
		}
		r = &w->run[i];
		t = r->cand->target;
		if (r->ready_at > now)
			return false;		/* a retry, not due yet */
		if (w->deadline == 0)
			w->deadline = TimestampTzPlusMilliseconds(now, aig_r_call_timeout_ms(route, w->item->co));
		remaining = TimestampDifferenceMilliseconds(now, w->deadline);
		if (remaining <= 0)
		{
			finish(w, false, w->err.message ? w->err.message : "no attempt within the call's timeout");
			return false;
		}
		pl = load_of(loads, nloads, t->provider);
		if (t->provider->max_concurrency > 0 && pl->inflight >= t->provider->max_concurrency)
			return false;		/* wait for a slot of this provider */
		if (!aig_breaker_allow(t->state, now, &probe))
		{
			r->done = true;
			w->err.sqlerrcode = ERRCODE_CONNECTION_EXCEPTION;
			w->err.message = psprintf("provider \"%s\", model \"%s\": circuit breaker open",
									  t->provider->name, t->model);
			continue;
		}
		if (!aig_provider_rate_take(t->provider, w->item->ctx.est_input_tokens, &why))
		{
			r->done = true;
			w->err.message = why;
			continue;
		}
		memset(&w->err, 0, sizeof(w->err));
		w->err.retry_after_ms = -1;
		w->attempts++;
		r->tries++;
		w->item->info.attempts = w->attempts;
		w->item->info.target = t;
		if (!aig_chat_build(t, w->item->req, &w->hreq, &w->err))
		{
			r->done = true;
			continue;
		}
		lim = aig_r_attempt_limits(t->provider, w->item->co, remaining);
		aig_http_batch_add(batch, tag, &w->hreq, &lim);
		INSTR_TIME_SET_CURRENT(w->attempt_start);
		pl->inflight++;
		w->cur = i;
		w->state = ITEM_INFLIGHT;
		return true;
	}
}

/* A transfer ended: parse or classify it, feed the breaker, finish or retry the call. */
static void
complete_attempt(AigRoute *route, Work *w, AigHttpResponse *resp,
				 ProviderLoad *loads, int *nloads)
{
	TargetRun  *r = &w->run[w->cur];
	AigTarget  *t = r->cand->target;
	AigChatCall *it = w->item;
	instr_time	d;
	bool		ok;

	load_of(loads, nloads, t->provider)->inflight--;
	w->state = ITEM_IDLE;
	ok = aig_chat_finish(t, resp, &it->result, &w->err);
	INSTR_TIME_SET_CURRENT(d);
	INSTR_TIME_SUBTRACT(d, w->attempt_start);
	it->info.http_status = ok ? 200 : w->err.http_status;
	aig_breaker_record(t->state, &route->breaker, GetCurrentTimestamp(), ok,
					   !ok && w->err.health_failure, INSTR_TIME_GET_MILLISEC(d),
					   ok ? -1 : w->err.retry_after_ms, ok ? NULL : w->err.message);
	if (ok)
	{
		aig_r_finish_info(&it->info, route, t, w->attempts, it->start,
						  it->result.input_tokens, it->result.output_tokens);
		it->info.input_tokens = it->result.input_tokens;
		it->info.output_tokens = it->result.output_tokens;
		finish(w, true, NULL);
		return;
	}
	w->err.message = psprintf("provider \"%s\", model \"%s\": %s", t->provider->name,
							  t->model, w->err.message);
	fail_attempt(w, r);
}

/* Run the attempts of calls[0..n), up to `concurrency` requests in flight. */
void
aig_route_attempts_many(AigRoute *route, AigChatCall **calls, int n, int concurrency)
{
	Work	   *work = palloc0(sizeof(Work) * Max(n, 1));
	ProviderLoad *loads = palloc0(sizeof(ProviderLoad) * Max(route->ntargets, 1));
	int			nloads = 0;
	AigHttpBatch *volatile batch = NULL;
	int			next_new = 0;

	for (int i = 0; i < n; i++)
	{
		work[i].item = calls[i];
		work[i].state = ITEM_IDLE;
	}

	PG_TRY();
	{
		batch = aig_http_batch_begin(concurrency);
		for (;;)
		{
			TimestampTz now = GetCurrentTimestamp();
			TimestampTz next_due = 0;
			AigHttpResponse resp;
			int			tag;
			bool		waiting = false;

			/* retries that are due first, then new items */
			for (int i = 0; i < next_new && aig_http_batch_room(batch); i++)
				if (work[i].state == ITEM_IDLE)
					start_attempt(route, &work[i], batch, i, loads, &nloads, now);
			while (next_new < n && aig_http_batch_room(batch))
			{
				Work	   *w = &work[next_new++];

				if (w->state == ITEM_DONE)
					continue;
				prepare(route, w);
				start_attempt(route, w, batch, (int) (w - work), loads, &nloads, now);
			}
			for (int i = 0; i < next_new; i++)
				if (work[i].state == ITEM_IDLE)
				{
					waiting = true;
					for (int j = 0; j < work[i].item->ncand; j++)
						if (!work[i].run[j].done &&
							(next_due == 0 || work[i].run[j].ready_at < next_due))
							next_due = work[i].run[j].ready_at;
				}
			if (aig_http_batch_inflight(batch) == 0)
			{
				if (next_new >= n && !waiting)
					break;
				if (waiting)
				{
					long		ms = next_due > now ?
						TimestampDifferenceMilliseconds(now, next_due) : 1;

					(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									 Max(ms, 1), PG_WAIT_EXTENSION);
					ResetLatch(MyLatch);
					CHECK_FOR_INTERRUPTS();
				}
				continue;
			}
			tag = aig_http_batch_wait(batch, waiting ? 20 : 1000, &resp);
			if (tag >= 0)
				complete_attempt(route, &work[tag], &resp, loads, &nloads);
		}
		aig_http_batch_end(batch);
	}
	PG_CATCH();
	{
		/* a cancel: transfers dropped; the pipeline accounts the calls */
		aig_http_batch_end(batch);
		PG_RE_THROW();
	}
	PG_END_TRY();
}
