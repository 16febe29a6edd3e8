/*
 * tools_api.c — ai_chat_tools and ai_complete_tools: the SQL-function tool
 * loop (ai_gateway.run_tools, PL/pgSQL) entered with the caller's
 * search_path in hand.
 *
 * Every SQL and PL/pgSQL function of the extension pins search_path to
 * pg_catalog, pg_temp, so nothing the caller's path holds can stand in for a
 * built-in.  The tool functions, though, are the caller's own and are
 * written against the caller's path, so that path is read here, before any
 * pinned function runs, and run_tools puts it back around each tool call
 * only (ai_gateway.call_tool's search_path argument).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(aig_chat_tools);
PG_FUNCTION_INFO_V1(aig_complete_tools);

/*
 * Run ai_gateway.run_tools(messages, tools, model, options, search_path)
 * through SPI; the result object (NULL for NULL messages).
 */
static Datum
run_tools(Datum messages, bool messages_null, FunctionCallInfo fcinfo, bool *isnull)
{
	Oid			types[5] = {JSONBOID, REGPROCEDUREARRAYOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	const char *path = GetConfigOption("search_path", false, false);
	Datum		result = (Datum) 0;
	int			rc;

	values[0] = messages;
	nulls[0] = messages_null ? 'n' : ' ';
	for (int i = 1; i < 4; i++)
	{
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
		else
			values[i] = PG_GETARG_DATUM(i);
	}
	values[4] = CStringGetTextDatum(path ? path : "");
	*isnull = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT ai_gateway.run_tools($1, $2, $3, $4, $5)",
							   5, types, values, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ai_gateway.run_tools failed: %s", SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	if (!*isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	return result;
}

/* ai_chat_tools(messages jsonb, tools regprocedure[], model text, options jsonb) RETURNS jsonb */
Datum
aig_chat_tools(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		r;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	r = run_tools(PG_GETARG_DATUM(0), false, fcinfo, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(r);
}

/* ai_complete_tools(prompt text, tools regprocedure[], model text, options jsonb) RETURNS text */
Datum
aig_complete_tools(PG_FUNCTION_ARGS)
{
	text	   *prompt;
	JsonbValue *content;
	JsonbValue	key;
	Jsonb	   *messages;
	Jsonb	   *res;
	bool		isnull;
	Datum		r;
	StringInfoData buf;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	prompt = PG_GETARG_TEXT_PP(0);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "[{\"role\": \"user\", \"content\": ");
	escape_json(&buf, text_to_cstring(prompt));
	appendStringInfoString(&buf, "}]");
	messages = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	r = run_tools(JsonbPGetDatum(messages), false, fcinfo, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	res = DatumGetJsonbP(r);
	key.type = jbvString;
	key.val.string.val = "content";
	key.val.string.len = 7;
	content = findJsonbValueFromContainer(&res->root, JB_FOBJECT, &key);
	if (content == NULL || content->type != jbvString)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(content->val.string.val, content->val.string.len));
}
