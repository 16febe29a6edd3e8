/*
 * presets.c — provider presets: hosted APIs that speak the OpenAI chat
 * completions wire format (openai.c) from their own base URL, with their
 * own capabilities, limits and a few quirks.  One AigDialect per kind:
 *
 *	kind		default base URL						quirks
 *	mistral		https://api.mistral.ai/v1				seed -> random_seed,
 *														tool_choice "required" -> "any",
 *														tool call ids -> [A-Za-z0-9]{9},
 *														422 errors read from detail[]
 *	groq		https://api.groq.com/openai/v1			no messages[].name
 *	deepseek	https://api.deepseek.com				response_format json_schema ->
 *														json_object + the schema in a
 *														system message
 *	xai			https://api.x.ai/v1						-
 *	together	https://api.together.ai/v1				-
 *	fireworks	https://api.fireworks.ai/inference/v1	-
 *	openrouter	https://openrouter.ai/api/v1			- (attribution headers:
 *														options.headers)
 *
 *	chat:		POST {base}/chat/completions   (body: max_tokens, as openai_compatible)
 *	embeddings: POST {base}/embeddings          (the kinds that have them)
 *	auth:		Authorization: Bearer <key>
 *
 * The shared OpenAI body builder writes the body; a quirk is applied
 * afterwards by rewriting the few members it concerns (quirk_rewrite), or
 * before, on a copy of the request (DeepSeek's schema), so openai.c knows
 * nothing of presets.  Sources of every value: README "Provider presets".
 */
#include "postgres.h"

#include <json-c/json.h>

#include "lib/stringinfo.h"
#include "utils/errcodes.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

/* quirk flags */
#define PQ_RANDOM_SEED		0x01	/* "seed" is sent as "random_seed" */
#define PQ_TOOL_CHOICE_ANY	0x02	/* tool_choice "required" is sent as "any" */
#define PQ_NO_MESSAGE_NAME	0x04	/* messages[].name is left out */
#define PQ_JSON_OBJECT_ONLY 0x08	/* json_schema -> json_object + instruction */
#define PQ_TOOL_CALL_ID9	0x10	/* tool call ids as [A-Za-z0-9]{9} */

typedef struct AigPresetQuirks
{
	const AigDialect *dialect;
	unsigned	quirks;
	const char *notes;			/* for ai_gateway.provider_info() */
} AigPresetQuirks;

static const AigPresetQuirks *preset_quirks(const AigDialect *d);

/* ---------------------------------------------------------------------
 * Quirks
 * ---------------------------------------------------------------------
 */

/*
 * Mistral takes tool call ids of exactly 9 letters or digits only (HTTP 400
 * "Tool call id was ... but must be a-z, A-Z, 0-9, with a length of 9"):
 * another id (one from another provider, or the gateway's "call_<n>") is
 * sent as 9 base-62 digits of its FNV-1a hash, the same for the call and
 * its result, so the pair still matches.  Mistral's own ids pass as they are.
 */
static void
write_call_id(AigJsonWriter *w, const AigJson *v)
{
	static const char digits[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t		len;
	char	   *id = aig_jstring(v, &len);
	uint64		h = UINT64CONST(14695981039346656037);
	char		out[10];

	if (id == NULL)
	{
		aig_jw_copy(w, v);
		return;
	}
	if (len == 9 && strspn(id, digits) == 9)
	{
		aig_jw_string(w, id);
		return;
	}
	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) id[i];
		h *= UINT64CONST(1099511628211);
	}
	for (int i = 0; i < 9; i++)
	{
		out[i] = digits[h % 62];
		h /= 62;
	}
	out[9] = '\0';
	aig_jw_string(w, out);
}

