/*
 * dialect_util.c — helpers shared by the dialects (see dialect_util.h):
 * finish-reason tables, json-c construction wrappers, the generation-options
 * writer, the response_format reader, success-body readers (text parts,
 * embedding vectors) and the generic error-body reader.
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/errcodes.h"
#include "utils/memutils.h"

#include "jsonc_util.h"
#include "provider.h"
#include "dialect_util.h"

/* ---------------------------------------------------------------------
 * Finish reasons
 * ---------------------------------------------------------------------
 */

const AigFinishMap aig_finish_openai[] = {
	{"stop", "stop"},
	{"length", "length"},
	{"content_filter", "content_filter"},
	{"tool_calls", "tool_calls"},
	{"function_call", "tool_calls"},
	{NULL, NULL}
};

const AigFinishMap aig_finish_anthropic[] = {
	{"end_turn", "stop"},
	{"stop_sequence", "stop"},
	{"max_tokens", "length"},
	{"tool_use", "tool_calls"},
	{"refusal", "content_filter"},
	{NULL, NULL}
};

const AigFinishMap aig_finish_cohere[] = {
	{"COMPLETE", "stop"},
	{"STOP_SEQUENCE", "stop"},
	{"MAX_TOKENS", "length"},
	{"TOOL_CALL", "tool_calls"},
	{NULL, NULL}
};

const AigFinishMap aig_finish_gemini[] = {
	{"STOP", "stop"},
	{"MAX_TOKENS", "length"},
	{"SAFETY", "content_filter"},
	{"RECITATION", "content_filter"},
	{"BLOCKLIST", "content_filter"},
	{"PROHIBITED_CONTENT", "content_filter"},
	{"SPII", "content_filter"},
	{"IMAGE_SAFETY", "content_filter"},
	{NULL, NULL}
};

const AigFinishMap aig_finish_ollama[] = {
	{"stop", "stop"},
	{"length", "length"},
	{NULL, NULL}
};

char *
aig_finish_reason(const AigFinishMap *map, const char *raw)
{
	char	   *low;

	if (raw == NULL)
		return NULL;
	for (const AigFinishMap *m = map; m->raw != NULL; m++)
		if (strcmp(m->raw, raw) == 0)
			return pstrdup(m->norm);
	low = pstrdup(raw);
	for (char *c = low; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = *c - 'A' + 'a';
	return low;
}

/* ---------------------------------------------------------------------
 * JSON construction.  Every new node is attached to its parent before
 * anything else can fail, so putting the root frees the whole tree.
 * ---------------------------------------------------------------------
 */

static void
json_oom(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory while building a provider request")));
}

json_object *
aig_jnew_object(void)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		json_oom();
	return o;
}

/* Takes ownership of val (also on failure). */
void
aig_jset(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		json_oom();
	if (json_object_object_add(obj, key, val) != 0)
	{
		json_object_put(val);
		json_oom();
	}
}

json_object *
aig_jset_object(json_object *obj, const char *key)
{
	json_object *o = json_object_new_object();

	aig_jset(obj, key, o);
	return o;
}

json_object *
aig_jset_array(json_object *obj, const char *key)
{
	json_object *a = json_object_new_array();

	aig_jset(obj, key, a);
	return a;
}

void
aig_jset_str(json_object *obj, const char *key, const char *s)
{
	aig_jset(obj, key, json_object_new_string(s ? s : ""));
}

void
aig_jset_int(json_object *obj, const char *key, int64 v)
{
	aig_jset(obj, key, json_object_new_int64(v));
}

/*
 * json-c prints doubles with %.17g (0.7 -> 0.69999999999999996); send the
 * shortest text that reads back as the same double instead.
 */
void
aig_jset_double(json_object *obj, const char *key, double v)
{
	char		buf[64];

	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a finite number", key)));
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	aig_jset(obj, key, json_object_new_double_s(v, buf));
}

