/*
 * provider_batch_rows.c — the rows of pipelines in the Batch API mode: when
 * the job worker stores a finished batch job (provider_batches.c) that
 * api/pipelines' pipeline_compute queued for a pipeline row, the answer is
 * written back as the pipeline's owner (ai_gateway.pipeline_write_one:
 * only where the row's source still hashes as when it was queued), and the
 * pipeline's counters and failures are settled (pipeline_settle).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "background/provider_batches_internal.h"
#include "core/isolate.h"
#include "core/jsonb_util.h"

typedef struct WriteOne
{
	Datum		v[8];			/* pipeline_write_one's arguments */
	char	   *outcome;
} WriteOne;

static void
write_one_fn(void *arg)
{
	WriteOne   *w = (WriteOne *) arg;
	Oid			types[8] = {REGCLASSOID, NAMEOID, NAMEARRAYOID, NAMEARRAYOID, TEXTOID, JSONBOID,
	TEXTOID, TEXTOID};

	if (SPI_execute_with_args("SELECT ai_gateway.pipeline_write_one($1, $2, $3, $4, $5, $6, $7, $8)",
							  8, types, w->v, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not write a pipeline's row");
	w->outcome = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* pipeline_write_one as the job's role (its owner), isolated: an error is the row's failure. */
static void
write_as_role(AigBatchJob *j, void *arg)
{
	WriteOne   *w = (WriteOne *) arg;
	ErrorData  *ed;

	if (!aig_isolate(write_one_fn, w, &ed))
	{
		w->outcome = "failed";
		j->call.error = ed->message;
		j->call.info.sqlerrcode = ed->sqlerrcode;
	}
}

/*
 * A finished batch job of a pipeline (options.metadata names the pipeline,
 * the row's key and its source hash; api/pipelines' pipeline_compute queued
 * it): its answer written back as the pipeline's owner, and the pipeline's
 * counters and failures settled.  A job only counts for a pipeline its own
 * role owns, so metadata written by hand cannot reach another's table.
 * (SPI connected, as the worker.)
 */
void
aig_pb_pipeline_row_finished(AigBatchJob *j, bool final)
{
	JsonbValue *o = aig_jsonb_get(j->request, "options");
	Jsonb	   *opts = o && o->type == jbvBinary ? JsonbValueToJsonb(o) : NULL;
	JsonbValue *m = opts ? aig_jsonb_get(opts, "metadata") : NULL;
	Jsonb	   *meta = m && m->type == jbvBinary ? JsonbValueToJsonb(m) : NULL;
	JsonbValue *name = meta ? aig_jsonb_get(meta, "pipeline") : NULL;
	JsonbValue *key = meta ? aig_jsonb_get(meta, "pipeline_key") : NULL;
	JsonbValue *hash = meta ? aig_jsonb_get(meta, "pipeline_hash") : NULL;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		v[2];
	WriteOne	w;
	const char *error = NULL;
	char	   *state = NULL;
	int			pid;
	bool		isnull;

	if (!final || name == NULL || name->type != jbvString || key == NULL ||
		key->type != jbvBinary || hash == NULL || hash->type != jbvString || !OidIsValid(j->roleid))
		return;
	v[0] = PointerGetDatum(cstring_to_text_with_len(name->val.string.val, name->val.string.len));
	v[1] = ObjectIdGetDatum(j->roleid);
	if (SPI_execute_with_args("SELECT id, source, target_column, key_columns, source_columns, search_path "
							  "FROM ai_gateway.pipelines WHERE name = $1 AND owner = $2",
							  2, types, v, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read a pipeline");
	if (SPI_processed != 1)
		return;					/* dropped meanwhile, or not the job's own */
	pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	/* copied: the next statements replace SPI_tuptable */
	w.v[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	w.v[1] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull),
					   false, NAMEDATALEN);
	w.v[2] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull),
					   false, -1);
	w.v[3] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull),
					   false, -1);
	w.v[4] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull),
					   false, -1);
	w.v[5] = JsonbPGetDatum(JsonbValueToJsonb(key));
	w.v[6] = PointerGetDatum(cstring_to_text_with_len(hash->val.string.val, hash->val.string.len));
	if (j->call.ok)
	{
		/* the content after the response hook, as a pipeline's live call writes it */
		char	   *answer = j->call.response ? aig_jsonb_get_string(j->call.response, "content", "result") :
			j->call.answer;

		w.v[7] = answer ? CStringGetTextDatum(answer) : (Datum) 0;
		if (answer == NULL)
		{
			w.outcome = "failed";
			error = "the answer has no text";
		}
		else
		{
			aig_pb_as_role(j, write_as_role, &w);
			if (strcmp(w.outcome, "failed") == 0)
				error = j->call.error;
		}
	}
	else
	{
		w.outcome = "failed";
		error = j->call.error ? j->call.error : "failed";
	}
	if (strcmp(w.outcome, "failed") == 0)
		state = j->call.info.sqlerrcode ? unpack_sql_state(j->call.info.sqlerrcode) : "XX000";
	{
		Oid			stypes[9] = {INT4OID, INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
		Datum		sv[9];
		char		snulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
		Datum		seq = Int64GetDatum(0);
		Datum		att = Int32GetDatum(Max(j->attempts - 1, 0));
		Datum		out = CStringGetTextDatum(w.outcome);
		Datum		err = error ? CStringGetTextDatum(error) : (Datum) 0;
		Datum		st = state ? CStringGetTextDatum(state) : (Datum) 0;
		bool		err_null = error == NULL;
		bool		st_null = state == NULL;
		int			dims[1] = {1};
		int			lbs[1] = {1};

		sv[0] = Int32GetDatum(pid);
		sv[1] = PointerGetDatum(construct_array(&seq, 1, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		sv[2] = PointerGetDatum(construct_array(&w.v[5], 1, JSONBOID, -1, false, TYPALIGN_INT));
		sv[3] = PointerGetDatum(construct_array(&w.v[6], 1, TEXTOID, -1, false, TYPALIGN_INT));
		sv[4] = PointerGetDatum(construct_array(&att, 1, INT4OID, 4, true, TYPALIGN_INT));
		sv[5] = PointerGetDatum(construct_array(&out, 1, TEXTOID, -1, false, TYPALIGN_INT));
		sv[6] = PointerGetDatum(construct_md_array(&err, &err_null, 1, dims, lbs, TEXTOID, -1, false,
												   TYPALIGN_INT));
		sv[7] = PointerGetDatum(construct_md_array(&st, &st_null, 1, dims, lbs, TEXTOID, -1, false,
												   TYPALIGN_INT));
		sv[8] = TimestampTzGetDatum(GetCurrentTimestamp());
		if (SPI_execute_with_args("SELECT ai_gateway.pipeline_settle($1, $2, $3, $4, $5, $6, $7, $8, $9)",
								  9, stypes, sv, snulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not settle a pipeline's row");
	}
}
