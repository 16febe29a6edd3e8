/*
 * tool_options.c — options.tools, options.tool_choice and
 * options.parallel_tool_calls of a chat call, validated into the neutral
 * AigGenOptions fields every dialect maps to its own API.
 *
 * tools is an array of {"name", "description", "parameters"} or OpenAI's
 * {"type": "function", "function": {...}}; tool_choice is "auto", "none",
 * "required", a tool's name, {"name": ...} or OpenAI's {"type":
 * "function", "function": {"name": ...}}.  Names beginning with "aig_" are
 * the gateway's own (structured output by a forced tool) and are refused.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/jsonb.h"

#include "core/jsonb_util.h"
#include "routing/call_options.h"

#define AIG_MAX_TOOLS 128

/* A tool or function name: 1-64 of [A-Za-z0-9_-], not the gateway's aig_ prefix. */
void
aig_check_tool_name(const char *name, const char *what)
{
	size_t		len = strlen(name);
	bool		ok = len >= 1 && len <= 64;

	for (size_t i = 0; ok && i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-'))
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%.80s\" is not a valid tool name", what, name),
				 errhint("A tool name is 1 to 64 letters, digits, underscores or hyphens.")));
	if (pg_strncasecmp(name, "aig_", 4) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("%s \"%s\" begins with \"aig_\"", what, name),
				 errhint("Tool names beginning with aig_ are reserved for the gateway.")));
}

/* One element of options.tools into t. */
static void
parse_tool(JsonbValue *e, int idx, AigToolDef *t)
{
	JsonbValue *fn = e;
	JsonbValue *name;
	JsonbValue *desc;
	JsonbValue *params;
	JsonbValue *type = aig_jsonb_member(e, "type");

	if (!aig_jsonb_is_object(e))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.tools[%d] must be an object", idx),
				 errhint("For example {\"name\": \"get_weather\", \"description\": \"...\", \"parameters\": {\"type\": \"object\", \"properties\": {...}}}.")));
	if (type != NULL)
	{
		if (type->type != jbvString || type->val.string.len != 8 ||
			strncmp(type->val.string.val, "function", 8) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.tools[%d] has type other than \"function\"", idx),
					 errhint("Only function tools are supported.")));
		fn = aig_jsonb_member(e, "function");
		if (!aig_jsonb_is_object(fn))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.tools[%d] of type function needs a \"function\" object", idx)));
	}
	name = aig_jsonb_member(fn, "name");
	if (name == NULL || name->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.tools[%d] has no name", idx)));
	t->name = aig_jsonb_string_utf8(name);
	aig_check_tool_name(t->name, "tool");
	desc = aig_jsonb_member(fn, "description");
	if (desc != NULL && desc->type != jbvNull && desc->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.tools[%d].description must be a string", idx)));
	t->description = desc && desc->type == jbvString ? aig_jsonb_string_utf8(desc) : NULL;
	params = aig_jsonb_member(fn, "parameters");
	if (params == NULL || params->type == jbvNull)
		t->parameters = pstrdup("{\"type\": \"object\", \"properties\": {}}");
	else if (!aig_jsonb_is_object(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options.tools[%d].parameters must be a JSON schema object", idx),
				 errhint("For example {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}.")));
	else
	{
		JsonbValue *ptype = aig_jsonb_member(params, "type");
		char	   *s;

		if (ptype != NULL && !(ptype->type == jbvString && ptype->val.string.len == 6 &&
							   strncmp(ptype->val.string.val, "object", 6) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options.tools[%d].parameters must be a schema of type \"object\"", idx),
					 errhint("A tool's arguments are a JSON object; name each one under \"properties\".")));
		s = aig_jsonb_value_to_text(params);
		t->parameters = pg_server_to_any(s, strlen(s), PG_UTF8);
	}
}

/* options.tools: a non-empty array of distinct tools. */
static void
parse_tools(JsonbValue *v, AigGenOptions *g)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"tools\" must be an array of tools"),
				 errhint("For example [{\"name\": \"lookup\", \"parameters\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"}}}}].")));
	n = JsonContainerSize(v->val.binary.data);
	if (n > AIG_MAX_TOOLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("option \"tools\" has %d tools; at most %d are allowed", n, AIG_MAX_TOOLS)));
	g->tools = palloc0(sizeof(AigToolDef) * Max(n, 1));
	g->ntools = 0;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		parse_tool(&e, g->ntools, &g->tools[g->ntools]);
		for (int j = 0; j < g->ntools; j++)
			if (strcmp(g->tools[j].name, g->tools[g->ntools].name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options.tools names \"%s\" twice", g->tools[j].name)));
		g->ntools++;
	}
}

/* options.tool_choice (after tools: a named tool must be one of them). */
static void
parse_tool_choice(JsonbValue *v, AigGenOptions *g)
{
	char	   *name = NULL;

	if (v->type == jbvString)
	{
		char	   *s = aig_jsonb_string_utf8(v);

		if (strcmp(s, "auto") == 0)
			g->tool_choice = AIG_TOOL_CHOICE_AUTO;
		else if (strcmp(s, "none") == 0)
			g->tool_choice = AIG_TOOL_CHOICE_NONE;
		else if (strcmp(s, "required") == 0 || strcmp(s, "any") == 0)
			g->tool_choice = AIG_TOOL_CHOICE_REQUIRED;
		else
			name = s;
	}
	else if (aig_jsonb_is_object(v))
	{
		JsonbValue *fn = aig_jsonb_member(v, "function");
		JsonbValue *nv = aig_jsonb_member(aig_jsonb_is_object(fn) ? fn : v, "name");

		if (nv != NULL && nv->type == jbvString)
			name = aig_jsonb_string_utf8(nv);
	}
	if (name == NULL && (v->type != jbvString))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"tool_choice\" must be \"auto\", \"none\", \"required\" or a tool's name"),
				 errhint("For example \"required\", or {\"name\": \"lookup\"}.")));
	if (name != NULL)
	{
		bool		found = false;

		for (int i = 0; i < g->ntools; i++)
			if (strcmp(g->tools[i].name, name) == 0)
				found = true;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"tool_choice\" names \"%.80s\", which is not in options.tools", name),
					 errhint("Name one of the tools, or use \"auto\", \"none\" or \"required\".")));
		g->tool_choice = AIG_TOOL_CHOICE_NAMED;
		g->tool_choice_name = name;
	}
	if (g->ntools == 0 && g->tool_choice != AIG_TOOL_CHOICE_AUTO &&
		g->tool_choice != AIG_TOOL_CHOICE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"tool_choice\" needs option \"tools\"")));
}

/* Parse options.tools / tool_choice / parallel_tool_calls of opts into g. */
void
aig_parse_tool_options(Jsonb *opts, AigGenOptions *g)
{
	JsonbValue *v;

	g->tool_choice = AIG_TOOL_CHOICE_AUTO;
	g->parallel_tool_calls = true;
	if ((v = aig_jsonb_get(opts, "tools")) != NULL && v->type != jbvNull)
		parse_tools(v, g);
	if ((v = aig_jsonb_get(opts, "tool_choice")) != NULL && v->type != jbvNull)
		parse_tool_choice(v, g);
	if ((v = aig_jsonb_get(opts, "parallel_tool_calls")) != NULL && v->type != jbvNull)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"parallel_tool_calls\" must be true or false")));
		g->parallel_tool_calls = v->val.boolean;
	}
}
