/*
 * dialect_util.c — helpers shared by the dialects (see dialect_util.h):
 * finish-reason tables, the request-body helpers (messages, generation
 * options, response_format), success-body readers (text parts, embedding
 * vectors) and the generic error-body reader.
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/errcodes.h"
#include "utils/memutils.h"

#include "providers/provider.h"
#include "providers/dialect_util.h"

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
	{"ERROR_TOXIC", "content_filter"},
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
 * Requests
 * ---------------------------------------------------------------------
 */

void
aig_add_gen_options(AigJsonWriter *w, const AigGenOptions *o,
					const AigGenKeys *keys)
{
	if (keys->temperature && o->has_temperature)
	{
		aig_jw_key(w, keys->temperature);
		aig_jw_double(w, o->temperature, keys->temperature);
	}
	if (keys->top_p && o->has_top_p)
	{
		aig_jw_key(w, keys->top_p);
		aig_jw_double(w, o->top_p, keys->top_p);
	}
	if (keys->max_tokens && o->max_tokens >= 0)
		aig_jw_kint(w, keys->max_tokens, o->max_tokens);
	if (keys->stop && o->nstop > 0 && o->stop != NULL)
		aig_jw_kstring_array(w, keys->stop, o->nstop, o->stop);
	if (keys->seed && o->has_seed)
		aig_jw_kint(w, keys->seed, o->seed);
}

AigJsonDoc *
aig_response_format_parse(const char *text, AigRespFormatKind *kind,
						  const AigJson **schema)
{
	AigJsonDoc *doc;
	const AigJson *rf;
	const AigJson *type;
	const AigJson *s;
	char	   *err;

	*kind = AIG_RF_NONE;
	if (schema)
		*schema = NULL;
	if (text == NULL || *text == '\0')
		return NULL;
	doc = aig_json_parse(text, strlen(text), &err);
	if (doc == NULL)
		return NULL;
	rf = doc->root;
	if (!aig_jis(rf, AIG_JSON_OBJECT))
	{
		aig_json_free(doc);
		return NULL;
	}
	type = aig_jget(rf, "type");
	if (!aig_jis(type, AIG_JSON_STRING))
		*kind = AIG_RF_OTHER;
	else if (aig_jstring_eq(type, "text"))
		*kind = AIG_RF_TEXT;
	else if (aig_jstring_eq(type, "json_object"))
		*kind = AIG_RF_JSON_OBJECT;
	else if (aig_jstring_eq(type, "json_schema"))
		*kind = AIG_RF_JSON_SCHEMA;
	else
		*kind = AIG_RF_OTHER;
	s = aig_jpath(rf, "json_schema", "schema", (char *) NULL);
	if (schema && aig_jis(s, AIG_JSON_OBJECT))
		*schema = s;
	return doc;
}

void
aig_jw_messages(AigJsonWriter *w, const char *key,
				const AigChatRequest *req, bool skip_system)
{
	aig_jw_key(w, key);
	aig_jw_array_begin(w);
	for (int i = 0; i < req->nmessages; i++)
	{
		const AigChatMessage *m = &req->messages[i];

		if (skip_system && m->role && strcmp(m->role, "system") == 0)
			continue;
		aig_jw_object_begin(w);
		aig_jw_kstring(w, "role", m->role);
		aig_jw_kstring(w, "content", m->content);
		aig_jw_object_end(w);
	}
	aig_jw_array_end(w);
}

void
aig_jw_body(AigJsonWriter *w, AigHttpRequest *out)
{
	out->body = w->buf.data;
	out->body_len = w->buf.len;
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
	AigJsonDoc *doc;
	bool		ok;

	*errmsg = NULL;
	doc = aig_json_parse(body, len, errmsg);
	if (doc == NULL)
	{
		if (label != NULL && *errmsg != NULL)
			*errmsg = psprintf("%s response: %s", label, *errmsg);
		return false;
	}
	ok = fn(doc->root, label, out, errmsg);
	aig_json_free(doc);
	if (!ok && *errmsg == NULL)
		*errmsg = psprintf("%s response could not be read",
						   label ? label : "provider");
	return ok;
}

