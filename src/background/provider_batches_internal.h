/*
 * provider_batches_internal.h — what provider_batches.c (the job worker's
 * provider batches) shares with provider_batch_rows.c (the pipeline rows
 * among its jobs).
 */
#ifndef AIG_PROVIDER_BATCHES_INTERNAL_H
#define AIG_PROVIDER_BATCHES_INTERNAL_H

#include "postgres.h"

#include "routing/pipeline.h"

/* A batch job on its way in or out. */
typedef struct AigBatchJob
{
	int64		id;
	char	   *role;
	Oid			roleid;
	int			attempts;
	Jsonb	   *request;
	AigChatCall call;
	bool		built;			/* call built (as its role) */
	bool		finished;		/* outcome known, to store */
	AigTarget  *target;			/* submission: the target chosen */
	AigHttpRequest hreq;		/* submission: the chat request of its item */
} AigBatchJob;

/* Run fn(j, arg) as j's role. */
extern void aig_pb_as_role(AigBatchJob *j, void (*fn) (AigBatchJob *, void *), void *arg);

/*
 * A stored batch job of a pipeline row (final: it will not run again):
 * written back as the pipeline's owner and settled.  SPI connected.
 */
extern void aig_pb_pipeline_row_finished(AigBatchJob *j, bool final);

#endif							/* AIG_PROVIDER_BATCHES_INTERNAL_H */
