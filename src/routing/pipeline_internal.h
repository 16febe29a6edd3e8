/*
 * pipeline_internal.h — stages of pipeline.c that its other files share
 * (pipeline_batch.c: calls answered through a provider's Batch API).
 */
#ifndef AIG_PIPELINE_INTERNAL_H
#define AIG_PIPELINE_INTERNAL_H

#include "routing/pipeline.h"

/* The order context (size estimate, sticky key) and the accounting of the call. */
extern void aig_pl_begin_account(AigChatCall *c);

/* Stages 10–12 of an answered call: unredact, response hook, cache put. */
extern void aig_pl_finish_one(void *arg);

/* Stage 13: the call's audit record, statistics and log line (once). */
extern void aig_pl_stage_audit(AigChatCall *c);

#endif							/* AIG_PIPELINE_INTERNAL_H */
