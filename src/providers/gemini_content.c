/*
 * gemini_content.c — the request body of a Gemini generateContent call
 * (aig_gemini_chat_body), apart from its URL and headers so that another
 * Google endpoint (vertex_ai) can send the same body elsewhere.
 *
 *	contents			user -> role "user", assistant -> role "model", each
 *						with "parts": text, inlineData (image/PDF bytes),
 *						fileData (a URL), functionCall (an assistant's
 *						calls); tool messages -> role "user" with
 *						functionResponse parts (consecutive ones in one
 *						content, as Gemini wants the answers to parallel
 *						calls)
 *	systemInstruction	the system messages, joined
 *	tools				[{"functionDeclarations": [{name, description,
 *						parameters}]}]
 *	toolConfig			{"functionCallingConfig": {mode, allowedFunctionNames}}
 *	generationConfig	options, responseMimeType + responseSchema
 *
 * Schemas (parameters, responseSchema) are translated by gemini_schema.c.
 */
#include "postgres.h"

#include <math.h>

#include "providers/gemini.h"

/* "parts": [{"text": text}] */
void
aig_gemini_text_parts(AigJsonWriter *w, const char *text)
{
	aig_jw_key(w, "parts");
	aig_jw_array_begin(w);
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "text", text);
	aig_jw_object_end(w);
	aig_jw_array_end(w);
}

static const char *gemini_member_ok(const char *key, const AigJson *value, void *arg);
static void gemini_write_value(AigJsonWriter *w, const AigJson *v);
static bool gemini_json_ok(const AigJson *v, int depth);

/* ---- contents ---- */

/* {"inlineData": {...}} or {"fileData": {...}} for an image or PDF part */
static void
gemini_media_part(AigJsonWriter *w, const AigContentPart *part)
{
	aig_jw_object_begin(w);
	if (part->data_b64 != NULL)
	{
		aig_jw_key(w, "inlineData");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "mimeType", part->media_type);
		aig_jw_kstring(w, "data", part->data_b64);
		aig_jw_object_end(w);
	}
	else
	{
		aig_jw_key(w, "fileData");
		aig_jw_object_begin(w);
		if (part->media_type != NULL)
			aig_jw_kstring(w, "mimeType", part->media_type);
		aig_jw_kstring(w, "fileUri", part->url);
		aig_jw_object_end(w);
	}
	aig_jw_object_end(w);
}

/* A call's arguments as a JSON object value ({} when not an object). */
static void
gemini_write_args(AigJsonWriter *w, const char *arguments)
{
	AigJsonDoc *doc = NULL;
	char	   *err;

	if (arguments != NULL)
		doc = aig_json_parse(arguments, strlen(arguments), &err);
	if (doc != NULL && aig_jis(doc->root, AIG_JSON_OBJECT) &&
		gemini_json_ok(doc->root, 0))
		gemini_write_value(w, doc->root);
	else
	{
		aig_jw_object_begin(w);
		aig_jw_object_end(w);
	}
	aig_json_free(doc);
}