int
aig_join_text_parts(const AigJson *parts, bool type_text, bool skip_thought,
					StringInfo buf, const char *label, char **errmsg)
{
	int			found = 0;

	if (!aig_jis(parts, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s is not an array", label);
		return -1;
	}
	for (int i = 0; i < aig_jlength(parts); i++)
	{
		const AigJson *part = aig_jelem(parts, i);
		const AigJson *text;

		if (!aig_jis(part, AIG_JSON_OBJECT))
		{
			*errmsg = psprintf("%s[%d] is not an object", label, i);
			return -1;
		}
		if (type_text && !aig_jstring_eq(aig_jget(part, "type"), "text"))
			continue;
		if (skip_thought && aig_jis(aig_jget(part, "thought"), AIG_JSON_TRUE))
			continue;
		text = aig_jget(part, "text");
		if (text == NULL && !type_text)
			continue;			/* e.g. a gemini functionCall part */
		if (!aig_jstring_append(text, buf))
		{
			*errmsg = psprintf("%s[%d].text is not a string", label, i);
			return -1;
		}
		found++;
	}
	return found;
}

bool
aig_read_vector(const AigJson *arr, float4 **vec, int *ndims,
				const char *label, int index, char **errmsg)
{
	int			n;
	float4	   *v;

	if (!aig_jis(arr, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s: embedding %d is not an array", label, index);
		return false;
	}
	n = aig_jlength(arr);
	if (n == 0)
	{
		*errmsg = psprintf("%s: embedding %d is empty", label, index);
		return false;
	}
	if ((size_t) n > MaxAllocSize / sizeof(float4))
	{
		*errmsg = psprintf("%s: embedding %d is too large", label, index);
		return false;
	}
	v = palloc(n * sizeof(float4));
	for (int i = 0; i < n; i++)
	{
		const AigJson *e = aig_jelem(arr, i);
		double		d;

		if (!aig_jis(e, AIG_JSON_NUMBER))
		{
			*errmsg = psprintf("%s: embedding %d holds a non-number at position %d",
							   label, index, i);
			pfree(v);
			return false;
		}
		d = aig_jnumber(e);
		if (isnan(d) || isinf(d) || fabs(d) > FLT_MAX)
		{
			*errmsg = psprintf("%s: embedding %d holds an out-of-range value at position %d",
							   label, index, i);
			pfree(v);
			return false;
		}
		v[i] = (float4) d;
	}
	*vec = v;
	*ndims = n;
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
aig_read_vector_list(const AigJson *arr, AigEmbedResult *out,
					 const char *label, char **errmsg)
{
	int			n = aig_jlength(arr);

	if (!aig_jis(arr, AIG_JSON_ARRAY))
	{
		*errmsg = psprintf("%s: embeddings is not an array", label);
		return false;
	}
	if ((size_t) n > INT_MAX / sizeof(float4 *))
	{
		*errmsg = psprintf("%s: too many embeddings", label);
		return false;
	}
	aig_embed_result_init(out, n);
	for (int i = 0; i < n; i++)
		if (!aig_read_vector(aig_jelem(arr, i), &out->vectors[i],
							 &out->ndims[i], label, i, errmsg))
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

bool
aig_chat_no_answer(AigChatResult *out, AigAnswerKind kind, const AigFinishMap *map,
				   const char *raw_finish, const char *text)
{
	out->kind = kind;
	out->content = pstrdup("");
	out->finish_reason = raw_finish ? aig_finish_reason(map, raw_finish) :
		pstrdup(kind == AIG_ANSWER_REFUSED ? "content_filter" : "length");
	/* the provider's text: valid UTF-8, bounded (it goes into messages) */
	out->refusal = text ? aig_body_excerpt(text, strlen(text), 300) : NULL;
	return true;
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

/* A non-empty string (palloc'd), or NULL. */
static char *
nonempty(const AigJson *v)
{
	size_t		len;
	char	   *s = aig_jstring(v, &len);

	return (s != NULL && len > 0) ? s : NULL;
}

#define AIG_ERROR_MESSAGE_MAX 2000

static void
extract_error_fields(const AigJson *root, AigUpstreamError *out)
{
	const AigJson *o = root;
	const AigJson *e;
	const AigJson *d;
	char	   *msg = NULL;
	char	   *type = NULL;

	/* some APIs (older gemini) wrap the envelope in a one-element array */
	if (aig_jis(o, AIG_JSON_ARRAY) && aig_jlength(o) > 0)
		o = aig_jelem(o, 0);
	if (!aig_jis(o, AIG_JSON_OBJECT))
		return;

	e = aig_jget(o, "error");
	if (aig_jis(e, AIG_JSON_OBJECT))
	{
		msg = nonempty(aig_jget(e, "message"));
		type = nonempty(aig_jget(e, "code"));
		if (type == NULL)
			type = nonempty(aig_jget(e, "status"));
		if (type == NULL)
			type = nonempty(aig_jget(e, "type"));
	}
	else
		msg = nonempty(e);

	if (msg == NULL)
		msg = nonempty(aig_jget(o, "message"));
	if (msg == NULL)
	{
		d = aig_jget(o, "detail");
		if (aig_jis(d, AIG_JSON_ARRAY))
			msg = nonempty(aig_jget(aig_jelem(d, 0), "msg"));
		else
			msg = nonempty(d);
	}
	if (type == NULL)
		type = nonempty(aig_jget(o, "code"));
	if (type == NULL)
	{
		type = nonempty(aig_jget(o, "type"));
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
error_reader(const AigJson *root, const char *label, void *arg, char **errmsg)
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
