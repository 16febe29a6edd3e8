/*
 * openai_tools.c — tool calls, tool results and image/document parts in the
 * OpenAI Chat Completions wire format (shared by openai, azure_openai and
 * openai_compatible through aig_openai_chat_body), plus the checks of a
 * tool call's arguments that every dialect's reader can use.
 *
 * Request side (what a message becomes):
 *	user with parts	{"role":"user","content":[{"type":"text","text"},
 *					 {"type":"image_url","image_url":{"url":"data:<mt>;base64,<b64>"|url}},
 *					 {"type":"file","file":{"filename","file_data":"data:application/pdf;base64,..."}}]}
 *	assistant		{"role":"assistant",["content":"...",] (none when only calls)
 *					 "tool_calls":[{"id","type":"function","function":{"name","arguments":"<JSON text>"}}]}
 *	tool			{"role":"tool","tool_call_id","content"}
 *	options			"tools":[{"type":"function","function":{"name","description","parameters"}}],
 *					"tool_choice":"none"|"required"|{"type":"function","function":{"name"}}
 *					(auto, the API's default with tools, is not sent),
 *					"parallel_tool_calls":false (only when set false)
 *
 * Response side: choices[0].message.tool_calls[] -> AigChatResult.tool_calls
 * (read by openai.c's chat reader through aig_openai_read_tool_calls).
 *
 * Chat Completions takes PDFs only as base64 file_data (OpenAI's file-inputs
 * guide: no file URLs there); a document given by URL is refused (0A000).
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/errcodes.h"

#include "base/compat.h"
#include "providers/provider.h"
#include "providers/dialect_util.h"

/* ---------------------------------------------------------------------
 * Tool-call checks shared by the dialects' readers
 * ---------------------------------------------------------------------
 */

/* valid UTF-8 of len bytes without NUL or control characters */
static bool
clean_utf8(const char *s, size_t len, bool allow_space_controls)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x80)
		{
			if (c == 0 || c == 0x7f ||
				(c < 0x20 && !(allow_space_controls &&
							   (c == '\t' || c == '\n' || c == '\r'))))
				return false;
			i++;
		}
		else
		{
			int			l = pg_utf_mblen((const unsigned char *) &s[i]);

			if (l < 2 || i + l > len ||
				!pg_utf8_islegal((const unsigned char *) &s[i], l))
				return false;
			i += l;
		}
	}
	return true;
}

/*
 * Every number of strict JSON text s fits PostgreSQL's numeric (as jsonb
 * reads it): at most 1000 characters and an exponent within +-1000, which
 * keeps its weight and scale far inside numeric's limits.
 */
static bool
numbers_fit(const char *s, size_t len)
{
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			size_t		start = i;
			long		exponent = 0;

			while (i < len && (s[i] == '-' || s[i] == '+' || s[i] == '.' ||
							   (s[i] >= '0' && s[i] <= '9')))
				i++;
			if (i < len && (s[i] == 'e' || s[i] == 'E'))
			{
				bool		neg = false;

				i++;
				if (i < len && (s[i] == '-' || s[i] == '+'))
					neg = (s[i++] == '-');
				while (i < len && s[i] >= '0' && s[i] <= '9')
				{
					if (exponent <= 1000)
						exponent = exponent * 10 + (s[i] - '0');
					i++;
				}
				if (neg)
					exponent = -exponent;
			}
			if (i - start > 1000 || exponent > 1000 || exponent < -1000)
				return false;
			i--;				/* the loop steps past the number's last character */
		}
	}
	return true;
}

bool
aig_tool_name_ok(const char *s)
{
	size_t		len = s ? strlen(s) : 0;

	return len > 0 && len <= 256 && clean_utf8(s, len, false);
}

char *
aig_tool_arguments_check(const char *text, size_t len, char **why)
{
	AigJsonDoc *doc;
	char	   *perr = NULL;
	char	   *copy;
	JsonLexContext *lex;
	JsonParseErrorType jerr;
	size_t		i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
					   text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == len)
		return pstrdup("{}");	/* no arguments at all (some servers send "") */
	/* keep the object's text only, without the white space around it */
	text += i;
	len -= i;
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
					   text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len > (size_t) PG_INT32_MAX / 2)
	{
		*why = pstrdup("are too large");
		return NULL;
	}
	if (!clean_utf8(text, len, true))
	{
		*why = pstrdup("are not valid UTF-8 text");
		return NULL;
	}
	/* json-c first: it caps the nesting depth, so the strict parse below stays shallow */
	doc = aig_json_parse(text, len, &perr);
	if (doc == NULL)
	{
		*why = pstrdup("are not JSON");
		return NULL;
	}
	if (!aig_jis(doc->root, AIG_JSON_OBJECT))
	{
		aig_json_free(doc);
		*why = pstrdup("are not a JSON object");
		return NULL;
	}
	aig_json_free(doc);

	/* then strict RFC 8259, as jsonb reads it (no NaN, no \u0000) */
	copy = pnstrdup(text, len);
	lex = aig_json_lex_cstring(copy, len, PG_UTF8);
	jerr = pg_parse_json(lex, &nullSemAction);
	if (jerr != JSON_SUCCESS)
	{
		*why = pstrdup("are not strict JSON");
		pfree(copy);
		return NULL;
	}
	if (!numbers_fit(copy, len))
	{
		*why = pstrdup("hold a number out of range");
		pfree(copy);
		return NULL;
	}
	return copy;
}

