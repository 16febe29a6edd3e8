/*
 * alerts.c — breaker and error-rate alerts (see alerts.h).
 *
 * Breakers are shared-memory state changed by whichever backend records an
 * attempt, often inside a transaction that then aborts with the call's
 * error, so a NOTIFY sent there would be lost.  Instead each target counts
 * its openings and recoveries (target_state.c), and the worker compares
 * those counts with what it saw last time: an opening followed by a
 * recovery between two scans still yields both alerts, in order.
 *
 * Payload (JSON): {"event": "breaker_open" | "breaker_closed" |
 * "error_rate_high" | "error_rate_ok", "provider", "model", "state",
 * "window_requests", "window_errors", "error_rate", "times_opened",
 * "last_error"}.  last_error is the provider's message as health() shows
 * it: scrubbed of keys.
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/guc.h"

#include "background/alerts.h"
#include "routing/target_state.h"

double		aig_alert_error_rate = 0.5;
int			aig_alert_min_requests = 20;

typedef struct Seen
{
	char		key[2 * AIG_STATE_KEYLEN];	/* provider \x1f model */
	int64		times_opened;
	int64		times_closed;
	bool		rate_high;
	bool		present;		/* found by the current scan */
} Seen;

static HTAB *seen = NULL;
static bool baseline_taken = false;

static void
notify(const char *event, const AigTargetSnapshot *s, double rate)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"event\":");
	escape_json(&b, event);
	appendStringInfoString(&b, ",\"provider\":");
	escape_json(&b, s->provider);
	appendStringInfoString(&b, ",\"model\":");
	escape_json(&b, s->model);
	appendStringInfoString(&b, ",\"state\":");
	escape_json(&b, aig_breaker_state_name(s->state));
	appendStringInfo(&b, ",\"window_requests\":" INT64_FORMAT ",\"window_errors\":" INT64_FORMAT
					 ",\"error_rate\":%.4f,\"times_opened\":" INT64_FORMAT ",\"last_error\":",
					 s->window_requests, s->window_errors, rate, s->times_opened);
	/* any role may LISTEN: no provider text, which may echo a caller's prompt */
	if (s->last_error[0])
		escape_json(&b, aig_target_error_summary(s->last_error));
	else
		appendStringInfoString(&b, "null");
	appendStringInfoChar(&b, '}');
	Async_Notify(AIG_ALERT_CHANNEL, b.data);
	ereport(LOG,
			(errmsg("ai_gateway alert %s provider=%s model=%s", event, s->provider, s->model),
			 errhidestmt(true)));
	pfree(b.data);
}

int
aig_alerts_scan(void)
{
	AigTargetSnapshot *snaps;
	int			n = aig_target_snapshot_all(&snaps);
	int			sent = 0;
	HASH_SEQ_STATUS st;
	Seen	   *e;

	if (seen == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(((Seen *) 0)->key);
		ctl.entrysize = sizeof(Seen);
		ctl.hcxt = TopMemoryContext;
		seen = hash_create("ai_gateway alerts", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	hash_seq_init(&st, seen);
	while ((e = hash_seq_search(&st)) != NULL)
		e->present = false;

	for (int i = 0; i < n; i++)
	{
		const AigTargetSnapshot *s = &snaps[i];
		char		key[sizeof(((Seen *) 0)->key)];
		bool		found;
		double		rate = s->window_requests > 0 ?
			(double) s->window_errors / s->window_requests : 0;
		bool		high;

		snprintf(key, sizeof(key), "%s\x1f%s", s->provider, s->model);
		e = hash_search(seen, key, HASH_ENTER, &found);
		if (!found)
		{
			/* an entry created since the last scan started from zero */
			e->times_opened = baseline_taken ? 0 : s->times_opened;
			e->times_closed = baseline_taken ? 0 : s->times_closed;
			e->rate_high = false;
		}
		e->present = true;

		/* openings and recoveries alternate: replay them in order */
		while (e->times_opened < s->times_opened || e->times_closed < s->times_closed)
		{
			if (e->times_opened <= e->times_closed && e->times_opened < s->times_opened)
			{
				e->times_opened++;
				if (baseline_taken)
				{
					notify("breaker_open", s, rate);
					sent++;
				}
			}
			else if (e->times_closed < s->times_closed)
			{
				e->times_closed++;
				if (baseline_taken)
				{
					notify("breaker_closed", s, rate);
					sent++;
				}
			}
			else
				e->times_opened = s->times_opened;
		}

		if (aig_alert_error_rate <= 0)
			high = false;
		else if (!e->rate_high)
			high = s->window_requests >= aig_alert_min_requests && rate >= aig_alert_error_rate;
		else
			/* hysteresis: stays raised until the rate falls to half the threshold */
			high = s->window_requests >= aig_alert_min_requests && rate >= aig_alert_error_rate / 2;
		if (high != e->rate_high)
		{
			e->rate_high = high;
			if (baseline_taken || high)
			{
				notify(high ? "error_rate_high" : "error_rate_ok", s, rate);
				sent++;
			}
		}
	}

	/* targets gone (their database's entries were reset): forget them */
	hash_seq_init(&st, seen);
	while ((e = hash_seq_search(&st)) != NULL)
		if (!e->present)
			hash_search(seen, e->key, HASH_REMOVE, NULL);
	if (snaps)
		pfree(snaps);
	baseline_taken = true;
	return sent;
}

/* Define the alerts' ai_gateway.* GUCs (called from _PG_init). */
void
aig_alerts_define_gucs(void)
{
	DefineCustomRealVariable("ai_gateway.alert_error_rate",
							 "Error share of a provider/model over its window that sends an error_rate alert; 0 turns these alerts off.",
							 "Alerts are NOTIFY messages on channel ai_gateway_alerts in ai_gateway.database.",
							 &aig_alert_error_rate,
							 0.5, 0, 1,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.alert_min_requests",
							"Requests a target needs in its window before its error rate can raise an alert.",
							NULL,
							&aig_alert_min_requests,
							20, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}
