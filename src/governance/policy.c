/*
 * policy.c — request policy of a route: deny patterns and PII redaction.
 *
 * Route option deny_patterns is an array of regular expressions (PostgreSQL
 * advanced regexes, case-sensitive unless the pattern says (?i)); a request
 * any of whose messages matches one is refused with 23514 before anything
 * is sent.  Route option redact_pii (true, or "reversible") replaces
 * e-mail addresses, phone numbers, card numbers, IBANs, IP addresses and US
 * SSNs with placeholders (redact.c) in every message or embedding input;
 * with "reversible" the placeholders in the answer are mapped back to the
 * original values for the caller.  Both run after the request hook, so they
 * see exactly what would be sent.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "regex/regex.h"
#include "utils/builtins.h"

#include "governance/policy.h"

static bool
matches(const char *pattern, const char *s)
{
	char	   *srv = pg_any_to_server(s, strlen(s), PG_UTF8);

	return RE_compile_and_execute(cstring_to_text(pattern), srv, strlen(srv),
								  REG_ADVANCED, C_COLLATION_OID, 0, NULL);
}

void
aig_policy_check_patterns(const char *route, int n, char **patterns)
{
	/* compiling reports a bad pattern with its own message (2201B) */
	for (int i = 0; i < n; i++)
		(void) matches(patterns[i], "");
}

static void
deny_check(const AigRoute *route, int n, char **texts, const char *what)
{
	for (int i = 0; i < n; i++)
		for (int p = 0; p < route->ndeny; p++)
			if (texts[i] && matches(route->deny_patterns[p], texts[i]))
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("request blocked by deny pattern %d of route \"%s\"", p + 1,
								route->name ? route->name : ""),
						 errdetail("%s[%d] matches deny_patterns[%d].", what, i, p),
						 errhint("Nothing was sent to the provider.")));
}

/*
 * JSON text with PII redacted inside its string literals only (a number
 * stays a number, so the text stays valid JSON; placeholders hold no quote
 * or backslash).
 */
static char *
redact_json_strings(AigRedaction *map, const char *json)
{
	StringInfoData out;
	const char *p = json;

	initStringInfo(&out);
	while (*p)
	{
		const char *start;
		char	   *lit;

		if (*p != '"')
		{
			appendStringInfoChar(&out, *p++);
			continue;
		}
		appendStringInfoChar(&out, *p++);
		start = p;
		while (*p && *p != '"')
			p += (*p == '\\' && p[1]) ? 2 : 1;
		lit = pnstrdup(start, p - start);
		appendStringInfoString(&out, aig_redact(map, lit, NULL));
		if (*p == '"')
			appendStringInfoChar(&out, *p++);
	}
	return out.data;
}

AigRedaction *
aig_policy_apply_chat(const AigRoute *route, AigChatRequest *req)
{
	AigRedaction *map;

	if (route->ndeny > 0)
	{
		char	  **texts = palloc(sizeof(char *) * Max(req->nmessages, 1));

		for (int i = 0; i < req->nmessages; i++)
			texts[i] = req->messages[i].content;
		deny_check(route, req->nmessages, texts, "messages");
		/* the arguments of earlier tool calls are sent back too */
		for (int i = 0; i < req->nmessages; i++)
			for (int j = 0; j < req->messages[i].ntool_calls; j++)
				deny_check(route, 1, &req->messages[i].tool_calls[j].arguments,
						   "tool call arguments");
	}
	if (route->redact_pii == AIG_REDACT_OFF)
		return NULL;
	map = aig_redaction_new();
	for (int i = 0; i < req->nmessages; i++)
	{
		AigChatMessage *m = &req->messages[i];

		m->content = aig_redact(map, m->content, NULL);
		/* a message with images sends its text parts, not content */
		for (int j = 0; j < m->nparts; j++)
			if (m->parts[j].kind == AIG_PART_TEXT)
				m->parts[j].text = aig_redact(map, m->parts[j].text, NULL);
		for (int j = 0; j < m->ntool_calls; j++)
			m->tool_calls[j].arguments = redact_json_strings(map, m->tool_calls[j].arguments);
	}
	return route->redact_pii == AIG_REDACT_REVERSIBLE ? map : NULL;
}

void
aig_policy_apply_embed(const AigRoute *route, AigEmbedRequest *req)
{
	AigRedaction *map;

	if (route->ndeny > 0)
		deny_check(route, req->ninputs, req->inputs, "inputs");
	if (route->redact_pii == AIG_REDACT_OFF)
		return;
	map = aig_redaction_new();
	for (int i = 0; i < req->ninputs; i++)
		req->inputs[i] = aig_redact(map, req->inputs[i], NULL);
}