/* an assistant message's tool_calls with their ids rewritten */
static void
copy_tool_calls(AigJsonWriter *w, const AigJson *calls)
{
	struct json_object_iter it;

	if (!aig_jis(calls, AIG_JSON_ARRAY))
	{
		aig_jw_copy(w, calls);
		return;
	}
	aig_jw_array_begin(w);
	for (int i = 0; i < aig_jlength(calls); i++)
	{
		const AigJson *c = aig_jelem(calls, i);

		if (!aig_jis(c, AIG_JSON_OBJECT))
		{
			aig_jw_copy(w, c);
			continue;
		}
		aig_jw_object_begin(w);
		json_object_object_foreachC((struct json_object *) c, it)
		{
			aig_jw_key(w, it.key);
			if (strcmp(it.key, "id") == 0)
				write_call_id(w, it.val);
			else
				aig_jw_copy(w, it.val);
		}
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

/* one message object with the message quirks of flags applied */
static void
copy_message(AigJsonWriter *w, const AigJson *m, unsigned quirks)
{
	struct json_object_iter it;

	if (!aig_jis(m, AIG_JSON_OBJECT))
	{
		aig_jw_copy(w, m);
		return;
	}
	aig_jw_object_begin(w);
	json_object_object_foreachC((struct json_object *) m, it)
	{
		if ((quirks & PQ_NO_MESSAGE_NAME) && strcmp(it.key, "name") == 0)
			continue;
		aig_jw_key(w, it.key);
		if ((quirks & PQ_TOOL_CALL_ID9) && strcmp(it.key, "tool_call_id") == 0)
			write_call_id(w, it.val);
		else if ((quirks & PQ_TOOL_CALL_ID9) && strcmp(it.key, "tool_calls") == 0)
			copy_tool_calls(w, it.val);
		else
			aig_jw_copy(w, it.val);
	}
	aig_jw_object_end(w);
}

/*
 * Rewrite the top-level members of out's body that the quirks concern;
 * every other member is copied as it is.
 */
static void
quirk_rewrite(AigHttpRequest *out, unsigned quirks)
{
	char	   *err = NULL;
	AigJsonDoc *doc = aig_json_parse(out->body, out->body_len, &err);
	AigJsonWriter w;
	struct json_object_iter it;

	if (doc == NULL || !aig_jis(doc->root, AIG_JSON_OBJECT))
		elog(ERROR, "preset request body is not a JSON object: %s",
			 err ? err : "not an object");
	aig_jw_init(&w);
	aig_jw_object_begin(&w);
	json_object_object_foreachC((struct json_object *) doc->root, it)
	{
		const char *key = it.key;
		const AigJson *val = it.val;

		if ((quirks & PQ_RANDOM_SEED) && strcmp(key, "seed") == 0)
			aig_jw_key(&w, "random_seed");
		else if ((quirks & PQ_TOOL_CHOICE_ANY) && strcmp(key, "tool_choice") == 0 &&
				 aig_jstring_eq(val, "required"))
		{
			aig_jw_kstring(&w, "tool_choice", "any");
			continue;
		}
		else if ((quirks & (PQ_NO_MESSAGE_NAME | PQ_TOOL_CALL_ID9)) &&
				 strcmp(key, "messages") == 0 && aig_jis(val, AIG_JSON_ARRAY))
		{
			aig_jw_key(&w, "messages");
			aig_jw_array_begin(&w);
			for (int i = 0; i < aig_jlength(val); i++)
				copy_message(&w, aig_jelem(val, i), quirks);
			aig_jw_array_end(&w);
			continue;
		}
		else
			aig_jw_key(&w, key);
		aig_jw_copy(&w, val);
	}
	aig_jw_object_end(&w);
	aig_json_free(doc);
	pfree(out->body);
	aig_jw_body(&w, out);
}

/*
 * DeepSeek's API takes response_format "text" or "json_object" only, and
 * wants the word "json" in the prompt: a json_schema request becomes
 * json_object plus a system message that gives the schema.  The gateway
 * checks the answer against the schema as for any provider.
 */
static const AigChatRequest *
json_object_only(const AigChatRequest *req)
{
	AigRespFormatKind kind;
	const AigJson *schema = NULL;
	AigJsonDoc *rf = aig_response_format_parse(req->opts.response_format,
											   &kind, &schema);
	AigChatRequest *copy;
	AigChatMessage *msgs;
	AigJsonWriter w;

	if (rf == NULL || kind != AIG_RF_JSON_SCHEMA)
	{
		aig_json_free(rf);
		return req;
	}
	aig_jw_init(&w);
	if (schema != NULL)
		aig_jw_copy(&w, schema);
	else
		appendStringInfoString(&w.buf, "{}");
	aig_json_free(rf);

	copy = palloc(sizeof(AigChatRequest));
	*copy = *req;
	copy->opts.response_format = "{\"type\": \"json_object\"}";
	msgs = palloc0(sizeof(AigChatMessage) * (req->nmessages + 1));
	msgs[0].role = "system";
	msgs[0].content = psprintf("Answer with JSON only: one JSON value that conforms to this JSON schema: %s",
							   w.buf.data);
	memcpy(msgs + 1, req->messages, sizeof(AigChatMessage) * req->nmessages);
	copy->messages = msgs;
	copy->nmessages = req->nmessages + 1;
	return copy;
}

/* Does any message carry a "name" or a tool call id (tool calls and results do)? */
static bool
any_message_name(const AigChatRequest *req)
{
	for (int i = 0; i < req->nmessages; i++)
		if (req->messages[i].name != NULL || req->messages[i].ntool_calls > 0 ||
			(req->messages[i].role && strcmp(req->messages[i].role, "tool") == 0))
			return true;
	return false;
}

/* ---------------------------------------------------------------------
 * The shared build functions
 * ---------------------------------------------------------------------
 */

static void
preset_headers(const AigProvider *p, AigHttpRequest *out)
{
	aig_http_add_common_headers(p, out);
	if (p->api_key != NULL)
		aig_add_header_value(out, "Authorization", "Bearer ", p->api_key);
}

static void
preset_build_chat(const AigProvider *p, const AigChatRequest *req,
				  AigHttpRequest *out)
{
	const AigPresetQuirks *q = preset_quirks(p->dialect);
	unsigned	quirks = q ? q->quirks : 0;
	unsigned	apply = 0;

	aig_http_request_init(out);
	out->url = aig_url(p, "/chat/completions");
	preset_headers(p, out);
	if (quirks & PQ_JSON_OBJECT_ONLY)
		req = json_object_only(req);
	aig_openai_chat_body(req, true, "max_tokens", out);

	if ((quirks & PQ_RANDOM_SEED) && req->opts.has_seed)
		apply |= PQ_RANDOM_SEED;
	if ((quirks & PQ_TOOL_CHOICE_ANY) && req->opts.ntools > 0 &&
		req->opts.tool_choice == AIG_TOOL_CHOICE_REQUIRED)
		apply |= PQ_TOOL_CHOICE_ANY;
	if ((quirks & PQ_NO_MESSAGE_NAME) && any_message_name(req))
		apply |= PQ_NO_MESSAGE_NAME;
	if ((quirks & PQ_TOOL_CALL_ID9) && any_message_name(req))
		apply |= PQ_TOOL_CALL_ID9;
	if (apply != 0)
		quirk_rewrite(out, apply);
}

static void
preset_build_embed(const AigProvider *p, const AigEmbedRequest *req,
				   AigHttpRequest *out)
{
	aig_http_request_init(out);
	out->url = aig_url(p, "/embeddings");
	preset_headers(p, out);
	aig_openai_embed_body(req, true, p->dialect->embed_base64, out);
}

/*
 * Mistral's validation errors (HTTP 422) carry the reason in a pydantic
 * list, {"object": "error", "message": {"detail": [{"type", "loc", "msg"}]}}
 * or {"detail": [...]} at the top: "body.seed: Extra inputs are not
 * permitted" is the message then.
 */
static void
mistral_refine_error(const AigJson *root, long http_status,
					 AigUpstreamError *out)
{
	const AigJson *detail = aig_jpath(root, "message", "detail", NULL);
	const AigJson *first;
	const AigJson *loc;
	char	   *msg;
	StringInfoData buf;

	if (!aig_jis(detail, AIG_JSON_ARRAY))
		detail = aig_jget(root, "detail");
	first = aig_jelem(detail, 0);
	msg = aig_jstr(first, "msg");
	if (msg == NULL)
		return;
	initStringInfo(&buf);
	loc = aig_jget(first, "loc");
	for (int i = 0; i < aig_jlength(loc) && i < 8; i++)
	{
		const AigJson *part = aig_jelem(loc, i);
		int64		n;

		if (i > 0)
			appendStringInfoChar(&buf, '.');
		if (aig_jis(part, AIG_JSON_STRING))
			aig_jstring_append(part, &buf);
		else if (aig_jint64(part, &n))
			appendStringInfo(&buf, INT64_FORMAT, n);
	}
	if (buf.len > 0)
		appendStringInfoString(&buf, ": ");
	appendStringInfoString(&buf, msg);
	out->message = aig_body_excerpt(buf.data, buf.len, 1000);
	if (out->type == NULL)
		out->type = aig_jstr(first, "type");
	if (out->type != NULL)
		out->type = aig_body_excerpt(out->type, strlen(out->type), 200);
}

static void
mistral_parse_error(long http_status, const char *body, size_t len,
					AigUpstreamError *out)
{
	aig_parse_error_generic(http_status, body, len, out, mistral_refine_error);
}

/* ---------------------------------------------------------------------
 * The presets
 * ---------------------------------------------------------------------
 */

/* parse functions labelled with the kind (messages name the provider) */
#define PRESET_CHAT_PARSER(id, label) \
static bool \
id##_parse_chat(const char *body, size_t len, AigChatResult *out, char **errmsg) \
{ \
	return aig_openai_parse_chat_as(label, body, len, out, errmsg); \
}
#define PRESET_PARSERS(id, label) \
PRESET_CHAT_PARSER(id, label) \
static bool \
id##_parse_embed(const char *body, size_t len, AigEmbedResult *out, char **errmsg) \
{ \
	return aig_openai_parse_embed_as(label, body, len, out, errmsg); \
}

PRESET_PARSERS(mistral, "mistral")
PRESET_CHAT_PARSER(groq, "groq")
PRESET_CHAT_PARSER(deepseek, "deepseek")
PRESET_CHAT_PARSER(xai, "xai")
PRESET_PARSERS(together, "together")
PRESET_PARSERS(fireworks, "fireworks")
PRESET_PARSERS(openrouter, "openrouter")

#define CAPS_VISION (AIG_CAP_TOOLS | AIG_CAP_IMAGES | AIG_CAP_IMAGE_URLS)

const AigDialect aig_dialect_mistral = {
	.kind = "mistral",
	.default_base_url = "https://api.mistral.ai/v1",
	.max_embed_batch = 128,		/* the gateway's choice: not documented */
	.caps = CAPS_VISION | AIG_CAP_JSON_SCHEMA,
	.build_chat = preset_build_chat,
	.parse_chat = mistral_parse_chat,
	.build_embed = preset_build_embed,
	.parse_embed = mistral_parse_embed,
	.parse_error = mistral_parse_error,
};

const AigDialect aig_dialect_groq = {
	.kind = "groq",
	.default_base_url = "https://api.groq.com/openai/v1",
	.max_embed_batch = 0,		/* no embeddings API */
	.caps = CAPS_VISION,		/* json_schema: not in the documents we read */
	.max_image_kb = 3072,		/* a base64 image request: at most 4 MB */
	.build_chat = preset_build_chat,
	.parse_chat = groq_parse_chat,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_deepseek = {
	.kind = "deepseek",
	.default_base_url = "https://api.deepseek.com",
	.max_embed_batch = 0,		/* no embeddings API */
	.caps = AIG_CAP_TOOLS,		/* no image input; json_object only */
	.build_chat = preset_build_chat,
	.parse_chat = deepseek_parse_chat,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_xai = {
	.kind = "xai",
	.default_base_url = "https://api.x.ai/v1",
	.max_embed_batch = 0,		/* no embeddings API */
	.caps = CAPS_VISION | AIG_CAP_JSON_SCHEMA,
	.build_chat = preset_build_chat,
	.parse_chat = xai_parse_chat,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_together = {
	.kind = "together",
	.default_base_url = "https://api.together.ai/v1",
	.max_embed_batch = 128,		/* the gateway's choice: not documented */
	.caps = CAPS_VISION,		/* json_schema: not in the documents we read */
	.build_chat = preset_build_chat,
	.parse_chat = together_parse_chat,
	.build_embed = preset_build_embed,
	.parse_embed = together_parse_embed,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_fireworks = {
	.kind = "fireworks",
	.default_base_url = "https://api.fireworks.ai/inference/v1",
	.max_embed_batch = 128,		/* the gateway's choice: not documented */
	.caps = CAPS_VISION | AIG_CAP_JSON_SCHEMA,
	.build_chat = preset_build_chat,
	.parse_chat = fireworks_parse_chat,
	.build_embed = preset_build_embed,
	.parse_embed = fireworks_parse_embed,
	.parse_error = aig_openai_parse_error,
};

const AigDialect aig_dialect_openrouter = {
	.kind = "openrouter",
	.default_base_url = "https://openrouter.ai/api/v1",
	.max_embed_batch = 128,		/* the gateway's choice: not documented */
	.caps = CAPS_VISION | AIG_CAP_JSON_SCHEMA,
	.build_chat = preset_build_chat,
	.parse_chat = openrouter_parse_chat,
	.build_embed = preset_build_embed,
	.parse_embed = openrouter_parse_embed,
	.parse_error = aig_openai_parse_error,
};

static const AigPresetQuirks quirk_table[] = {
	{&aig_dialect_mistral, PQ_RANDOM_SEED | PQ_TOOL_CHOICE_ANY | PQ_TOOL_CALL_ID9,
	"seed sent as random_seed; tool_choice \"required\" sent as \"any\"; tool call ids as 9 letters or digits"},
	{&aig_dialect_groq, PQ_NO_MESSAGE_NAME,
	"messages[].name left out"},
	{&aig_dialect_deepseek, PQ_JSON_OBJECT_ONLY,
	"response_format json_schema sent as json_object, the schema in a system message"},
	{&aig_dialect_xai, 0, NULL},
	{&aig_dialect_together, 0, NULL},
	{&aig_dialect_fireworks, 0, NULL},
	{&aig_dialect_openrouter, 0,
	"attribution headers HTTP-Referer / X-Title through options.headers"},
};

static const AigPresetQuirks *
preset_quirks(const AigDialect *d)
{
	for (int i = 0; i < lengthof(quirk_table); i++)
		if (quirk_table[i].dialect == d)
			return &quirk_table[i];
	return NULL;
}

/* What a preset kind changes in the OpenAI format, or NULL (not a preset / nothing). */
const char *
aig_preset_notes(const AigDialect *d)
{
	const AigPresetQuirks *q = preset_quirks(d);

	return q ? q->notes : NULL;
}

/* Is d one of the presets? */
bool
aig_dialect_is_preset(const AigDialect *d)
{
	return preset_quirks(d) != NULL;
}