char *
aig_tool_arguments_from_value(const AigJson *v, char **why)
{
	if (aig_jis(v, AIG_JSON_STRING))
	{
		size_t		len;
		char	   *s = aig_jstring(v, &len);

		return aig_tool_arguments_check(s, len, why);
	}
	if (aig_jis(v, AIG_JSON_OBJECT))
	{
		AigJsonWriter w;

		/* an object as such (Ollama; some compatible servers): its JSON text */
		aig_jw_init(&w);
		aig_jw_copy(&w, v);
		return aig_tool_arguments_check(w.buf.data, w.buf.len, why);
	}
	if (v == NULL || aig_jis(v, AIG_JSON_NULL))
	{
		*why = pstrdup("are missing");
		return NULL;
	}
	*why = pstrdup("are neither a JSON object nor JSON text");
	return NULL;
}

/* ---------------------------------------------------------------------
 * Writing requests
 * ---------------------------------------------------------------------
 */

/* "data:<media type>;base64,<data>" as a JSON string value */
static void
jw_data_url(AigJsonWriter *w, const char *media_type, const char *b64)
{
	char	   *url = psprintf("data:%s;base64,%s",
							   media_type ? media_type : "application/octet-stream",
							   b64 ? b64 : "");

	aig_jw_string(w, url);
	pfree(url);
}

static void
openai_jw_part(AigJsonWriter *w, const AigContentPart *part, int ndoc)
{
	aig_jw_object_begin(w);
	switch (part->kind)
	{
		case AIG_PART_IMAGE:
			aig_jw_kstring(w, "type", "image_url");
			aig_jw_key(w, "image_url");
			aig_jw_object_begin(w);
			aig_jw_key(w, "url");
			if (part->data_b64 != NULL)
				jw_data_url(w, part->media_type, part->data_b64);
			else
				aig_jw_string(w, part->url);
			aig_jw_object_end(w);
			break;
		case AIG_PART_DOCUMENT:
			if (part->data_b64 == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("the OpenAI Chat Completions API takes documents only as data, not as a URL"),
						 errhint("Pass the PDF's bytes (a \"data\" part) instead of its URL.")));
			aig_jw_kstring(w, "type", "file");
			aig_jw_key(w, "file");
			aig_jw_object_begin(w);
			{
				char	   *fname = ndoc > 1 ? psprintf("document%d.pdf", ndoc) :
					pstrdup("document.pdf");

				aig_jw_kstring(w, "filename", fname);
				pfree(fname);
			}
			aig_jw_key(w, "file_data");
			jw_data_url(w, part->media_type ? part->media_type : "application/pdf",
						part->data_b64);
			aig_jw_object_end(w);
			break;
		default:
			aig_jw_kstring(w, "type", "text");
			aig_jw_kstring(w, "text", part->text);
			break;
	}
	aig_jw_object_end(w);
}

void
aig_openai_jw_messages(AigJsonWriter *w, const AigChatRequest *req)
{
	int			ndoc = 0;

	aig_jw_key(w, "messages");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		bool		is_user = m->role && strcmp(m->role, "user") == 0;
		bool		is_tool = m->role && strcmp(m->role, "tool") == 0;
		bool		has_calls = m->ntool_calls > 0 && m->role &&
			strcmp(m->role, "assistant") == 0;

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "role", m->role);
		if (is_tool)
			aig_jw_kstring(w, "tool_call_id", m->tool_call_id);
		if (has_calls && (m->content == NULL || m->content[0] == '\0'))
			;					/* only calls: no content member (both
								 * documents: "required unless tool_calls") */
		else if (is_user && m->nparts > 0)
		{
			aig_jw_key(w, "content");
			aig_jw_array_begin(w);
			for (int j = 0; j < m->nparts; j++)
			{
				if (m->parts[j].kind == AIG_PART_DOCUMENT)
					ndoc++;
				/* an empty text part is refused by the API (minItems aside) */
				if (m->parts[j].kind == AIG_PART_TEXT &&
					(m->parts[j].text == NULL || m->parts[j].text[0] == '\0'))
					continue;
				openai_jw_part(w, &m->parts[j], ndoc);
			}
			aig_jw_array_end(w);
		}
		else
			aig_jw_kstring(w, "content", m->content);
		if (has_calls)
		{
			aig_jw_key(w, "tool_calls");
			aig_jw_array_begin(w);
			for (int j = 0; j < m->ntool_calls; j++)
			{
				const AigToolCall *tc = &m->tool_calls[j];

				aig_jw_object_begin(w);
				aig_jw_kstring(w, "id", tc->id);
				aig_jw_kstring(w, "type", "function");
				aig_jw_key(w, "function");
				aig_jw_object_begin(w);
				aig_jw_kstring(w, "name", tc->name);
				/* a JSON string holding the JSON text, as the API takes it */
				aig_jw_kstring(w, "arguments",
							   tc->arguments ? tc->arguments : "{}");
				aig_jw_object_end(w);
				aig_jw_object_end(w);
			}
			aig_jw_array_end(w);
		}
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

