/*
 * standby.c — calls on a hot standby.
 *
 * A standby cannot write: not ai_gateway.audit_log (the worker that writes
 * it does not run during recovery: its start time is "recovery finished"),
 * not ai_gateway.jobs, not the UNLOGGED response cache (which it cannot
 * even read).  So that nothing is lost silently, ai_gateway.standby_calls
 * decides what a call on a standby does:
 *
 *   refuse     (default) every call fails at once with 25006
 *              (read_only_sql_transaction) and a hint naming the setting.
 *   unaudited  calls run; each audit record goes to the server log as one
 *              LOG line holding the record's JSON (aig_standby_log_record),
 *              counted in audit_stats().logged_on_standby; the response cache
 *              is skipped (no lookup, no store); shadow copies are dropped
 *              and counted (shadow_dropped).
 *
 * Quotas and rate limits are enforced on a standby in its own shared
 * memory: the first call under a quota loads the usage the primary last
 * saved in ai_gateway.quota_usage (replicated), and the standby counts its
 * own calls on top; it cannot save them, and the primary does not see them
 * (nor the standby the primary's later ones).  After promotion the workers
 * start and save the usage counted here.  Async jobs are refused in either
 * mode (their table cannot be written).
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/xlog.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "governance/identity.h"
#include "governance/standby.h"

int			aig_standby_calls = AIG_STANDBY_REFUSE;

static const struct config_enum_entry standby_calls_options[] = {
	{"refuse", AIG_STANDBY_REFUSE, false},
	{"unaudited", AIG_STANDBY_UNAUDITED, false},
	{NULL, 0, false}
};

/* Define ai_gateway.standby_calls (called from _PG_init). */
void
aig_standby_define_gucs(void)
{
	DefineCustomEnumVariable("ai_gateway.standby_calls",
							 "What a call on a hot standby does: refuse (25006) or run unaudited.",
							 "unaudited: calls run, each audit record is written to the server log "
							 "instead of ai_gateway.audit_log, the response cache is skipped.",
							 &aig_standby_calls,
							 AIG_STANDBY_REFUSE,
							 standby_calls_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

bool
aig_on_standby(void)
{
	return RecoveryInProgress();
}

void
aig_standby_check_call(void)
{
	if (aig_standby_calls == AIG_STANDBY_UNAUDITED || !aig_on_standby())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("ai_gateway calls are refused on a hot standby"),
			 errdetail("A standby cannot write the audit log, the response cache or the job table."),
			 errhint("Call the primary, or have a superuser set ai_gateway.standby_calls = 'unaudited' "
					 "on the standby to allow calls whose audit records go to the server log.")));
}

void
aig_standby_check_async(void)
{
	if (!aig_on_standby())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("ai_complete_async cannot queue a job on a hot standby"),
			 errdetail("The job table cannot be written during recovery."),
			 errhint("Queue the job on the primary, or call ai_complete() on the standby "
					 "(with ai_gateway.standby_calls = 'unaudited').")));
}

/* ---- the audit record as a LOG line --------------------------------------- */

/* Caps as in the queue's records (governance/audit_internal.h). */
#define CAP_NAME 256
#define CAP_STATUS 16
#define CAP_ERROR 2048
#define CAP_METADATA 8192
#define CAP_TEXT 65536
/* every byte of the strings escaped (at most 6 bytes each), plus the numbers */
#define LOG_BUF_BYTES (6 * (3 * CAP_NAME + CAP_STATUS + CAP_ERROR + CAP_METADATA + \
							2 * CAP_TEXT + 4 * NAMEDATALEN) + 4096)

static char *log_buf = NULL;	/* malloc'd once: no palloc in error paths */

typedef struct JsonOut
{
	char	   *p;
	char	   *end;
} JsonOut;

/* Raw text, cut when the buffer ends (it never does: LOG_BUF_BYTES). */
static void
out_raw(JsonOut *o, const char *s)
{
	size_t		n = strlen(s);

	if (n > (size_t) (o->end - o->p))
		n = o->end - o->p;
	memcpy(o->p, s, n);
	o->p += n;
}

