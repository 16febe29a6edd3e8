/*
 * bedrock.c — the AWS Bedrock dialect (aig_dialect_bedrock): the Converse
 * chat API; embeddings and errors are in bedrock_embed.c, credentials and
 * signing in bedrock_auth.c.
 *
 *	chat:		POST {base}/model/{modelId}/converse
 *	embeddings: POST {base}/model/{modelId}/invoke (bedrock_embed.c)
 *	auth:		SigV4 (service "bedrock") with the AWS credentials of the
 *				api_key document, or Bearer with a Bedrock API key
 *	base URL:	https://bedrock-runtime.{options.region}.amazonaws.com
 *
 * Request: system messages go to "system" [{text}]; consecutive messages of
 * one role are merged into one message (Converse wants the roles to
 * alternate), tool results travel as toolResult blocks of a user message;
 * images and PDFs as bytes (base64 in JSON); generation options under
 * inferenceConfig; tools under toolConfig.  Converse has no response
 * format: a JSON answer is asked for as the input of a forced tool,
 * "aig_structured_output" (or "aig_structured_value" wrapping a schema that
 * is not an object in {"value": ...}), whose input becomes the content.
 * Converse has no tool_choice "none": with tool calls in the history the
 * tools are sent (toolConfig is then mandatory) and the model may call one.
 * seed has no equivalent and is not sent.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/bedrock.h"
#include "providers/dialect_util.h"

#define BEDROCK_STRUCT_TOOL		"aig_structured_output"
#define BEDROCK_VALUE_TOOL		"aig_structured_value"
#define BEDROCK_MAX_IMAGE_KB	3840	/* Converse: 3.75 MB per image */

static const AigFinishMap bedrock_finish[] = {
	{"end_turn", "stop"},
	{"stop_sequence", "stop"},
	{"max_tokens", "length"},
	{"tool_use", "tool_calls"},
	{"guardrail_intervened", "content_filter"},
	{"content_filtered", "content_filter"},
	{"model_context_window_exceeded", "length"},
	{NULL, NULL}
};

/* Converse's name for a media type ("image/png" -> "png"), or NULL. */
static const char *
bedrock_format(const char *media_type)
{
	static const char *const map[][2] = {
		{"image/png", "png"}, {"image/jpeg", "jpeg"}, {"image/jpg", "jpeg"},
		{"image/gif", "gif"}, {"image/webp", "webp"}, {"application/pdf", "pdf"},
	};

	if (media_type == NULL)
		return NULL;
	for (int i = 0; i < lengthof(map); i++)
		if (pg_strcasecmp(media_type, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* One image or document block of a user message. */
static void
write_binary_part(AigJsonWriter *w, const AigContentPart *part, int *ndocs)
{
	const char *fmt = bedrock_format(part->media_type);

	if (part->data_b64 == NULL || fmt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bedrock takes images and documents as bytes of type image/png, image/jpeg, image/gif, image/webp or application/pdf"),
				 errhint("Give the image's bytes (ai_image(data)) instead of a URL.")));
	aig_jw_object_begin(w);
	if (part->kind == AIG_PART_DOCUMENT)
	{
		char		name[32];

		/* a name is mandatory; Converse allows letters, digits, hyphens */
		snprintf(name, sizeof(name), "document-%d", ++(*ndocs));
		aig_jw_key(w, "document");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "format", fmt);
		aig_jw_kstring(w, "name", name);
	}
	else
	{
		aig_jw_key(w, "image");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "format", fmt);
	}
	aig_jw_key(w, "source");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "bytes", part->data_b64);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

static void
write_text_block(AigJsonWriter *w, const char *text)
{
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "text", text);
	aig_jw_object_end(w);
}