void
aig_jw_function_tools(AigJsonWriter *w, const AigGenOptions *o,
					  const char *only)
{
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	for (int i = 0; i < o->ntools; i++)
	{
		const AigToolDef *t = &o->tools[i];

		if (only != NULL && strcmp(t->name, only) != 0)
			continue;
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "type", "function");
		aig_jw_key(w, "function");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", t->name);
		if (t->description != NULL)
			aig_jw_kstring(w, "description", t->description);
		aig_jw_key(w, "parameters");
		if (t->parameters != NULL)
			aig_jw_raw(w, t->parameters);
		else
			aig_jw_raw(w, "{\"type\": \"object\", \"properties\": {}}");
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

void
aig_openai_jw_tools(AigJsonWriter *w, const AigGenOptions *o,
					bool parallel_key)
{
	if (o->ntools <= 0 || o->tools == NULL)
		return;
	aig_jw_function_tools(w, o, NULL);
	switch (o->tool_choice)
	{
		case AIG_TOOL_CHOICE_NONE:
			aig_jw_kstring(w, "tool_choice", "none");
			break;
		case AIG_TOOL_CHOICE_REQUIRED:
			aig_jw_kstring(w, "tool_choice", "required");
			break;
		case AIG_TOOL_CHOICE_NAMED:
			aig_jw_key(w, "tool_choice");
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "type", "function");
			aig_jw_key(w, "function");
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "name", o->tool_choice_name);
			aig_jw_object_end(w);
			aig_jw_object_end(w);
			break;
		default:
			break;				/* auto: the API's default when tools are given */
	}
	if (parallel_key && !o->parallel_tool_calls)
		aig_jw_kbool(w, "parallel_tool_calls", false);
}

/* ---------------------------------------------------------------------
 * Reading answers
 * ---------------------------------------------------------------------
 */

bool
aig_openai_read_tool_calls(const AigJson *calls, AigChatResult *out,
						   const char *label, char **errmsg)
{
	int			n;

	if (calls == NULL || aig_jis(calls, AIG_JSON_NULL))
		return true;
	if (!aig_jis(calls, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s response: choices[0].message.tool_calls is not an array",
						   label);
		return false;
	}
	n = aig_jlength(calls);
	if (n == 0)
		return true;
	out->tool_calls = palloc0(sizeof(AigToolCall) * n);
	for (int i = 0; i < n; i++)
	{
		const AigJson *c = aig_jelem(calls, i);
		const AigJson *type = aig_jget(c, "type");
		const AigJson *fn = aig_jget(c, "function");
		AigToolCall *tc = &out->tool_calls[i];
		char	   *why = NULL;

		if (!aig_jis(c, AIG_JSON_OBJECT) || !aig_jis(fn, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("%s response: tool call %d is not a function call",
							   label, i);
			return false;
		}
		if (type != NULL && !aig_jstring_eq(type, "function"))
		{
			*errmsg = psprintf("%s response: tool call %d is not of type \"function\"",
							   label, i);
			return false;
		}
		tc->name = aig_jstr(fn, "name");
		if (!aig_tool_name_ok(tc->name))
		{
			*errmsg = psprintf("%s response: tool call %d has no valid function name",
							   label, i);
			return false;
		}
		tc->id = aig_jstr(c, "id");
		if (tc->id != NULL && tc->id[0] == '\0')
			tc->id = NULL;
		if (tc->id != NULL && !aig_tool_name_ok(tc->id))
		{
			*errmsg = psprintf("%s response: tool call %d has an invalid id",
							   label, i);
			return false;
		}
		if (tc->id == NULL)
			tc->id = psprintf("call_%d", i + 1);
		tc->arguments = aig_tool_arguments_from_value(aig_jget(fn, "arguments"),
													  &why);
		if (tc->arguments == NULL)
		{
			*errmsg = psprintf("%s response: the arguments of tool call %d (%s) %s",
							   label, i,
							   aig_body_excerpt(tc->name, strlen(tc->name), 64),
							   why);
			return false;
		}
		out->ntool_calls = i + 1;
	}
	return true;
}
