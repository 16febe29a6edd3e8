/*
 * fuzz_structured.c — libFuzzer target for the structured-answer check
 * (src/routing/structured.c: aig_check_structured_answer), which reads a
 * provider's answer against the JSON schema a call asked for.
 *
 * Input: a response_format document (JSON text), the separator "\n--\n",
 * then the answer; without the separator the whole input is the answer to
 * {"type": "json_schema", "json_schema": {"name": "f", "schema":
 * {"type": "object"}}}.  The answer is passed as a NUL-terminated copy (as
 * the call has it).
 *
 * Contract asserted: no ereport (fuzz_support.c aborts on one); the result
 * is NULL or a clean message (valid UTF-8, no control characters, at most
 * 4096 bytes); when NULL and the document asks for json_object or
 * json_schema (a call's documents are always valid: others are skipped by
 * the check, as the call never has them), the answer (perhaps without its code fence) is
 * JSON by PostgreSQL's grammar, so it casts to jsonb; every json-c tree is
 * freed (no doc left live), nothing malloc'd is left (LeakSanitizer).
 */
#include "postgres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "base/compat.h"
#include "transport/json.h"
#include "fuzz_support.h"

extern char *aig_check_structured_answer(const char *response_format, char **content);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the backend's database encoding: the fuzzer's "database" is UTF-8 */
int
GetDatabaseEncoding(void)
{
	return PG_UTF8;
}

/* Does the response_format (as a call has it: parsed, its type known) ask for JSON? */
static bool
asks_for_json(const char *rf)
{
	char	   *err = NULL;
	AigJsonDoc *doc = aig_json_parse(rf, strlen(rf), &err);
	char	   *type;
	bool		json;

	if (doc == NULL)
		return false;
	type = aig_jstr(doc->root, "type");
	json = type != NULL && (strcmp(type, "json_object") == 0 || strcmp(type, "json_schema") == 0);
	aig_json_free(doc);
	return json;
}

static const char default_rf[] =
"{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"f\", \"schema\": {\"type\": \"object\"}}}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *sep = NULL;
	char	   *rf;
	char	   *answer;
	char	   *content;
	char	   *why;

	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(data + i, "\n--\n", 4) == 0)
		{
			sep = (const char *) data + i;
			break;
		}
	if (sep)
	{
		rf = pnstrdup((const char *) data, sep - (const char *) data);
		answer = pnstrdup(sep + 4, size - (sep + 4 - (const char *) data));
	}
	else
	{
		rf = pstrdup(default_rf);
		answer = pnstrdup((const char *) data, size);
	}
	/* the call only ever has a response_format it validated, and a valid answer text */
	if (strlen(rf) == (size_t) (sep ? sep - (const char *) data : (long) strlen(default_rf)) &&
		strlen(answer) == size - (sep ? (size_t) (sep + 4 - (const char *) data) : 0) &&
		fuzz_valid_utf8(answer, strlen(answer)) && fuzz_valid_utf8(rf, strlen(rf)))
	{
		content = answer;
		why = aig_check_structured_answer(rf, &content);
		if (why != NULL)
		{
			FUZZ_CHECK(fuzz_clean_message(why), "reason", "not clean");
			FUZZ_CHECK(strlen(why) <= 4096, "reason", "longer than 4096 bytes");
		}
		else if (asks_for_json(rf))
		{
			JsonLexContext *lex = aig_json_lex_new(content, strlen(content), PG_UTF8);

			FUZZ_CHECK(pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS,
					   "accepted answer", "is not JSON by PostgreSQL's grammar");
		}
		FUZZ_CHECK(aig_json_live_docs() == 0, "json docs", "left live");
	}
	fuzz_arena_reset();
	return 0;
}