/* The content blocks of one gateway message (appended to an open array). */
static void
write_blocks(AigJsonWriter *w, const AigChatMessage *m, int *ndocs)
{
	if (strcmp(m->role, "tool") == 0)
	{
		AigJsonDoc *doc = NULL;
		char	   *err;
		const char *content = m->content ? m->content : "";

		aig_jw_object_begin(w);
		aig_jw_key(w, "toolResult");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "toolUseId", m->tool_call_id ? m->tool_call_id : "");
		aig_jw_key(w, "content");
		aig_jw_array_begin(w);
		aig_jw_object_begin(w);
		/* a JSON object result as {"json": ...}, anything else as text */
		if (content[0] == '{')
			doc = aig_json_parse(content, strlen(content), &err);
		if (doc != NULL && aig_jis(doc->root, AIG_JSON_OBJECT))
		{
			aig_jw_key(w, "json");
			aig_jw_copy(w, doc->root);
		}
		else
			aig_jw_kstring(w, "text", content);
		aig_json_free(doc);
		aig_jw_object_end(w);
		aig_jw_array_end(w);
		aig_jw_kstring(w, "status", "success");
		aig_jw_object_end(w);
		aig_jw_object_end(w);
		return;
	}
	if (m->nparts > 0 && m->parts != NULL)
	{
		for (int i = 0; i < m->nparts; i++)
		{
			const AigContentPart *part = &m->parts[i];

			if (part->kind == AIG_PART_TEXT)
			{
				if (part->text != NULL && part->text[0] != '\0')
					write_text_block(w, part->text);
			}
			else
				write_binary_part(w, part, ndocs);
		}
	}
	else if ((m->content != NULL && m->content[0] != '\0') || m->ntool_calls == 0)
		write_text_block(w, m->content ? m->content : "");
	for (int i = 0; i < m->ntool_calls; i++)
	{
		const AigToolCall *c = &m->tool_calls[i];

		aig_jw_object_begin(w);
		aig_jw_key(w, "toolUse");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "toolUseId", c->id);
		aig_jw_kstring(w, "name", c->name);
		aig_jw_key(w, "input");
		aig_jw_raw(w, c->arguments && c->arguments[0] ? c->arguments : "{}");
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
}

