/*
 * hooks.c — custom logic around a provider call, as SQL functions.
 *
 * A route's options.request_hook and options.response_hook name functions
 * (jsonb) RETURNS jsonb, in any language the database has.  The request hook
 * gets {"route", "messages", "options"} before routing and returns the same
 * shape (messages and options may be rewritten); the response hook gets the
 * normalized ai_chat object and returns it, possibly changed.  Hooks run as
 * the caller (the EXECUTE privilege is checked; a SECURITY DEFINER hook runs
 * as its owner, as PostgreSQL always does), and an error inside a hook
 * fails the call with the hook's own message, with a context line naming
 * the hook and the route.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "base/compat.h"
#include "governance/hooks.h"

typedef struct HookContext
{
	const char *which;
	const char *route;
	Oid			fn;
} HookContext;

static void
hook_error_context(void *arg)
{
	HookContext *hc = (HookContext *) arg;

	errcontext("%s %s of route \"%s\"", hc->which,
			   format_procedure(hc->fn), hc->route);
}

Jsonb *
aig_call_hook(Oid fn, const char *which, const char *route, Jsonb *doc)
{
	HookContext hc;
	ErrorContextCallback cb;
	Datum		result;
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo	flinfo;

	if (aig_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s %s of route \"%s\"", which,
						format_procedure(fn), route),
				 errhint("GRANT EXECUTE on the hook function to the roles that call the route.")));

	hc.which = which;
	hc.route = route;
	hc.fn = fn;
	cb.callback = hook_error_context;
	cb.arg = &hc;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(doc);
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);

	error_context_stack = cb.previous;
	if (fcinfo->isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s %s of route \"%s\" returned NULL", which,
						format_procedure(fn), route),
				 errhint("A hook returns the (possibly changed) jsonb document it was given.")));
	return DatumGetJsonbP(result);
}