void
aig_jset_bool(json_object *obj, const char *key, bool v)
{
	aig_jset(obj, key, json_object_new_boolean(v ? 1 : 0));
}

void
aig_jset_str_array(json_object *obj, const char *key, int n,
				   char *const *items)
{
	json_object *a = aig_jset_array(obj, key);

	for (int i = 0; i < n; i++)
		aig_jpush_str(a, items[i]);
}

/* Takes ownership of val (also on failure). */
void
aig_jpush(json_object *arr, json_object *val)
{
	if (val == NULL)
		json_oom();
	if (json_object_array_add(arr, val) != 0)
	{
		json_object_put(val);
		json_oom();
	}
}

json_object *
aig_jpush_object(json_object *arr)
{
	json_object *o = json_object_new_object();

	aig_jpush(arr, o);
	return o;
}

void
aig_jpush_str(json_object *arr, const char *s)
{
	aig_jpush(arr, json_object_new_string(s ? s : ""));
}

void
aig_jbody(json_object *root, AigHttpRequest *out)
{
	out->body = aig_json_to_pstring(root, &out->body_len);
}

/* ---------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------
 */

void
aig_add_gen_options(json_object *obj, const AigGenOptions *o,
					const AigGenKeys *keys)
{
	if (keys->temperature && o->has_temperature)
		aig_jset_double(obj, keys->temperature, o->temperature);
	if (keys->top_p && o->has_top_p)
		aig_jset_double(obj, keys->top_p, o->top_p);
	if (keys->max_tokens && o->max_tokens >= 0)
		aig_jset_int(obj, keys->max_tokens, o->max_tokens);
	if (keys->stop && o->nstop > 0 && o->stop != NULL)
		aig_jset_str_array(obj, keys->stop, o->nstop, o->stop);
	if (keys->seed && o->has_seed)
		aig_jset_int(obj, keys->seed, o->seed);
}

json_object *
aig_response_format_parse(const char *text, AigRespFormatKind *kind,
						  json_object **schema)
{
	json_object *rf;
	const char *type;
	json_object *s;

	*kind = AIG_RF_NONE;
	if (schema)
		*schema = NULL;
	if (text == NULL || *text == '\0')
		return NULL;
	rf = json_tokener_parse(text);
	if (rf == NULL)
		return NULL;
	if (!json_object_is_type(rf, json_type_object))
	{
		json_object_put(rf);
		return NULL;
	}
	type = aig_json_str(rf, "type");
	if (type == NULL)
		*kind = AIG_RF_OTHER;
	else if (strcmp(type, "text") == 0)
		*kind = AIG_RF_TEXT;
	else if (strcmp(type, "json_object") == 0)
		*kind = AIG_RF_JSON_OBJECT;
	else if (strcmp(type, "json_schema") == 0)
		*kind = AIG_RF_JSON_SCHEMA;
	else
		*kind = AIG_RF_OTHER;
	s = aig_json_path(rf, "json_schema", "schema", (char *) NULL);
	if (schema && s != NULL && json_object_is_type(s, json_type_object))
		*schema = s;
	return rf;
}

void
aig_jset_messages(json_object *obj, const char *key,
				  const AigChatRequest *req, bool skip_system)
{
	json_object *arr = aig_jset_array(obj, key);

	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];
		json_object *jm;

		if (skip_system && m->role && strcmp(m->role, "system") == 0)
			continue;
		jm = aig_jpush_object(arr);
		aig_jset_str(jm, "role", m->role);
		aig_jset_str(jm, "content", m->content);
	}
}

char *
aig_join_system(const AigChatRequest *req)
{
	StringInfoData buf;
	bool		any = false;

	initStringInfo(&buf);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (m->role == NULL || strcmp(m->role, "system") != 0)
			continue;
		if (any)
			appendStringInfoString(&buf, "\n\n");
		appendStringInfoString(&buf, m->content ? m->content : "");
		any = true;
	}
	if (!any)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/* The strings joined, palloc'd (every request builds these: no psprintf). */