/* ", "key": " then s as a JSON string cut to cap bytes on a character boundary, or null. */
static void
out_string(JsonOut *o, const char *key, const char *s, int cap)
{
	int			len;

	out_raw(o, ", \"");
	out_raw(o, key);
	out_raw(o, "\": ");
	if (s == NULL)
	{
		out_raw(o, "null");
		return;
	}
	len = (int) strnlen(s, (size_t) cap + 1);
	if (len > cap)
		len = pg_encoding_mbcliplen(GetDatabaseEncoding(), s, len, cap);
	out_raw(o, "\"");
	for (int i = 0; i < len && o->end - o->p > 8; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			*o->p++ = '\\';
			*o->p++ = (char) c;
		}
		else if (c < 0x20)
			o->p += snprintf(o->p, 7, "\\u%04x", c);
		else
			*o->p++ = (char) c;
	}
	out_raw(o, "\"");
}

/* A role's name (normal transaction state only), else NULL. */
static const char *
role_name(Oid roleid, bool may_lookup)
{
	if (!may_lookup || !OidIsValid(roleid))
		return NULL;
	return GetUserNameFromId(roleid, true);
}

void
aig_standby_log_record(const AigAuditRecord *rec, bool may_wait)
{
	Oid			roleid = OidIsValid(rec->roleid) ? rec->roleid : GetUserId();
	Oid			session_roleid = OidIsValid(rec->session_roleid) ? rec->session_roleid :
		aig_session_role();
	JsonOut		o;
	char		num[256];

	if (log_buf == NULL)
		log_buf = malloc(LOG_BUF_BYTES);
	if (log_buf == NULL)
	{
		/* no room for the record: still a line, with what fits here */
		ereport(LOG_SERVER_ONLY,
				(errmsg("ai_gateway audit record on a standby (out of memory: not formatted): "
						"route %s, status %s", rec->route ? rec->route : "(none)",
						rec->status ? rec->status : "(none)"),
				 errhidestmt(true), errhidecontext(true)));
		return;
	}
	o.p = log_buf;
	o.end = log_buf + LOG_BUF_BYTES - 2;
	snprintf(num, sizeof(num), "{\"ts\": \"%s\", \"database_oid\": %u, \"role_oid\": %u",
			 timestamptz_to_str(GetCurrentTimestamp()), MyDatabaseId, roleid);
	out_raw(&o, num);
	out_string(&o, "role", role_name(roleid, may_wait), NAMEDATALEN);
	snprintf(num, sizeof(num), ", \"session_role_oid\": %u", session_roleid);
	out_raw(&o, num);
	out_string(&o, "session_role", role_name(session_roleid, may_wait), NAMEDATALEN);
	out_string(&o, "route", rec->route, CAP_NAME);
	out_string(&o, "provider", rec->provider, CAP_NAME);
	out_string(&o, "model", rec->model, CAP_NAME);
	out_string(&o, "status", rec->status, CAP_STATUS);
	out_string(&o, "sqlstate", rec->sqlerrcode ? unpack_sql_state(rec->sqlerrcode) : NULL, 8);
	snprintf(num, sizeof(num),
			 ", \"http_status\": %d, \"attempts\": %d, \"latency_ms\": %.3f, "
			 "\"input_tokens\": " INT64_FORMAT ", \"output_tokens\": " INT64_FORMAT,
			 rec->http_status, rec->attempts, rec->latency_ms, rec->input_tokens,
			 rec->output_tokens);
	out_raw(&o, num);
	if (rec->has_cost)
		snprintf(num, sizeof(num), ", \"cost_usd\": %.10g", rec->cost_usd);
	else
		snprintf(num, sizeof(num), ", \"cost_usd\": null");
	out_raw(&o, num);
	snprintf(num, sizeof(num), ", \"cache_hit\": %s, \"shadow\": %s",
			 rec->cache_hit ? "true" : "false", rec->shadow ? "true" : "false");
	out_raw(&o, num);
	out_string(&o, "error", rec->error, CAP_ERROR);
	out_string(&o, "metadata", rec->metadata, CAP_METADATA);
	out_string(&o, "prompt", rec->prompt, CAP_TEXT);
	out_string(&o, "output", rec->output, CAP_TEXT);
	*o.p++ = '}';
	*o.p = '\0';
	ereport(LOG_SERVER_ONLY,
			(errmsg("ai_gateway audit record on a standby (not in ai_gateway.audit_log): %s",
					log_buf),
			 errhidestmt(true), errhidecontext(true)));
}
