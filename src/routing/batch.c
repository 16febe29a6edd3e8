/*
 * batch.c — the attempts stage of many calls at once (ai_complete_batch,
 * the async jobs in flight); pipeline.c runs every other stage around it.
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
 * The scheduler (AigAttempts) takes calls at any time and hands each back
 * as soon as its attempts are over, while the others stay in flight: the
 * job worker keeps it fed with newly claimed jobs and stores each result
 * when it comes, with no barrier between them.  ai_complete_batch adds all
 * its calls and waits for the last.  Each call's attempts use the memory
 * context it was added with.
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

#include "base/compat.h"
#include "base/errcodes.h"
#include "governance/audit.h"
#include "governance/progress.h"
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
	AigRoute   *route;
	MemoryContext cxt;			/* the call's memory */
	bool		started;		/* prepared: its first attempt was tried */
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

typedef struct AigAttempts AigAttempts;

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

/*
 * After a failed attempt: the target is done, or due again after its
 * backoff — unless that is past the call's deadline (a provider's long
 * Retry-After, say): then it is done now, and the call ends with its
 * error instead of holding its place (an async job is queued again with
 * that Retry-After).
 */
static void
fail_attempt(Work *w, TargetRun *r)
{
	TimestampTz due;

	if (w->err.final)
	{
		/* a refusal ends the call: no retry, no other target */
		for (int i = 0; i < w->item->ncand; i++)
			w->run[i].done = true;
		return;
	}
	if (!w->err.retryable || r->tries > r->max_retries)
	{
		r->done = true;
		return;
	}
	due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
									  aig_r_backoff_ms(r->tries, w->err.retry_after_ms));
	if (w->deadline != 0 && due >= w->deadline)
		r->done = true;
	else
		r->ready_at = due;
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
static ProviderLoad *sched_load(AigAttempts *s, const AigProvider *p);

static bool
start_attempt(AigRoute *route, Work *w, AigHttpBatch *batch, int tag,
			  AigAttempts *s, TimestampTz now)
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
		pl = sched_load(s, t->provider);
		if (t->provider->max_concurrency > 0 && pl->inflight >= t->provider->max_concurrency)
			return false;		/* wait for a slot of this provider */
		/*
		 * A target skipped (breaker open, provider rate limit) does not
		 * replace an earlier attempt's failure: the call ends with the
		 * underlying error, as run_route's does.
		 */
		if (!aig_breaker_allow(t->state, now, &probe))
		{
			r->done = true;
			if (w->err.message == NULL || w->err.sqlerrcode == 0)
			{
				w->err.sqlerrcode = AIG_ERRCODE_PROVIDER_UNAVAILABLE;
				w->err.message = psprintf("provider \"%s\", model \"%s\": %s",
										  t->provider->name, t->model,
										  aig_breaker_open_message(t->state));
			}
			continue;
		}
		if (!aig_provider_rate_take(t->provider, w->item->ctx.est_input_tokens, &why))
		{
			r->done = true;
			if (w->err.message == NULL)
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
		aig_progress_provider(t->provider->name);
		INSTR_TIME_SET_CURRENT(w->attempt_start);
		pl->inflight++;
		w->cur = i;
		w->state = ITEM_INFLIGHT;
		return true;
	}
}

