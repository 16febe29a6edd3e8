/*
 * pipeline_batch.h — the call pipeline's two halves for a call answered
 * through a provider's Batch API (pipeline_batch.c).
 */
#ifndef AIG_PIPELINE_BATCH_H
#define AIG_PIPELINE_BATCH_H

#include "routing/pipeline.h"

/*
 * When a batch job is queued: 0A000 unless a target of the route has a
 * Batch API and the route does not redact reversibly.
 */
extern void aig_pipeline_batch_precheck(const AigRoute *route);

/*
 * After aig_pipeline_many_prepare returned true: the target (the first
 * eligible candidate whose provider has a Batch API and takes the request)
 * and the chat request it would be sent (*hreq).  false when there is
 * none, or the route redacts reversibly: the call has failed then (0A000,
 * settled and audited; c->error says why).
 */
extern bool aig_pipeline_batch_target(AigChatCall *c, AigTarget **target,
									  AigHttpRequest *hreq);

/* The call is in a submitted batch: its reservation settled (the request counted), its audit owed. */
extern void aig_pipeline_batch_handed(AigChatCall *c);

/*
 * Stages 9–13 of a call whose item of provider batch `label` came back:
 * resp is the item as an HTTP exchange (status and body; failed with an
 * error for an item that never ran).  c is built afresh as at submission
 * (route, request, options; as its role).  Sets ok, response/answer, or
 * error and retryable; charges the batch price and audits, once.
 */
extern void aig_pipeline_batch_finish(AigChatCall *c, AigTarget *t, AigHttpResponse *resp,
									  const char *label);

#endif							/* AIG_PIPELINE_BATCH_H */