static char *
join_strings(int n, const char *const *parts)
{
	size_t		len = 1;
	char	   *out;
	char	   *p;

	for (int i = 0; i < n; i++)
		len += strlen(parts[i]);
	out = p = palloc(len);
	for (int i = 0; i < n; i++)
	{
		size_t		l = strlen(parts[i]);

		memcpy(p, parts[i], l);
		p += l;
	}
	*p = '\0';
	return out;
}

char *
aig_url(const AigProvider *p, const char *path)
{
	const char *parts[] = {p->base_url ? p->base_url : "", path};

	return join_strings(lengthof(parts), parts);
}

void
aig_add_header_value(AigHttpRequest *out, const char *name,
					 const char *prefix, const char *value)
{
	const char *parts[] = {name, ": ", prefix ? prefix : "", value};

	for (const unsigned char *c = (const unsigned char *) value; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("value for HTTP header \"%s\" contains a control character",
							name)));
	aig_http_add_header_line(out, join_strings(lengthof(parts), parts));
}

/* ---------------------------------------------------------------------
 * Reading success bodies
 * ---------------------------------------------------------------------
 */

bool
aig_parse_body(const char *body, size_t len, AigJsonReader fn,
			   const char *label, void *out, char **errmsg)
{
	json_object *root;
	volatile bool ok = false;

	*errmsg = NULL;
	root = aig_json_parse(body, len, errmsg);
	if (root == NULL)
	{
		if (label != NULL && *errmsg != NULL)
			*errmsg = psprintf("%s response: %s", label, *errmsg);
		return false;
	}
	PG_TRY();
	{
		ok = fn(root, label, out, errmsg);
	}
	PG_FINALLY();
	{
		json_object_put(root);
	}
	PG_END_TRY();
	if (!ok && *errmsg == NULL)
		*errmsg = psprintf("%s response could not be read",
						   label ? label : "provider");
	return ok;
}