/* "messages": consecutive messages of one Converse role merged. */
static void
write_messages(AigJsonWriter *w, const AigChatRequest *req, bool *tool_blocks)
{
	const char *open_role = NULL;
	int			ndocs = 0;

	*tool_blocks = false;
	aig_jw_key(w, "messages");
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		const char *role;

		if (strcmp(m->role, "system") == 0)
			continue;
		role = strcmp(m->role, "assistant") == 0 ? "assistant" : "user";
		if (strcmp(m->role, "tool") == 0 || m->ntool_calls > 0)
			*tool_blocks = true;
		if (open_role == NULL || strcmp(open_role, role) != 0)
		{
			if (open_role != NULL)
			{
				aig_jw_array_end(w);
				aig_jw_object_end(w);
			}
			aig_jw_object_begin(w);
			aig_jw_kstring(w, "role", role);
			aig_jw_key(w, "content");
			aig_jw_array_begin(w);
			open_role = role;
		}
		write_blocks(w, m, &ndocs);
	}
	if (open_role != NULL)
	{
		aig_jw_array_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

static void
write_tool_spec(AigJsonWriter *w, const char *name, const char *description,
				const char *schema_json, const AigJson *schema)
{
	aig_jw_object_begin(w);
	aig_jw_key(w, "toolSpec");
	aig_jw_object_begin(w);
	aig_jw_kstring(w, "name", name);
	if (description != NULL)
		aig_jw_kstring(w, "description", description);
	aig_jw_key(w, "inputSchema");
	aig_jw_object_begin(w);
	aig_jw_key(w, "json");
	if (schema != NULL)
		aig_jw_copy(w, schema);
	else
		aig_jw_raw(w, schema_json);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
	aig_jw_object_end(w);
}

/* Is schema an object schema (so that it can be a tool's input schema)? */
static bool
object_schema(const AigJson *schema)
{
	const AigJson *type = aig_jget(schema, "type");

	if (type == NULL)
		return aig_jget(schema, "properties") != NULL;
	return aig_jstring_eq(type, "object");
}

/* "toolConfig": the caller's tools and the structured-output tool. */
static void
write_tool_config(AigJsonWriter *w, const AigChatRequest *req, bool tool_blocks)
{
	const AigGenOptions *o = &req->opts;
	AigRespFormatKind rf = AIG_RF_NONE;
	const AigJson *schema = NULL;
	AigJsonDoc *rfdoc = aig_response_format_parse(o->response_format, &rf, &schema);
	bool		structured = rf == AIG_RF_JSON_SCHEMA || rf == AIG_RF_JSON_OBJECT;
	bool		user_tools = o->ntools > 0 &&
		(o->tool_choice != AIG_TOOL_CHOICE_NONE || tool_blocks);
	const char *struct_tool = NULL;

	if (!user_tools && !structured)
	{
		aig_json_free(rfdoc);
		return;
	}
	aig_jw_key(w, "toolConfig");
	aig_jw_object_begin(w);
	aig_jw_key(w, "tools");
	aig_jw_array_begin(w);
	if (user_tools)
		for (int i = 0; i < o->ntools; i++)
			write_tool_spec(w, o->tools[i].name, o->tools[i].description,
							o->tools[i].parameters && o->tools[i].parameters[0] ?
							o->tools[i].parameters : "{\"type\": \"object\"}", NULL);
	if (structured)
	{
		const char *desc = "Give your whole answer as this tool's input.";

		if (schema == NULL)
		{
			struct_tool = BEDROCK_STRUCT_TOOL;
			write_tool_spec(w, struct_tool, desc, "{\"type\": \"object\"}", NULL);
		}
		else if (object_schema(schema))
		{
			struct_tool = BEDROCK_STRUCT_TOOL;
			write_tool_spec(w, struct_tool, desc, NULL, schema);
		}
		else
		{
			/* a tool's input is an object: wrap the value in {"value": ...} */
			AigJsonWriter s;

			aig_jw_init(&s);
			aig_jw_object_begin(&s);
			aig_jw_kstring(&s, "type", "object");
			aig_jw_key(&s, "properties");
			aig_jw_object_begin(&s);
			aig_jw_key(&s, "value");
			aig_jw_copy(&s, schema);
			aig_jw_object_end(&s);
			aig_jw_key(&s, "required");
			aig_jw_array_begin(&s);
			aig_jw_string(&s, "value");
			aig_jw_array_end(&s);
			aig_jw_object_end(&s);
			struct_tool = BEDROCK_VALUE_TOOL;
			write_tool_spec(w, struct_tool, desc, s.buf.data, NULL);
		}
	}
	aig_jw_array_end(w);

	if (user_tools && o->tool_choice == AIG_TOOL_CHOICE_NONE)
		;						/* no "none" in Converse: the default (auto) */
	else if (user_tools && o->tool_choice == AIG_TOOL_CHOICE_NAMED && o->tool_choice_name)
	{
		aig_jw_key(w, "toolChoice");
		aig_jw_object_begin(w);
		aig_jw_key(w, "tool");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", o->tool_choice_name);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	else if (user_tools)
	{
		aig_jw_key(w, "toolChoice");
		aig_jw_object_begin(w);
		aig_jw_key(w, o->tool_choice == AIG_TOOL_CHOICE_REQUIRED ? "any" : "auto");
		aig_jw_object_begin(w);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	else
	{
		/* structured output alone: force its tool */
		aig_jw_key(w, "toolChoice");
		aig_jw_object_begin(w);
		aig_jw_key(w, "tool");
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "name", struct_tool);
		aig_jw_object_end(w);
		aig_jw_object_end(w);
	}
	aig_jw_object_end(w);
	aig_json_free(rfdoc);
}

static void
bedrock_build_chat(const AigProvider *p, const AigChatRequest *req,
				   AigHttpRequest *out)
{
	AigGenKeys	keys = {"temperature", "topP", "maxTokens", "stopSequences", NULL};
	AigGenOptions gen = req->opts;
	AigJsonWriter w;
	bool		tool_blocks;
	int			mark;
	bool		any_system = false;

	aig_http_request_init(out);
	out->url = aig_url(p, psprintf("/model/%s/converse", aig_url_escape(req->model)));
	aig_http_add_common_headers(p, out);

	if (gen.max_tokens < 0 && p->default_max_tokens > 0)
		gen.max_tokens = p->default_max_tokens;

	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	write_messages(&w, req, &tool_blocks);
	for (int i = 0; i < req->nmessages; i++)
		if (strcmp(req->messages[i].role, "system") == 0 &&
			req->messages[i].content != NULL && req->messages[i].content[0] != '\0')
		{
			if (!any_system)
			{
				aig_jw_key(&w, "system");
				aig_jw_array_begin(&w);
				any_system = true;
			}
			write_text_block(&w, req->messages[i].content);
		}
	if (any_system)
		aig_jw_array_end(&w);
	mark = aig_jw_mark(&w);
	aig_jw_key(&w, "inferenceConfig");
	aig_jw_object_begin(&w);
	aig_add_gen_options(&w, &gen, &keys);
	aig_jw_object_end_or_drop(&w, mark);
	write_tool_config(&w, req, tool_blocks);
	aig_jw_object_end(&w);
	aig_jw_body(&w, out);

	aig_bedrock_authorize(p, out);
}

/* JSON text of a parsed value (palloc'd). */
static char *
json_text(const AigJson *v)
{
	AigJsonWriter w;

	aig_jw_init(&w);
	aig_jw_copy(&w, v);
	return w.buf.data;
}

/* Read one toolUse block into call; false with *errmsg when malformed. */
static bool
read_tool_use(const AigJson *tu, AigToolCall *call, int index, char **errmsg)
{
	const AigJson *input = aig_jget(tu, "input");

	call->id = aig_jstr(tu, "toolUseId");
	call->name = aig_jstr(tu, "name");
	if (call->name == NULL || call->name[0] == '\0')
	{
		*errmsg = psprintf("bedrock response: content[%d].toolUse has no name", index);
		return false;
	}
	if (call->id == NULL)
		call->id = psprintf("call_%d", index + 1);
	if (input == NULL || aig_jis(input, AIG_JSON_NULL))
		call->arguments = pstrdup("{}");
	else if (!aig_jis(input, AIG_JSON_OBJECT))
	{
		*errmsg = psprintf("bedrock response: content[%d].toolUse.input is not an object", index);
		return false;
	}
	else
		call->arguments = json_text(input);
	return true;
}

static bool
bedrock_read_chat(const AigJson *root, const char *label, void *arg,
				  char **errmsg)
{
	AigChatResult *out = (AigChatResult *) arg;
	const AigJson *content;
	const AigJson *usage;
	StringInfoData buf;
	int			ntext = 0;
	int			n;
	char	   *stop;
	char	   *structured = NULL;

	if (!aig_jis(root, AIG_JSON_OBJECT))
	{
		*errmsg = pstrdup("bedrock response is not a JSON object");
		return false;
	}
	stop = aig_jstr(root, "stopReason");
	usage = aig_jget(root, "usage");
	out->input_tokens = aig_jtokens(usage, "inputTokens");
	out->output_tokens = aig_jtokens(usage, "outputTokens");
	content = aig_jpath(root, "output", "message", "content", NULL);

	/* a guardrail or content filter: a refusal, whatever text came with it */
	if (stop != NULL && (strcmp(stop, "guardrail_intervened") == 0 ||
						 strcmp(stop, "content_filtered") == 0))
	{
		StringInfoData r;

		initStringInfo(&r);
		if (aig_jis(content, AIG_JSON_ARRAY))
			for (int i = 0; i < aig_jlength(content); i++)
				(void) aig_jstring_append(aig_jget(aig_jelem(content, i), "text"), &r);
		return aig_chat_no_answer(out, AIG_ANSWER_REFUSED, bedrock_finish, stop,
								  r.len > 0 ? r.data : NULL);
	}
	if (!aig_jis(content, AIG_JSON_ARRAY))
	{
		char	   *msg = aig_jstr(root, "message");

		*errmsg = msg ?
			psprintf("bedrock response has no output.message.content: %s",
					 aig_body_excerpt(msg, strlen(msg), 500)) :
			pstrdup("bedrock response has no output.message.content");
		return false;
	}
	n = aig_jlength(content);
	initStringInfo(&buf);
	out->tool_calls = palloc0(sizeof(AigToolCall) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		const AigJson *block = aig_jelem(content, i);
		const AigJson *text = aig_jget(block, "text");
		const AigJson *tu = aig_jget(block, "toolUse");

		if (!aig_jis(block, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("bedrock response: content[%d] is not an object", i);
			return false;
		}
		if (text != NULL)
		{
			if (!aig_jstring_append(text, &buf))
			{
				*errmsg = psprintf("bedrock response: content[%d].text is not a string", i);
				return false;
			}
			ntext++;
		}
		else if (tu != NULL)
		{
			AigToolCall call;

			if (!aig_jis(tu, AIG_JSON_OBJECT))
			{
				*errmsg = psprintf("bedrock response: content[%d].toolUse is not an object", i);
				return false;
			}
			if (!read_tool_use(tu, &call, i, errmsg))
				return false;
			if (strcmp(call.name, BEDROCK_STRUCT_TOOL) == 0 && structured == NULL)
				structured = call.arguments;
			else if (strcmp(call.name, BEDROCK_VALUE_TOOL) == 0 && structured == NULL)
			{
				AigJsonDoc *doc = aig_json_parse(call.arguments, strlen(call.arguments), errmsg);
				const AigJson *v = doc ? aig_jget(doc->root, "value") : NULL;

				if (v == NULL)
				{
					aig_json_free(doc);
					*errmsg = pstrdup("bedrock response: the structured answer has no \"value\"");
					return false;
				}
				structured = json_text(v);
				aig_json_free(doc);
			}
			else
				out->tool_calls[out->ntool_calls++] = call;
		}
		/* reasoningContent and other blocks carry no answer text */
	}

	if (out->ntool_calls > 0)
	{
		out->content = buf.data;
		out->finish_reason = pstrdup("tool_calls");
	}
	else if (structured != NULL)
	{
		/* the forced tool's input is the answer */
		out->content = structured;
		out->finish_reason = pstrdup("stop");
	}
	else if (ntext == 0 && stop != NULL && strcmp(stop, "max_tokens") == 0)
		aig_chat_no_answer(out, AIG_ANSWER_NO_TEXT_LIMIT, bedrock_finish, stop, NULL);
	else if (ntext == 0)
	{
		*errmsg = pstrdup("bedrock response has no text content");
		return false;
	}
	else
	{
		out->content = buf.data;
		out->finish_reason = aig_finish_reason(bedrock_finish, stop);
	}
	if (out->ntool_calls == 0)
		out->tool_calls = NULL;
	return true;
}

static bool
bedrock_parse_chat(const char *body, size_t len, AigChatResult *out,
				   char **errmsg)
{
	aig_chat_result_init(out);
	return aig_parse_body(body, len, bedrock_read_chat, "bedrock", out, errmsg);
}

/* Cohere's input types, for cohere.embed-* models (titan has none) */
static const AigInputType bedrock_input_types[] = {
	{"query", "search_query"},
	{"document", "search_document"},
	{"classification", "classification"},
	{"clustering", "clustering"},
	{"search_query", "search_query"},
	{"search_document", "search_document"},
	{NULL, NULL},
};

/* Converse's inferenceConfig: temperature and topP 0-1 */
static const AigOptionLimits bedrock_limits = {
	.temperature_max = 1,
	.top_p_min = 0,
	.top_p_max = 1,
	.input_types = bedrock_input_types,
};

const AigDialect aig_dialect_bedrock = {
	.kind = "bedrock",
	.default_base_url = "https://bedrock-runtime.us-east-1.amazonaws.com",
	.max_embed_batch = 1,
	.limits = &bedrock_limits,
	.caps = AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_DOCUMENTS,
	.max_image_kb = BEDROCK_MAX_IMAGE_KB,
	.build_chat = bedrock_build_chat,
	.parse_chat = bedrock_parse_chat,
	.build_embed = aig_bedrock_build_embed,
	.parse_embed = aig_bedrock_parse_embed,
	.parse_error = aig_bedrock_parse_error,
};