/* The parts of a user or assistant message. */
static void
gemini_message_parts(AigJsonWriter *w, const AigChatMessage *m)
{
	aig_jw_key(w, "parts");
	aig_jw_array_begin(w);
	if (m->nparts > 0)
	{
		for (int i = 0; i < m->nparts; i++)
		{
			const AigContentPart *part = &m->parts[i];

			if (part->kind == AIG_PART_TEXT)
			{
				aig_jw_object_begin(w);
				aig_jw_kstring(w, "text", part->text);
				aig_jw_object_end(w);
			}
			else
				gemini_media_part(w, part);
		}
	}
	else if (m->ntool_calls == 0 || (m->content != NULL && m->content[0] != '\0'))
	{
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "text", m->content);
		aig_jw_object_end(w);
	}
	for (int i = 0; i < m->ntool_calls; i++)
	{
		const AigToolCall *c = &m->tool_calls[i];

		const char *sig = c->id != NULL ? strstr(c->id, AIG_GEMINI_SIG_MARK) : NULL;

		/* no "id": the document's FunctionCall has none */
		aig_jw_object_begin(w);
		if (sig != NULL && sig[strlen(AIG_GEMINI_SIG_MARK)] != '\0')
			aig_jw_kstring(w, "thoughtSignature", sig + strlen(AIG_GEMINI_SIG_MARK));
		aig_jw_key(w, "functionCall");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", c->name);
		aig_jw_key(w, "args");
		gemini_write_args(w, c->arguments);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/*
 * Can v be written back as strict JSON by gemini_write_value?  No for
 * non-finite numbers (json-c reads NaN and Infinity) and past the nesting
 * bound.
 */
static bool
gemini_json_ok(const AigJson *v, int depth)
{
	if (depth > AIG_JSON_MAX_DEPTH)
		return false;
	switch (aig_jtype(v))
	{
		case AIG_JSON_NUMBER:
			return isfinite(aig_jnumber(v));
		case AIG_JSON_ARRAY:
			for (int i = 0; i < aig_jlength(v); i++)
				if (!gemini_json_ok(aig_jelem(v, i), depth + 1))
					return false;
			return true;
		case AIG_JSON_OBJECT:
			return aig_jforeach_member(v, gemini_member_ok, &depth) == NULL;
		default:
			return true;
	}
}

/* aig_jforeach_member callback of gemini_json_ok: non-NULL stops (bad) */
static const char *
gemini_member_ok(const char *key, const AigJson *value, void *arg)
{
	return gemini_json_ok(value, *(int *) arg + 1) ? NULL : key;
}

/* one member of an object, for gemini_write_value */
static const char *
gemini_write_member(const char *key, const AigJson *value, void *arg)
{
	aig_jw_key((AigJsonWriter *) arg, key);
	gemini_write_value((AigJsonWriter *) arg, value);
	return NULL;
}

/*
 * Write v (checked by gemini_json_ok) as strict JSON: numbers in their
 * shortest form (json-c keeps a number's text, which its lenient reading
 * lets be "1." or "+1"), strings escaped, containers member by member.
 */
static void
gemini_write_value(AigJsonWriter *w, const AigJson *v)
{
	int64		n;

	switch (aig_jtype(v))
	{
		case AIG_JSON_NUMBER:
			if (aig_jint64(v, &n))
				aig_jw_int(w, n);
			else
				aig_jw_double(w, aig_jnumber(v), "tool result");
			break;
		case AIG_JSON_ARRAY:
			aig_jw_array_begin(w);
			for (int i = 0; i < aig_jlength(v); i++)
				gemini_write_value(w, aig_jelem(v, i));
			aig_jw_array_end(w);
			break;
		case AIG_JSON_OBJECT:
			aig_jw_object_begin(w);
			(void) aig_jforeach_member(v, gemini_write_member, w);
			aig_jw_object_end(w);
			break;
		default:
			aig_jw_copy(w, v);	/* string, true, false, null */
			break;
	}
}

/*
 * {"functionResponse": {"name", "response": {"result": R}}}: R is the
 * tool's answer as the JSON value it is (the gateway's tool loop sends
 * results as JSON), else the answer as text.
 */
static void
gemini_function_response(AigJsonWriter *w, const AigChatMessage *m)
{
	const char *content = m->content != NULL ? m->content : "";
	AigJsonDoc *doc;
	char	   *err;

	aig_jw_object_begin(w);
	aig_jw_key(w, "functionResponse");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "name", m->name != NULL ? m->name :
				   (m->tool_call_id != NULL ? m->tool_call_id : ""));
	aig_jw_key(w, "response");
	aig_jw_object_begin(w);
	aig_jw_key(w, "result");
	doc = aig_json_parse(content, strlen(content), &err);
	if (doc != NULL && gemini_json_ok(doc->root, 0))
		gemini_write_value(w, doc->root);
	else
		aig_jw_string(w, content);
	aig_json_free(doc);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

static bool
is_role(const AigChatMessage *m, const char *role)
{
	return m->role != NULL && strcmp(m->role, role) == 0;
}

static void
gemini_contents(AigJsonWriter *w, const AigChatRequest *req)
{
	aig_jw_key(w, "contents");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (is_role(m, "system"))
			continue;
		aig_jw_object_begin(w);
		if (is_role(m, "tool"))
		{
			/* this tool message and the ones right after it, one turn */
			aig_jw_kstring(w, "role", "user");
			aig_jw_key(w, "parts");
			aig_jw_array_begin(w);
			gemini_function_response(w, m);
			while (i + 1 < req->nmessages && is_role(&req->messages[i + 1], "tool"))
				gemini_function_response(w, &req->messages[++i]);
			aig_jw_array_end(w);
		}
		else
		{
			aig_jw_kstring(w, "role", is_role(m, "assistant") ? "model" : "user");
			gemini_message_parts(w, m);
		}
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* "tools" and "toolConfig" */
static void
gemini_tools(AigJsonWriter *w, const AigGenOptions *o)
{
	const char *mode;

	if (o->ntools <= 0)
		return;
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	aig_jw_object_begin(w);
	aig_jw_key(w, "functionDeclarations");
	aig_jw_array_begin(w);
	for (int i = 0; i < o->ntools; i++)
	{
		const AigToolDef *t = &o->tools[i];
		AigJsonDoc *doc = NULL;
		char	   *err;

		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", t->name);
		if (t->description != NULL)
			aig_jw_kstring(w, "description", t->description);
		if (t->parameters != NULL)
			doc = aig_json_parse(t->parameters, strlen(t->parameters), &err);
		if (doc != NULL && !aig_gemini_no_parameters(doc->root))
		{
			aig_jw_key(w, "parameters");
			aig_gemini_write_schema(w, doc->root);
		}
		aig_json_free(doc);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
	aig_jw_object_end(w);
	aig_jw_array_end(w);

	switch (o->tool_choice)
	{
		case AIG_TOOL_CHOICE_NONE:
			mode = "NONE";
			break;
		case AIG_TOOL_CHOICE_REQUIRED:
		case AIG_TOOL_CHOICE_NAMED:
			mode = "ANY";
			break;
		default:
			mode = "AUTO";
			break;
	}
	aig_jw_key(w, "toolConfig");
	aig_jw_object_begin(w);
	aig_jw_key(w, "functionCallingConfig");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "mode", mode);
	if (o->tool_choice == AIG_TOOL_CHOICE_NAMED && o->tool_choice_name != NULL)
	{
		char	   *names[1] = {o->tool_choice_name};

		aig_jw_kstring_array(w, "allowedFunctionNames", 1, names);
	}
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

void
aig_gemini_chat_body(const AigChatRequest *req, AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "topP", "maxOutputTokens",
	"stopSequences", "seed"};
	char	   *system = aig_join_system(req);
	const AigJson *schema;
	AigRespFormatKind rfkind;
	AigJsonDoc *rfdoc;
	AigJsonWriter w;
	int			mark;

	rfdoc = aig_response_format_parse(req->opts.response_format, &rfkind,
									 &schema);
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	gemini_contents(&w, req);
	if (system != NULL)
	{
		aig_jw_key(&w, "systemInstruction");
		aig_jw_object_begin(&w);
		aig_gemini_text_parts(&w, system);
		aig_jw_object_end(&w);
	}
	gemini_tools(&w, &req->opts);

	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "generationConfig");
	aig_jw_object_begin(&w);
	aig_add_gen_options(&w, &req->opts, &keys);
	if (rfkind == AIG_RF_JSON_OBJECT || rfkind == AIG_RF_JSON_SCHEMA)
	{
		aig_jw_kstring(&w, "responseMimeType", "application/json");
		if (rfkind == AIG_RF_JSON_SCHEMA && schema != NULL &&
			!aig_gemini_no_parameters(schema))
		{
			aig_jw_key(&w, "responseSchema");
			aig_gemini_write_schema(&w, schema);
		}
	}
	aig_jw_object_end_or_drop(&w, mark);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);
	aig_json_free(rfdoc);
}
