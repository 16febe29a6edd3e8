/*
 * pipeline_api.c — ai_gateway.pipeline_admin(action, args), behind
 * create_pipeline, pause_pipeline, resume_pipeline, drop_pipeline and
 * retry_pipeline_failures.
 *
 * A pipeline's tables and its queueing triggers belong to the extension;
 * the caller may hold no privilege on them.  So each action runs as the
 * extension's owner (the owner of schema ai_gateway), with the calling
 * role passed along to ai_gateway.pipeline_admin_do, which checks what
 * that role may do (its table privileges, its pipelines) before acting.
 * The owner's identity is taken as a local user id change, so nothing run
 * inside can SET ROLE back to anyone.  Nothing of the caller's (the source
 * expression above all) is evaluated there: the triggers hash column
 * values with built-in functions only, and the expression runs in the
 * worker as the pipeline's owner (background/pipelines.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"

#include "core/catalog.h"
#include "core/job_signal.h"
#include "core/search_path.h"
#include "core/jsonb_util.h"
#include "routing/pipeline.h"
#include "routing/pipeline_batch.h"

PG_FUNCTION_INFO_V1(aig_pipeline_admin);

static bool wake_at_commit = false;

/* At commit of a transaction that created, resumed or retried a pipeline: wake the job worker. */
static void
pipeline_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		aig_jobs_wake();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

/* The job worker (which runs the pipelines) looks at once when this transaction commits. */
static void
wake_worker_at_commit(void)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(pipeline_xact_callback, NULL);
		registered = true;
	}
	wake_at_commit = true;
}

/* The owner of schema ai_gateway (the extension's owner). */
static Oid
schema_owner(void)
{
	Oid			nsp = get_namespace_oid("ai_gateway", false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema ai_gateway");
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/* pipeline_admin(action text, args jsonb) RETURNS jsonb: the action, as the extension's owner. */
Datum
aig_pipeline_admin(PG_FUNCTION_ARGS)
{
	Oid			caller = GetUserId();
	Oid			save_user;
	int			save_sec;
	Oid			types[3] = {TEXTOID, JSONBOID, OIDOID};
	Datum		args[3];
	Datum		result = (Datum) 0;
	bool		isnull = true;
	int			level;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("pipeline_admin: action and args are required")));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = ObjectIdGetDatum(caller);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(schema_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		level = aig_pin_search_path();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT ai_gateway.pipeline_admin_do($1, $2, $3::regrole)",
								  3, types, args, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "pipeline_admin_do returned nothing");
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = SPI_datumTransfer(result, false, -1);
		SPI_finish();
		aig_restore_search_path(level);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	wake_worker_at_commit();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * options.batch of a new pipeline (the Batch API mode): a boolean, for
 * kinds complete and extract, on a model with a Batch API target and no
 * reversible redaction — refused now rather than row by row later.
 */
static void
batch_mode_check(const char *model, const char *kind, Jsonb *opts)
{
	JsonbValue *b = opts && JB_ROOT_IS_OBJECT(opts) ? aig_jsonb_get(opts, "batch") : NULL;

	if (b == NULL || b->type == jbvNull || (b->type == jbvBool && !b->val.boolean))
		return;
	if (b->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("create_pipeline: option \"batch\" must be true or false")));
	if (kind != NULL && strcmp(kind, "complete") != 0 && strcmp(kind, "extract") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("create_pipeline: the Batch API mode is for kinds complete and extract"),
				 errhint("Embedding pipelines call the embeddings endpoint, in requests of many inputs each; leave out \"batch\".")));
	if (model != NULL)
	{
		aig_catalog_ensure();
		aig_pipeline_batch_precheck(aig_pipeline_precheck(model));
	}
}

PG_FUNCTION_INFO_V1(aig_create_pipeline);

/*
 * create_pipeline(name, source, source_expr, target_column, model, kind,
 * options) RETURNS bigint: pipeline_admin('create', ...) with the caller's
 * search_path (read here, before any pinned function runs), under which
 * the worker evaluates the source expression.  Returns the rows queued.
 */
Datum
aig_create_pipeline(PG_FUNCTION_ARGS)
{
	Oid			types[8] = {TEXTOID, OIDOID, TEXTOID, NAMEOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		v[8];
	char		nulls[8];
	const char *path = GetConfigOption("search_path", false, false);
	Datum		result = (Datum) 0;
	bool		isnull = true;
	int			level;

	for (int i = 0; i < 7; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		v[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	v[7] = CStringGetTextDatum(path ? path : "");
	nulls[7] = ' ';
	batch_mode_check(PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
					 PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)),
					 PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6));
	level = aig_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT (ai_gateway.pipeline_admin('create', jsonb_build_object("
							  "'name', $1, 'source', $2, 'source_expr', $3, 'target_column', $4, "
							  "'model', $5, 'kind', $6, 'options', $7, 'search_path', $8)) ->> 'queued')::bigint",
							  8, types, v, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pipeline_admin returned nothing");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	aig_restore_search_path(level);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
