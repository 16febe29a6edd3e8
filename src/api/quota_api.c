/*
 * quota_api.c — ai_gateway.usage(), the SQL function behind the usage
 * view: each quota's current period and what it has used, read from the
 * counters that governance/quota.c keeps (aig_quota_usage).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "core/catalog.h"
#include "core/preload.h"
#include "governance/quota.h"

/*
 * ai_gateway.usage(): current usage of every quota of this database that
 * the caller may see (its own roles'; all for administrators).
 */
PG_FUNCTION_INFO_V1(aig_usage);
Datum
aig_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			nq;
	const AigQuota *quotas;
	bool		admin;

	InitMaterializedSRF(fcinfo, 0);
	aig_require_preload();
	aig_catalog_ensure();
	admin = aig_is_admin();
	quotas = aig_catalog_quotas(&nq);
	for (int i = 0; i < nq; i++)
	{
		const AigQuota *q = &quotas[i];
		AigQuotaUsage u;
		Datum		values[11];
		bool		nulls[11] = {0};

		if (!admin && !aig_quota_applies_to_user(q->role_oid))
			continue;
		aig_quota_usage(q, &u);

		values[0] = CStringGetTextDatum(q->role);
		values[1] = CStringGetTextDatum(aig_period_name(q->period));
		values[2] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) u.window_start));
		values[3] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) u.window_end));
		values[4] = Int64GetDatum(u.requests);
		values[5] = Int64GetDatum(q->max_requests);
		nulls[5] = q->max_requests < 0;
		values[6] = Int64GetDatum(u.tokens + u.tokens_reserved);
		values[7] = Int64GetDatum(q->max_tokens);
		nulls[7] = q->max_tokens < 0;
		values[8] = DirectFunctionCall1(float8_numeric, Float8GetDatum(u.cost + u.cost_reserved));
		values[9] = DirectFunctionCall1(float8_numeric, Float8GetDatum(q->max_cost_usd));
		nulls[9] = q->max_cost_usd < 0;
		values[10] = Int64GetDatum(u.tokens_reserved);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
