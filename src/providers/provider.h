/*
 * provider.h — the normalized request/result types and the dialect vtable.
 *
 * A dialect (src/providers/<kind>.c) knows one provider API: how to turn a
 * normalized chat or embedding request into an HTTP request (URL, headers,
 * JSON body), how to read a success body into the normalized result, and how
 * to turn an error body into a SQLSTATE and a message.  Dialects do no I/O and
 * keep no state; router.c drives them and http.c moves the bytes.
 *
 * Memory: everything a dialect returns is palloc'd in CurrentMemoryContext
 * (bodies are read with json-c through transport/json.h, whose trees are
 * freed before returning or by that context's reset, and written with
 * transport/json_body.h), so an ereport(ERROR) leaves nothing behind.  Parsers never ereport
 * for a bad body: they return false and a palloc'd message, so the caller
 * can fail over to another target and the fuzzers can drive them.
 */
#ifndef AIG_PROVIDER_H
#define AIG_PROVIDER_H

#include "postgres.h"

#include "transport/http.h"

/* One provider row of ai_gateway.providers, resolved for use. */
typedef struct AigProvider
{
	char	   *name;
	char	   *kind;			/* providers.kind */
	const struct AigDialect *dialect;
	char	   *base_url;		/* stored value or the dialect default; no
								 * trailing slash */
	char	   *api_key;		/* decrypted key, or NULL when none */
	char	   *api_version;	/* options.api_version (azure) or
								 * options.anthropic_version; NULL = default */
	char	   *region;			/* bedrock: options.region, or the region its
								 * base URL names; NULL for other kinds */
	int			timeout_ms;		/* options.timeout_ms, -1 when unset */
	int			connect_timeout_ms; /* options.connect_timeout_ms, -1 */
	int			default_max_tokens; /* options.default_max_tokens, -1 */
	int			max_embed_batch;	/* options.max_embed_batch, -1 */
	int			max_embed_tokens;	/* options.max_embed_tokens, -1 */
	int			max_retries;	/* options.max_retries, -1 */
	int			requests_per_minute;	/* options.requests_per_minute, -1 */
	int			tokens_per_minute;	/* options.tokens_per_minute, -1 */
	int			max_concurrency;	/* options.max_concurrency (batches), -1 */
	int			nextra_headers; /* options.headers: {"Name": "value"} */
	char	  **extra_headers;	/* "Name: value" */
	int			nsecrets;		/* values of sealed headers, opened */
	char	  **secrets;		/* (scrubbed from provider text, like api_key) */
	char	   *ca_file;		/* options.ca_file: a bundle in
								 * ai_gateway.ca_directory, or NULL */
	unsigned	caps;			/* AIG_CAP_*: the dialect's, narrowed by a
								 * preset (a model without vision, say) */
	bool		enabled;
	char	   *key_problem;	/* why the configured key is unusable, or
								 * NULL; never contains key material */
	bool		grant_public;	/* ai_gateway.provider_grants */
	int			ngrants;
	Oid		   *grants;
} AigProvider;

/*
 * A content part that is not text: an image or a document (PDF), given
 * either as its bytes (base64 text, as every API takes them) or as a URL the
 * provider fetches itself.
 */
typedef enum AigPartKind
{
	AIG_PART_TEXT = 0,
	AIG_PART_IMAGE,				/* image/png, image/jpeg, image/gif, image/webp */
	AIG_PART_DOCUMENT			/* application/pdf */
} AigPartKind;

typedef struct AigContentPart
{
	AigPartKind kind;
	char	   *text;			/* TEXT: UTF-8 */
	char	   *media_type;		/* IMAGE/DOCUMENT: "image/png", ...; NULL for
								 * a URL whose type is not given */
	char	   *data_b64;		/* IMAGE/DOCUMENT bytes, base64 (no line
								 * breaks), or NULL when url is set */
	char	   *url;			/* an http(s) URL, or NULL */
	size_t		nbytes;			/* decoded size of data_b64 (0 for a URL) */
} AigContentPart;

/* One function call the model asked for (or that an assistant message replays). */
typedef struct AigToolCall
{
	char	   *id;				/* the provider's call id; the gateway makes
								 * one ("call_<n>") for APIs without ids */
	char	   *name;
	char	   *arguments;		/* a JSON object, as UTF-8 text */
} AigToolCall;

/*
 * One message of a chat.  content always holds the message's text (its text
 * parts joined; "" when it has none), so a dialect that only knows text needs
 * nothing else.  parts is set only when the message has a non-text part; it
 * then holds every part in order, text ones included.
 */
