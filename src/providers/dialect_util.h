/*
 * dialect_util.h — code shared by the dialects in src/providers/:
 *
 *	- finish-reason normalization tables (one per wire format);
 *	- the request-body helpers over json_body.h (messages, generation
 *	  options, response_format);
 *	- the generation-options writer (AigGenOptions -> provider keys) and the
 *	  response_format reader;
 *	- read helpers for success bodies (text parts, embedding vectors);
 *	- the generic error-body reader every parse_error builds on;
 *	- the OpenAI wire format (defined in openai.c), shared with azure.c.
 *
 * Bodies are read with json.h (json-c) and written with json_body.h.
 * What a reader keeps is copied into palloc'd memory; json-c trees are
 * freed by their owner (aig_parse_body, the body builders), and by their
 * memory context's reset should an ERROR unwind first.
 */
#ifndef AIG_DIALECT_UTIL_H
#define AIG_DIALECT_UTIL_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "transport/json.h"
#include "transport/json_body.h"
#include "providers/provider.h"

/* ---- finish reasons ---- */

typedef struct AigFinishMap
{
	const char *raw;			/* provider's value (exact match) */
	const char *norm;			/* stop | length | content_filter |
								 * tool_calls */
} AigFinishMap;

/* each table ends with {NULL, NULL} */
extern const AigFinishMap aig_finish_openai[];
extern const AigFinishMap aig_finish_anthropic[];
extern const AigFinishMap aig_finish_cohere[];
extern const AigFinishMap aig_finish_gemini[];
extern const AigFinishMap aig_finish_ollama[];

/* normalized (palloc'd) value, the raw one lower-cased when not in the
 * table, NULL when raw is NULL */
extern char *aig_finish_reason(const AigFinishMap *map, const char *raw);

/* ---- requests ---- */

/* Provider key names of the generation options; NULL = not sent. */
typedef struct AigGenKeys
{
	const char *temperature;
	const char *top_p;
	const char *max_tokens;
	const char *stop;
	const char *seed;
} AigGenKeys;

/* Write the options that are set, as members under the dialect's names. */
extern void aig_add_gen_options(AigJsonWriter *w, const AigGenOptions *o,
								const AigGenKeys *keys);

typedef enum AigRespFormatKind
{
	AIG_RF_NONE,				/* absent, unparsable, or not an object */
	AIG_RF_TEXT,				/* {"type":"text"} */
	AIG_RF_JSON_OBJECT,			/* {"type":"json_object"} */
	AIG_RF_JSON_SCHEMA,			/* {"type":"json_schema",...} */
	AIG_RF_OTHER				/* any other type */
} AigRespFormatKind;

/*
 * Parse options.response_format: the parsed doc (the caller frees it with
 * aig_json_free once the body is written), or NULL with *kind =
 * AIG_RF_NONE.  *schema (may be NULL): response_format.json_schema.schema
 * when it is an object, else NULL.
 */
extern AigJsonDoc *aig_response_format_parse(const char *text,
											 AigRespFormatKind *kind,
											 const AigJson **schema);

/* key: [{"role","content"}, ...] (system messages skipped if asked) */
extern void aig_jw_messages(AigJsonWriter *w, const char *key,
							const AigChatRequest *req, bool skip_system);

/* Finish the body: w's buffer becomes out->body / out->body_len. */
extern void aig_jw_body(AigJsonWriter *w, AigHttpRequest *out);

/* All system messages joined by "\n\n", or NULL when there are none. */
extern char *aig_join_system(const AigChatRequest *req);

/* URL: base_url + path (path is palloc'd or constant). */
extern char *aig_url(const AigProvider *p, const char *path);

/*
 * Add "Name: <prefix><value>"; ereports when value holds a control
 * character (header injection) without showing the value.
 */
extern void aig_add_header_value(AigHttpRequest *out, const char *name,
								 const char *prefix, const char *value);

/* ---- reading success bodies (never ereport but for out-of-memory) ---- */

/* Reads a parsed body into out; false with *errmsg on a bad body. */
typedef bool (*AigJsonReader) (const AigJson *root, const char *label,
							   void *out, char **errmsg);

/*
 * Parse body and run fn(root, label, out, errmsg) on it.  false with
 * *errmsg when the body is not one JSON value or fn fails.
 */
extern bool aig_parse_body(const char *body, size_t len, AigJsonReader fn,
						   const char *label, void *out, char **errmsg);

/*
 * Append the "text" of each part of an array of parts to buf.  A part must
 * be an object; with type_text only parts with "type":"text" count; with
 * skip_thought parts with "thought": true are skipped.  Returns the number
 * of text parts appended, or -1 (with *errmsg) when parts is not an array
 * or a part is malformed.
 */