json_object *
aig_jget(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
		!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

bool
aig_jis(json_object *obj, json_type type)
{
	return obj != NULL && json_object_is_type(obj, type);
}

char *
aig_jdup_str(json_object *obj, const char *key)
{
	const char *s = aig_json_str(obj, key);

	return s ? pstrdup(s) : NULL;
}

int
aig_join_text_parts(json_object *parts, bool type_text, bool skip_thought,
					StringInfo buf, const char *label, char **errmsg)
{
	size_t		n;
	int			found = 0;

	if (!aig_jis(parts, json_type_array))
	{
		*errmsg = psprintf("%s is not an array", label);
		return -1;
	}
	n = json_object_array_length(parts);
	for (size_t i = 0; i < n; i++)
	{
		json_object *part = json_object_array_get_idx(parts, i);
		json_object *text;
		json_object *thought;

		if (!aig_jis(part, json_type_object))
		{
			*errmsg = psprintf("%s[%zu] is not an object", label, i);
			return -1;
		}
		if (type_text)
		{
			const char *type = aig_json_str(part, "type");

			if (type == NULL || strcmp(type, "text") != 0)
				continue;
		}
		if (skip_thought)
		{
			thought = aig_jget(part, "thought");
			if (aig_jis(thought, json_type_boolean) &&
				json_object_get_boolean(thought))
				continue;
		}
		text = aig_jget(part, "text");
		if (text == NULL && !type_text)
			continue;			/* e.g. a gemini functionCall part */
		if (!aig_jis(text, json_type_string))
		{
			*errmsg = psprintf("%s[%zu].text is not a string", label, i);
			return -1;
		}
		appendBinaryStringInfo(buf, json_object_get_string(text),
							   json_object_get_string_len(text));
		found++;
	}
	return found;
}

bool
aig_read_vector(json_object *arr, float4 **vec, int *ndims,
				const char *label, int index, char **errmsg)
{
	size_t		n;
	float4	   *v;

	if (!aig_jis(arr, json_type_array))
	{
		*errmsg = psprintf("%s: embedding %d is not an array", label, index);
		return false;
	}
	n = json_object_array_length(arr);
	if (n == 0)
	{
		*errmsg = psprintf("%s: embedding %d is empty", label, index);
		return false;
	}
	if (n > MaxAllocSize / sizeof(float4) || n > INT_MAX)
	{
		*errmsg = psprintf("%s: embedding %d is too large", label, index);
		return false;
	}
	v = palloc(n * sizeof(float4));
	for (size_t i = 0; i < n; i++)
	{
		json_object *e = json_object_array_get_idx(arr, i);
		double		d;

		if (!aig_jis(e, json_type_double) && !aig_jis(e, json_type_int))
		{
			*errmsg = psprintf("%s: embedding %d holds a non-number at position %zu",
							   label, index, i);
			pfree(v);
			return false;
		}
		d = json_object_get_double(e);
		if (isnan(d) || isinf(d) || fabs(d) > FLT_MAX)
		{
			*errmsg = psprintf("%s: embedding %d holds an out-of-range value at position %zu",
							   label, index, i);
			pfree(v);
			return false;
		}
		v[i] = (float4) d;
	}
	*vec = v;
	*ndims = (int) n;
	return true;
}

void
aig_embed_result_init(AigEmbedResult *out, int count)
{
	out->count = count;
	out->ndims = palloc0(sizeof(int) * Max(count, 1));
	out->vectors = palloc0(sizeof(float4 *) * Max(count, 1));
	out->input_tokens = -1;
}

bool
aig_read_vector_list(json_object *arr, AigEmbedResult *out,
					 const char *label, char **errmsg)
{
	size_t		n;

	if (!aig_jis(arr, json_type_array))
	{
		*errmsg = psprintf("%s: embeddings is not an array", label);
		return false;
	}
	n = json_object_array_length(arr);
	if (n > INT_MAX / sizeof(float4 *))
	{
		*errmsg = psprintf("%s: too many embeddings", label);
		return false;
	}
	aig_embed_result_init(out, (int) n);
	for (size_t i = 0; i < n; i++)
		if (!aig_read_vector(json_object_array_get_idx(arr, i),
							 &out->vectors[i], &out->ndims[i],
							 label, (int) i, errmsg))
			return false;
	return true;
}

void
aig_chat_result_init(AigChatResult *out)
{
	memset(out, 0, sizeof(*out));
	out->input_tokens = -1;
	out->output_tokens = -1;
}

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */

/*
 * At most max bytes of s: cut on a UTF-8 character boundary, invalid bytes
 * as '?', control characters as spaces, runs of white space collapsed and
 * the ends trimmed.  When something was cut the result ends in "..."
 * (still within max bytes).
 */
char *
aig_body_excerpt(const char *body, size_t len, size_t max)
{
	StringInfoData buf;
	size_t		i = 0;
	bool		space = true;	/* trims leading white space */

	initStringInfo(&buf);
	while (i < len)
	{
		unsigned char c = (unsigned char) body[i];

		if (c < 0x80)
		{
			if (buf.len + 1 > max)
				break;
			if (c < 0x20 || c == 0x7f || c == ' ')
			{
				if (!space)
					appendStringInfoChar(&buf, ' ');
				space = true;
			}
			else
			{
				appendStringInfoChar(&buf, (char) c);
				space = false;
			}
			i++;
		}
		else
		{
			int			l = pg_utf_mblen((const unsigned char *) &body[i]);

			if (l < 2 || i + l > len ||
				!pg_utf8_islegal((const unsigned char *) &body[i], l))
			{
				if (buf.len + 1 > max)
					break;
				appendStringInfoChar(&buf, '?');
				i++;
			}
			else
			{
				if (buf.len + l > max)
					break;
				appendBinaryStringInfo(&buf, &body[i], l);
				i += l;
			}
			space = false;
		}
	}
	if (i < len && max >= 3)
	{
		/* make room for "...", stepping back over whole characters */
		while (buf.len > 0 && buf.len > (int) (max - 3))
		{
			buf.len--;
			while (buf.len > 0 &&
				   ((unsigned char) buf.data[buf.len] & 0xC0) == 0x80)
				buf.len--;
		}
		buf.data[buf.len] = '\0';
	}
	while (buf.len > 0 && buf.data[buf.len - 1] == ' ')
		buf.data[--buf.len] = '\0';
	if (i < len && max >= 3)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

/* A non-empty string member, or NULL. */
static const char *
nonempty_str(json_object *obj, const char *key)
{
	const char *s = aig_json_str(obj, key);

	return (s != NULL && *s != '\0') ? s : NULL;
}

#define AIG_ERROR_MESSAGE_MAX 2000

static void
extract_error_fields(json_object *root, AigUpstreamError *out)
{
	json_object *o = root;
	json_object *e;
	json_object *d;
	const char *msg = NULL;
	const char *type = NULL;

	/* some APIs (older gemini) wrap the envelope in a one-element array */
	if (aig_jis(o, json_type_array) && json_object_array_length(o) > 0)
		o = json_object_array_get_idx(o, 0);
	if (!aig_jis(o, json_type_object))
		return;

	e = aig_jget(o, "error");
	if (aig_jis(e, json_type_object))
	{
		msg = nonempty_str(e, "message");
		type = nonempty_str(e, "code");
		if (type == NULL)
			type = nonempty_str(e, "status");
		if (type == NULL)
			type = nonempty_str(e, "type");
	}
	else if (aig_jis(e, json_type_string) &&
			 json_object_get_string_len(e) > 0)
		msg = json_object_get_string(e);

	if (msg == NULL)
		msg = nonempty_str(o, "message");
	if (msg == NULL)
	{
		d = aig_jget(o, "detail");
		if (aig_jis(d, json_type_string) && json_object_get_string_len(d) > 0)
			msg = json_object_get_string(d);
		else if (aig_jis(d, json_type_array) && json_object_array_length(d) > 0)
			msg = nonempty_str(json_object_array_get_idx(d, 0), "msg");
	}
	if (type == NULL)
		type = nonempty_str(o, "code");
	if (type == NULL)
	{
		type = nonempty_str(o, "type");
		if (type != NULL && strcmp(type, "error") == 0)
			type = NULL;
	}

	if (msg != NULL)
		out->message = aig_body_excerpt(msg, strlen(msg), AIG_ERROR_MESSAGE_MAX);
	if (type != NULL)
		out->type = aig_body_excerpt(type, strlen(type), 200);
}

typedef struct ErrorReadArg
{
	long		http_status;
	AigUpstreamError *out;
	AigErrorRefine refine;
} ErrorReadArg;

static bool
error_reader(json_object *root, const char *label, void *arg, char **errmsg)
{
	ErrorReadArg *a = (ErrorReadArg *) arg;

	extract_error_fields(root, a->out);
	if (a->refine != NULL)
		a->refine(root, a->http_status, a->out);
	return true;
}

void
aig_parse_error_generic(long http_status, const char *body, size_t len,
						AigUpstreamError *out, AigErrorRefine refine)
{
	ErrorReadArg arg;
	char	   *perr = NULL;

	aig_upstream_error_from_status(http_status, out);
	arg.http_status = http_status;
	arg.out = out;
	arg.refine = refine;
	if (body != NULL && len > 0)
		(void) aig_parse_body(body, len, error_reader, NULL, &arg, &perr);

	if (out->message == NULL)
	{
		char	   *excerpt = (body != NULL && len > 0) ?
			aig_body_excerpt(body, len, 200) : NULL;

		if (excerpt != NULL && *excerpt != '\0')
			out->message = psprintf("HTTP %ld from provider: %s",
									http_status, excerpt);
		else
			out->message = psprintf("HTTP %ld from provider (empty body)",
									http_status);
	}
}