typedef struct AigChatMessage
{
	char	   *role;			/* system | user | assistant | tool */
	char	   *content;
	int			nparts;
	AigContentPart *parts;		/* NULL unless an image or document is in */
	int			ntool_calls;	/* assistant: the calls it made */
	AigToolCall *tool_calls;
	char	   *tool_call_id;	/* tool: the call this is the result of */
	char	   *name;			/* tool: the function's name (taken from the
								 * matching assistant call when not given) */
} AigChatMessage;

/* A tool (function) the model may call. */
typedef struct AigToolDef
{
	char	   *name;			/* ^[A-Za-z0-9_-]{1,64}$ */
	char	   *description;	/* UTF-8, or NULL */
	char	   *parameters;		/* JSON schema of the arguments (an object
								 * schema), as UTF-8 text */
} AigToolDef;

typedef enum AigToolChoice
{
	AIG_TOOL_CHOICE_AUTO = 0,	/* the model decides (the default) */
	AIG_TOOL_CHOICE_NONE,		/* no tool call */
	AIG_TOOL_CHOICE_REQUIRED,	/* at least one tool call */
	AIG_TOOL_CHOICE_NAMED		/* a call of tool_choice_name */
} AigToolChoice;

/* Generation options, already validated by the caller. */
typedef struct AigGenOptions
{
	bool		has_temperature;
	double		temperature;
	bool		has_top_p;
	double		top_p;
	int			max_tokens;		/* -1 = unset */
	bool		has_seed;
	int64		seed;
	int			nstop;
	char	  **stop;
	char	   *response_format;	/* JSON text of options.response_format
									 * (an object), or NULL */
	int			ntools;			/* options.tools, normalized */
	AigToolDef *tools;
	AigToolChoice tool_choice;	/* options.tool_choice */
	char	   *tool_choice_name;	/* NAMED: the tool */
	bool		parallel_tool_calls;	/* options.parallel_tool_calls (true
										 * unless set false) */
} AigGenOptions;

typedef struct AigChatRequest
{
	char	   *model;			/* upstream model name */
	int			nmessages;
	AigChatMessage *messages;	/* system messages may appear anywhere; a
								 * dialect that wants them apart moves them */
	AigGenOptions opts;
} AigChatRequest;

typedef struct AigEmbedRequest
{
	char	   *model;
	int			ninputs;
	char	  **inputs;
	int			dimensions;		/* -1 = provider default */
	char	   *input_type;		/* cohere input_type / gemini taskType, or
								 * NULL for the dialect's default */
} AigEmbedRequest;

/*
 * A chat answer that carries no answer: the provider refused the request or
 * its safety system blocked it (an answer about the request, not a sign of
 * the target's ill health), or the output limit was reached before any
 * text.  Read from the fields each API documents for it.
 */
typedef enum AigAnswerKind
{
	AIG_ANSWER_TEXT = 0,		/* content holds the answer */
	AIG_ANSWER_REFUSED,			/* refusal or safety block */
	AIG_ANSWER_NO_TEXT_LIMIT	/* max_tokens reached before any text */
} AigAnswerKind;

/*
 * SQLSTATEs of such answers (class MR, "model refused"; an implementation-
 * defined class, no standard code fits): the call ends with them, without a
 * retry, another target or a breaker charge.
 */
#define AIG_ERRCODE_MODEL_REFUSED	MAKE_SQLSTATE('M','R','0','0','1')
#define AIG_ERRCODE_MODEL_NO_TEXT	MAKE_SQLSTATE('M','R','0','0','2')

/* Normalized chat result. */
typedef struct AigChatResult
{
	AigAnswerKind kind;			/* not TEXT: content is "" and refusal says why */
	char	   *refusal;		/* the provider's refusal text or block
								 * reason (bounded excerpt), or NULL */
	char	   *content;
	char	   *finish_reason;	/* stop | length | content_filter |
								 * tool_calls | <provider's own, lower case> */
	char	   *model;			/* model the provider reports, or NULL */
	int64		input_tokens;	/* -1 when unknown */
	int64		output_tokens;
	int			ntool_calls;	/* calls the model asked for; finish_reason
								 * is then "tool_calls" */
	AigToolCall *tool_calls;
} AigChatResult;

typedef struct AigEmbedResult
{
	int			count;
	int		   *ndims;			/* dims of each vector */
	float4	  **vectors;
	int64		input_tokens;	/* -1 when unknown */
} AigEmbedResult;

/* An upstream error, classified. */
typedef struct AigUpstreamError
{
	int			sqlerrcode;		/* MAKE_SQLSTATE(...) */
	char	   *message;		/* provider's message (never holds our key) */
	char	   *type;			/* provider's error type/code, or NULL */
	bool		retryable;
	int			retry_after_ms; /* from the body (gemini RetryInfo), -1 */
} AigUpstreamError;

/* One embedding input type: the gateway's neutral name and the API's own. */
typedef struct AigInputType
{
	const char *neutral;		/* query | document | classification | ... */
	const char *native;
} AigInputType;