extern int	aig_join_text_parts(const AigJson *parts, bool type_text,
								bool skip_thought, StringInfo buf,
								const char *label, char **errmsg);

/* A JSON array of numbers -> float4 vector (finite, at least one). */
extern bool aig_read_vector(const AigJson *arr, float4 **vec, int *ndims,
							const char *label, int index, char **errmsg);

/* Allocate out for count vectors (input_tokens = -1). */
extern void aig_embed_result_init(AigEmbedResult *out, int count);

/* A JSON array of arrays of numbers -> out (input_tokens untouched). */
extern bool aig_read_vector_list(const AigJson *arr, AigEmbedResult *out,
								 const char *label, char **errmsg);

extern void aig_chat_result_init(AigChatResult *out);

/*
 * The body is a documented refusal, safety block or an output limit hit
 * before any text: out->kind, out->refusal (an excerpt of text, may be NULL),
 * out->finish_reason (normalized, from raw_finish), content "".  The caller
 * still reads the usage (what the provider billed).  Returns true.
 */
extern bool aig_chat_no_answer(AigChatResult *out, AigAnswerKind kind,
							   const AigFinishMap *map, const char *raw_finish,
							   const char *text);

/* ---- errors ---- */

/* Dialect refinement, called with the parsed body (any JSON type). */
typedef void (*AigErrorRefine) (const AigJson *root, long http_status,
								AigUpstreamError *out);

/*
 * aig_upstream_error_from_status, then message and type from the body in
 * any of the usual shapes ({"error":{"message","code"|"status"|"type"}},
 * {"error":"..."}, {"message"}, {"detail"}, a one-element array of these);
 * when none is found, "HTTP <n> from provider" plus an excerpt of the body.
 * refine (may be NULL) runs afterwards on a parsed body.
 */
extern void aig_parse_error_generic(long http_status, const char *body,
									size_t len, AigUpstreamError *out,
									AigErrorRefine refine);

/* ≤ max bytes of body, valid UTF-8, control characters as spaces. */
extern char *aig_body_excerpt(const char *body, size_t len, size_t max);

/* ---- OpenAI wire format (openai.c), shared with azure.c ---- */

extern void aig_openai_chat_body(const AigChatRequest *req, bool with_model,
								 const char *max_tokens_key,
								 AigHttpRequest *out);
extern void aig_openai_embed_body(const AigEmbedRequest *req, bool with_model, bool base64,
								  AigHttpRequest *out);
extern bool aig_openai_parse_chat_as(const char *label, const char *body,
									 size_t len, AigChatResult *out,
									 char **errmsg);
extern bool aig_openai_parse_embed_as(const char *label, const char *body,
									  size_t len, AigEmbedResult *out,
									  char **errmsg);
extern void aig_openai_parse_error(long http_status, const char *body,
								   size_t len, AigUpstreamError *out);

/* ---- tool calls, tool results, image/document parts (openai_tools.c) ---- */

/* A tool's name or a call's id from an answer: 1-256 bytes of UTF-8 without control characters. */
extern bool aig_tool_name_ok(const char *s);

/*
 * A call's arguments from an answer, checked: a JSON object in strict JSON
 * (as jsonb reads it), valid UTF-8.  Returns the text to keep (palloc'd;
 * "{}" for empty text), or NULL with *why ("are not a JSON object", ...).
 */
extern char *aig_tool_arguments_check(const char *text, size_t len, char **why);

/* The same for an arguments value: JSON text in a string, or an object. */
extern char *aig_tool_arguments_from_value(const AigJson *v, char **why);

/* "tools": [{"type":"function","function":{...}}] (only: just that tool, or NULL for all) */
extern void aig_jw_function_tools(AigJsonWriter *w, const AigGenOptions *o,
								  const char *only);

/* OpenAI "messages" with image/file parts, assistant tool_calls and tool results */
extern void aig_openai_jw_messages(AigJsonWriter *w, const AigChatRequest *req);

/* OpenAI "tools", "tool_choice" and (parallel_key) "parallel_tool_calls": false */
extern void aig_openai_jw_tools(AigJsonWriter *w, const AigGenOptions *o,
								bool parallel_key);

/* choices[0].message.tool_calls (may be NULL) into out->tool_calls */
extern bool aig_openai_read_tool_calls(const AigJson *calls, AigChatResult *out,
									   const char *label, char **errmsg);

/* The anthropic-version header a provider without options.anthropic_version sends. */
#define ANTHROPIC_DEFAULT_VERSION "2023-06-01"

#endif							/* AIG_DIALECT_UTIL_H */