/* A transfer ended: parse or classify it, feed the breaker, finish or retry the call. */
static void
complete_attempt(AigRoute *route, Work *w, AigHttpResponse *resp, AigAttempts *s)
{
	TargetRun  *r = &w->run[w->cur];
	AigTarget  *t = r->cand->target;
	AigChatCall *it = w->item;
	instr_time	d;
	bool		ok;

	sched_load(s, t->provider)->inflight--;
	w->state = ITEM_IDLE;
	ok = aig_chat_finish(t, it->req, resp, &it->result, &w->err);
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

/* ---- the scheduler: calls added at any time, finished ones handed back -- */

struct AigAttempts
{
	MemoryContext cxt;			/* the scheduler's Work items */
	AigHttpBatch *batch;
	Work	  **items;			/* tag = index; NULL = a free place */
	int			nitems;
	int			capitems;
	int			active;			/* items added and not yet handed back */
	ProviderLoad *loads;
	int			nloads;
	int			caploads;
	AigChatCall **done;			/* finished, to hand back */
	int			ndone;
	bool		woken;			/* the latch ended a wait */
};

/* The in-flight count of provider p (added on first use). */
static ProviderLoad *
sched_load(AigAttempts *s, const AigProvider *p)
{
	if (s->nloads == s->caploads)
	{
		s->caploads *= 2;
		s->loads = repalloc(s->loads, sizeof(ProviderLoad) * s->caploads);
	}
	return load_of(s->loads, &s->nloads, p);
}

/* Begin a scheduler of up to `concurrency` transfers (its memory: the current context). */
AigAttempts *
aig_attempts_begin(int concurrency)
{
	AigAttempts *s = palloc0(sizeof(AigAttempts));

	s->cxt = CurrentMemoryContext;
	s->capitems = 64;
	s->items = palloc0(sizeof(Work *) * s->capitems);
	s->done = palloc(sizeof(AigChatCall *) * s->capitems);
	s->caploads = 8;
	s->loads = palloc0(sizeof(ProviderLoad) * s->caploads);
	s->batch = aig_http_batch_begin(concurrency);
	return s;
}

/* Did the latch end a wait since the last look?  (Cleared by looking.) */
bool
aig_attempts_woken(AigAttempts *s)
{
	bool		w = s->woken;

	s->woken = false;
	return w;
}

/* Calls added and not yet handed back by aig_attempts_next_done. */
int
aig_attempts_active(const AigAttempts *s)
{
	return s->active;
}

/*
 * Add a call (stages 1–7 done) on route; its attempts' memory is `cxt`,
 * which must live until the call is handed back.
 */
void
aig_attempts_add(AigAttempts *s, AigRoute *route, AigChatCall *call, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	Work	   *w = palloc0(sizeof(Work));
	int			tag = -1;

	w->item = call;
	w->route = route;
	w->cxt = cxt;
	w->state = ITEM_IDLE;
	for (int i = 0; i < s->nitems; i++)
		if (s->items[i] == NULL)
		{
			tag = i;
			break;
		}
	if (tag < 0)
	{
		if (s->nitems == s->capitems)
		{
			s->capitems *= 2;
			s->items = repalloc(s->items, sizeof(Work *) * s->capitems);
			s->done = repalloc(s->done, sizeof(AigChatCall *) * s->capitems);
		}
		tag = s->nitems++;
	}
	s->items[tag] = w;
	s->active++;
	MemoryContextSwitchTo(old);
}

/* Item `tag` is finished: hand its call back and free its place. */
static void
sched_done(AigAttempts *s, int tag)
{
	Work	   *w = s->items[tag];

	s->done[s->ndone++] = w->item;
	s->items[tag] = NULL;
	pfree(w);
}

/* Start what may start: due retries and new calls, while there are transfer slots. */
static void
sched_start(AigAttempts *s, TimestampTz now)
{
	/* retries that are due first, then new items */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < s->nitems && aig_http_batch_room(s->batch); i++)
		{
			Work	   *w = s->items[i];
			MemoryContext old;

			if (w == NULL || w->state != ITEM_IDLE || w->started != (pass == 0))
				continue;
			old = MemoryContextSwitchTo(w->cxt);
			if (!w->started)
			{
				prepare(w->route, w);
				w->started = true;
			}
			start_attempt(w->route, w, s->batch, i, s, now);
			MemoryContextSwitchTo(old);
			if (w->state == ITEM_DONE)
				sched_done(s, i);
		}
}

/* The earliest time an idle item's retry is due (0: none waits), into *next_due. */
static bool
sched_waiting(AigAttempts *s, TimestampTz *next_due)
{
	bool		waiting = false;

	*next_due = 0;
	for (int i = 0; i < s->nitems; i++)
	{
		Work	   *w = s->items[i];

		if (w == NULL || w->state != ITEM_IDLE)
			continue;
		waiting = true;
		if (!w->started)
			continue;
		for (int j = 0; j < w->item->ncand; j++)
			if (!w->run[j].done && (*next_due == 0 || w->run[j].ready_at < *next_due))
				*next_due = w->run[j].ready_at;
	}
	return waiting;
}