/*
 * What a provider's API accepts of the generation and embedding options, as
 * its published OpenAPI document says; checked before a request is built, so
 * that a call outside it fails with 22023 naming the provider's limit instead
 * of a paid round trip and an HTTP 400.
 */
typedef struct AigOptionLimits
{
	int			max_stop;		/* stop sequences; 0 = the gateway's 16 */
	double		temperature_max;	/* <= 0: the gateway's 0-2 */
	double		top_p_min;		/* top_p range; top_p_max <= 0: 0-1 */
	double		top_p_max;
	bool		seed_unsigned;	/* seed must not be negative */
	bool		embed_no_empty; /* an empty input fails the whole request */
	const AigInputType *input_types;	/* {NULL, NULL}-terminated; NULL:
										 * the API has no input type */
} AigOptionLimits;

/*
 * What an API takes besides text and plain options.  A call that needs a
 * capability skips the targets whose provider lacks it, and fails with
 * 0A000 naming them when none has it.
 */
#define AIG_CAP_TOOLS		0x01	/* tools, tool_choice, tool messages */
#define AIG_CAP_IMAGES		0x02	/* image parts given as bytes */
#define AIG_CAP_IMAGE_URLS	0x04	/* image parts given as a URL */
#define AIG_CAP_DOCUMENTS	0x08	/* PDF parts */
#define AIG_CAP_JSON_SCHEMA 0x10	/* response_format json_schema, natively */

typedef struct AigDialect
{
	const char *kind;
	const char *default_base_url;
	int			max_embed_batch;	/* inputs per request; 0 = no embeddings */
	const AigOptionLimits *limits;	/* NULL: nothing beyond the gateway's */
	unsigned	caps;			/* AIG_CAP_* the API has */
	int			max_image_kb;	/* the API's limit on one image's bytes; 0:
								 * only the gateway's ai_gateway.max_image_kb */
	bool		embed_base64;	/* embeddings are asked for as base64 float32
								 * (about 5.5 answer bytes a dimension instead
								 * of about 22 as JSON numbers) */

	void		(*build_chat) (const AigProvider *p, const AigChatRequest *req,
							   AigHttpRequest *out);
	bool		(*parse_chat) (const char *body, size_t len,
							   AigChatResult *out, char **errmsg);
	/* NULL when the provider has no embeddings API */
	void		(*build_embed) (const AigProvider *p, const AigEmbedRequest *req,
								AigHttpRequest *out);
	bool		(*parse_embed) (const char *body, size_t len,
								AigEmbedResult *out, char **errmsg);
	/* fills message/type (and may refine sqlerrcode/retryable) from the body */
	void		(*parse_error) (long http_status, const char *body, size_t len,
								AigUpstreamError *out);
} AigDialect;

/* The dialects, one file each under src/providers. */
extern const AigDialect aig_dialect_openai;
extern const AigDialect aig_dialect_openai_compatible;
extern const AigDialect aig_dialect_anthropic;
extern const AigDialect aig_dialect_cohere;
extern const AigDialect aig_dialect_ollama;
extern const AigDialect aig_dialect_gemini;
extern const AigDialect aig_dialect_azure_openai;
extern const AigDialect aig_dialect_bedrock;

/* provider.c: lookup and helpers shared by the dialects (AigHttpRequest: transport/http.h) */
extern const AigDialect *aig_dialect_for_kind(const char *kind);
extern const char *aig_dialect_kind_list(void);
extern void aig_http_request_init(AigHttpRequest *req);
extern void aig_http_add_header_line(AigHttpRequest *req, const char *line);
extern void aig_http_add_common_headers(const AigProvider *p, AigHttpRequest *req);
extern void aig_upstream_error_from_status(long http_status, AigUpstreamError *out);
extern char *aig_url_escape(const char *s);

/* option_limits.c: NULL when the options fit what p's API accepts, else why not */
extern char *aig_check_chat_options(const AigProvider *p, const AigGenOptions *o);
/* NULL when p has the capabilities req needs (tools, images...) and takes its image sizes */
extern char *aig_check_chat_caps(const AigProvider *p, const AigChatRequest *req);
/* The AIG_CAP_* a request needs of a provider. */
extern unsigned aig_chat_needed_caps(const AigChatRequest *req);
/* The largest decoded image or document of a request, in bytes. */
extern size_t aig_chat_largest_part(const AigChatRequest *req);
/* The answer bytes one input of req is expected to take (dimensions, encoding); 0: unknown */
extern size_t aig_embed_answer_bytes(const AigProvider *p, const AigEmbedRequest *req);
/* ... and for an embedding request; *native is the input type to send (NULL: none) */
extern char *aig_check_embed_request(const AigProvider *p, const AigEmbedRequest *req,
									 const char **native);

#endif							/* AIG_PROVIDER_H */
