/*
 * hooks.c — custom logic around a provider call, as SQL functions.
 *
 * A route's options.request_hook and options.response_hook name functions
 * (jsonb) RETURNS jsonb, in any language the database has.  The request hook
 * gets {"route", "messages", "options", "role"} (role: the caller) before
 * routing and returns the same shape (messages and options may be
 * rewritten); the response hook gets the
 * normalized ai_chat object and returns it, possibly changed.
 *
 * A hook runs with the rights of the role that configured it
 * (routes.hook_owner, set by the trigger ai_gateway.route_hook_owner, never
 * by hand), never with the caller's: the way PostgreSQL runs an index
 * expression during maintenance, as a security-restricted operation
 * (no SET ROLE, no temporary objects, ...) under the owner's user id, with
 * search_path pinned to "pg_catalog, public, pg_temp" and every setting the
 * hook changes undone when it returns or fails.  So a superuser's call
 * cannot lend its rights to an administrator's hook, and a caller's
 * search_path cannot put its own functions under the hook.  The owner
 * needs EXECUTE on the function, and the function must belong to the owner
 * (or a role it is a member of, or a superuser): a function dropped and
 * created again by somebody else does not run with the owner's rights.
 * An error inside a hook fails the call with the hook's own message, with
 * a context line naming the hook and the route.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/compat.h"
#include "governance/hooks.h"

/* What a hook sees: no caller's schema, pg_catalog first, pg_temp last. */
#define AIG_HOOK_SEARCH_PATH "pg_catalog, public, pg_temp"

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

/* The function's owner, InvalidOid when it is gone. */
static Oid
function_owner(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Raise unless owner may run fn as route's hook (see the file header). */
static void
check_hook_owner(Oid fn, Oid owner, const char *which, const char *route)
{
	const char *hint = psprintf("An administrator sets the hook again: UPDATE ai_gateway.routes SET hook_owner = NULL WHERE name = '%s' makes the updating role its owner.",
								route);
	Oid			fowner;

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s of route \"%s\" has no recorded owner", which, route),
				 errdetail("A hook runs with the rights of the role that configured it (routes.hook_owner)."),
				 errhint("Run ALTER EXTENSION ai_gateway UPDATE if its SQL objects are older than 0.3.0; else %s",
						 hint)));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that configured %s of route \"%s\" no longer exists",
						which, route),
				 errdetail("A hook runs with the rights of the role that configured it (routes.hook_owner)."),
				 errhint("%s", hint)));
	if (aig_proc_aclcheck(fn, owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\", which configured %s of route \"%s\", may not execute %s",
						GetUserNameFromId(owner, false), which, route,
						format_procedure(fn)),
				 errhint("GRANT EXECUTE on the hook function to role \"%s\".",
						 GetUserNameFromId(owner, false))));
	fowner = function_owner(fn);
	if (fowner != owner && !superuser_arg(fowner) &&
		!is_member_of_role_nosuper(owner, fowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s %s of route \"%s\" belongs to role \"%s\", not to role \"%s\" that configured the hook",
						which, format_procedure(fn), route,
						GetUserNameFromId(fowner, false),
						GetUserNameFromId(owner, false)),
				 errdetail("A hook runs with its owner's rights only a function of that owner (or of a superuser)."),
				 errhint("Check the function, then ALTER FUNCTION ... OWNER TO the hook's owner, or set the hook again as the function's owner.")));
}

Jsonb *
aig_call_hook(Oid fn, Oid owner, const char *which, const char *route, Jsonb *doc)
{
	HookContext hc;
	ErrorContextCallback cb;
	volatile Datum result = (Datum) 0;
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo	flinfo;
	Oid			save_user;
	int			save_sec;
	int			nestlevel;

	check_hook_owner(fn, owner, which, route);

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

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	PG_TRY();
	{
		(void) set_config_option("search_path", AIG_HOOK_SEARCH_PATH, PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		result = FunctionCallInvoke(fcinfo);
	}
	PG_CATCH();
	{
		/* the caller's code that handles the error runs as the caller again */
		AtEOXact_GUC(false, nestlevel);
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);

	error_context_stack = cb.previous;
	if (fcinfo->isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s %s of route \"%s\" returned NULL", which,
						format_procedure(fn), route),
				 errhint("A hook returns the (possibly changed) jsonb document it was given.")));
	return DatumGetJsonbP(result);
}