/* A copy of resp's memory in cxt (the transfer was read in the scheduler's context). */
static void
move_response(AigHttpResponse *resp, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (resp->body)
	{
		char	   *b = palloc(resp->body_len + 1);

		memcpy(b, resp->body, resp->body_len + 1);
		pfree(resp->body);
		resp->body = b;
	}
	if (resp->content_type)
		resp->content_type = pstrdup(resp->content_type);
	if (resp->error)
		resp->error = pstrdup(resp->error);
	MemoryContextSwitchTo(old);
}

/*
 * Run the calls' attempts until one is finished or wait_ms have passed:
 * returns a finished call (ok, or error/retryable/retry_after_ms), or NULL
 * when none finished in time (or none is left).  Cancels are raised; the
 * caller ends the scheduler (aig_attempts_end) and accounts its calls.
 */
AigChatCall *
aig_attempts_next_done(AigAttempts *s, long wait_ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(wait_ms, 0));

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz next_due;
		AigHttpResponse resp;
		bool		waiting;
		bool		woke;
		long		left;
		int			tag;

		if (s->ndone == 0 && s->active > 0)
			sched_start(s, now);
		aig_progress_inflight(aig_http_batch_inflight(s->batch));
		if (s->ndone > 0)
		{
			AigChatCall *call = s->done[--s->ndone];

			s->active--;
			aig_progress_item_done(!call->answered);
			return call;
		}
		if (s->active == 0)
			return NULL;
		left = now < until ? TimestampDifferenceMilliseconds(now, until) : 0;
		waiting = sched_waiting(s, &next_due);
		if (aig_http_batch_inflight(s->batch) == 0)
		{
			long		ms;

			if (left <= 0)
				return NULL;
			/* only retries (or provider slots) to wait for */
			ms = waiting && next_due > now ? TimestampDifferenceMilliseconds(now, next_due) : 1;
			if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						  Max(1, Min(ms, left)), aig_provider_wait_event()) & WL_LATCH_SET)
			{
				/* the caller's signal (a job queued, say): let it look */
				ResetLatch(MyLatch);
				s->woken = true;
				CHECK_FOR_INTERRUPTS();
				return NULL;
			}
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		tag = aig_http_batch_wait(s->batch, Min(waiting ? 20 : 1000, Max(left, 0)), &resp);
		/* the latch woke the transfers' wait: the caller's signal, let it look */
		woke = aig_http_take_wakeup();
		if (woke)
			s->woken = true;
		if (tag >= 0)
		{
			Work	   *w = s->items[tag];
			MemoryContext old;

			if (CurrentMemoryContext != w->cxt)
				move_response(&resp, w->cxt);
			old = MemoryContextSwitchTo(w->cxt);
			complete_attempt(w->route, w, &resp, s);
			MemoryContextSwitchTo(old);
			if (w->state == ITEM_DONE)
				sched_done(s, tag);
			continue;
		}
		if (left <= 0 || woke)
			return NULL;
	}
}

/* End the scheduler: transfers in flight are dropped (every path, errors included). */
void
aig_attempts_end(AigAttempts *s)
{
	if (s == NULL)
		return;
	aig_http_batch_end(s->batch);
	s->batch = NULL;
}

/* Run the attempts of calls[0..n), up to `concurrency` requests in flight. */
void
aig_route_attempts_many(AigRoute *route, AigChatCall **calls, int n, int concurrency)
{
	AigAttempts *volatile s = NULL;

	PG_TRY();
	{
		aig_progress_begin("batch", n);
		s = aig_attempts_begin(concurrency);
		for (int i = 0; i < n; i++)
			aig_attempts_add(s, route, calls[i], CurrentMemoryContext);
		while (aig_attempts_active(s) > 0)
			(void) aig_attempts_next_done(s, 1000);
		aig_attempts_end(s);
		aig_progress_end();
	}
	PG_CATCH();
	{
		/* a cancel: transfers dropped; the pipeline accounts the calls */
		aig_attempts_end(s);
		aig_progress_end();
		PG_RE_THROW();
	}
	PG_END_TRY();
}
