/*
 * batch_api.h — providers' Batch APIs as dialect pieces (no I/O): the
 * requests that submit many chat requests as one provider batch, poll it
 * and fetch its results, and parsers for what comes back.
 *
 *   OpenAI     batch_openai.c: the input as a JSONL file (POST /files,
 *              purpose "batch"), then POST /batches; GET /batches/{id};
 *              results in the output and error files (GET
 *              /files/{id}/content).
 *   Anthropic  batch_anthropic.c: POST /v1/messages/batches with the
 *              requests inline; GET /v1/messages/batches/{id}; results
 *              from .../results.
 *
 * Both bill a batch at half the price of the same requests
 * (AIG_BATCH_PRICE_FACTOR).  A result's URL or file id comes from the
 * provider, but a request is only ever sent under the provider's base URL:
 * a hostile answer cannot send the key elsewhere.
 */
#ifndef AIG_BATCH_API_H
#define AIG_BATCH_API_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "providers/provider.h"
#include "transport/json.h"

/* What both providers charge for a batch, as a share of the usual price. */
#define AIG_BATCH_PRICE_FACTOR 0.5

/* The most requests one batch takes (OpenAI's limit; Anthropic's is 100,000). */
#define AIG_BATCH_MAX_REQUESTS 50000

typedef enum AigBatchState
{
	AIG_BATCH_RUNNING = 0,		/* validating, in progress, finalizing */
	AIG_BATCH_ENDED,			/* results ready (some may be errors) */
	AIG_BATCH_FAILED,			/* refused as a whole: no results */
	AIG_BATCH_EXPIRED,			/* the completion window passed */
	AIG_BATCH_CANCELLED
} AigBatchState;

/* A batch as the provider describes it (create and retrieve answers). */
typedef struct AigBatchStatus
{
	char	   *id;				/* the provider's batch id (clean text) */
	AigBatchState state;
	char	   *remote_status;	/* the provider's own word for it */
	char	   *output_ref;		/* OpenAI: output file id; NULL when none */
	char	   *error_ref;		/* OpenAI: error file id; NULL when none */
	char	   *error;			/* why a batch failed, or NULL */
} AigBatchStatus;

typedef enum AigBatchItemKind
{
	AIG_ITEM_ANSWERED = 0,		/* body: the chat endpoint's answer */
	AIG_ITEM_ERROR,				/* status and body: the endpoint's error */
	AIG_ITEM_EXPIRED,			/* not run before the window closed */
	AIG_ITEM_CANCELLED
} AigBatchItemKind;

/* One line of a batch's results. */
typedef struct AigBatchItem
{
	char	   *custom_id;
	AigBatchItemKind kind;
	long		status;			/* HTTP status of the item (200 when answered) */
	char	   *body;			/* the answer or error body, as JSON text */
	size_t		body_len;
} AigBatchItem;

typedef struct AigBatchApi
{
	const char *endpoint;		/* the chat endpoint the batch runs, e.g.
								 * "/v1/chat/completions" */

	/* Append one request (the body a chat call would send) to the input. */
	void		(*add_item) (StringInfo input, int index, const char *custom_id,
							 const char *chat_body, size_t chat_body_len);
	/* Close the input after the last item. */
	void		(*end_input) (StringInfo input);

	/*
	 * Upload the input as a file (NULL when the input goes with the create
	 * request); the answer gives the file id.
	 */
	void		(*build_upload) (const AigProvider *p, const char *input, size_t len,
								 AigHttpRequest *out);
	bool		(*parse_upload) (const char *body, size_t len, char **file_id,
								 char **errmsg);
	/* Create the batch from the uploaded file id, or from the input itself. */
	void		(*build_create) (const AigProvider *p, const char *file_id_or_input,
								 size_t len, AigHttpRequest *out);
	/* The batch's state: the create and the retrieve answers. */
	bool		(*parse_status) (const char *body, size_t len, AigBatchStatus *out,
								 char **errmsg);
	void		(*build_retrieve) (const AigProvider *p, const char *batch_id,
								   AigHttpRequest *out);
	/* The results of an ended batch: ref is an output_ref/error_ref. */
	void		(*build_results) (const AigProvider *p, const AigBatchStatus *st,
								  const char *ref, AigHttpRequest *out);
	/* One line of results (a JSON object); false with *errmsg when malformed. */
	bool		(*parse_item) (const char *line, size_t len, AigBatchItem *out,
							   char **errmsg);
} AigBatchApi;

extern const AigBatchApi aig_batch_openai;
extern const AigBatchApi aig_batch_anthropic;

/* The Batch API of a provider's dialect, or NULL when it has none here. */
extern const AigBatchApi *aig_batch_api_for(const AigProvider *p);

/* An item's body: the JSON text of v (the answer or error object). */
extern void aig_batch_item_body(const AigJson *v, AigBatchItem *out);

/* Is s usable as a batch or file id (what it takes to be put in a URL path)? */
extern bool aig_batch_id_ok(const char *s);

#endif							/* AIG_BATCH_API_H */
