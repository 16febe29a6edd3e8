/*
 * progress_api.c — ai_gateway.progress_now(), behind the ai_gateway.progress
 * view: one row per backend now calling providers (governance/progress.c).
 *
 * Visibility follows pg_stat_activity: a role sees the rows of backends
 * running as a role it has the privileges of; members of
 * pg_read_all_stats see every row.  No prompt or key is ever shown, only
 * counts, the kind of work and a provider's name.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "core/preload.h"
#include "governance/progress.h"

PG_FUNCTION_INFO_V1(aig_progress_now);

/* The rows of ai_gateway.progress the caller may see. */
Datum
aig_progress_now(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AigProgressSnapshot *snaps;
	bool		all;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	n = aig_progress_snapshot(&snaps);
	for (int i = 0; i < n; i++)
	{
		const AigProgressSnapshot *s = &snaps[i];
		Datum		values[10];
		bool		nulls[10] = {0};

		if (!all && !has_privs_of_role(GetUserId(), s->userid))
			continue;
		values[0] = Int32GetDatum(s->pid);
		values[1] = ObjectIdGetDatum(s->dbid);
		nulls[1] = !OidIsValid(s->dbid);
		values[2] = CStringGetTextDatum(s->kind);
		values[3] = TimestampTzGetDatum(s->started);
		values[4] = Int64GetDatum(s->total);
		values[5] = Int64GetDatum(s->done);
		values[6] = Int64GetDatum(s->failed);
		values[7] = Int32GetDatum(s->inflight);
		values[8] = CStringGetTextDatum(s->provider);
		nulls[8] = s->provider[0] == '\0';
		values[9] = Float8GetDatum(s->total > 0 ? 100.0 * s->done / s->total : 0);
		nulls[9] = s->total <= 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
