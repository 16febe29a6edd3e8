/*
 * provider_batches.h — async jobs run through providers' Batch APIs by the
 * job worker (provider_batches.c).
 */
#ifndef AIG_PROVIDER_BATCHES_H
#define AIG_PROVIDER_BATCHES_H

#include "postgres.h"

/* GUCs ai_gateway.batch_poll_interval and ai_gateway.batch_max_items (jobs_gucs.c) */
extern int	aig_batch_poll_interval_ms;
extern int	aig_batch_max_items;

/*
 * One round (no transaction open): submit the due batch jobs as provider
 * batches, poll the batches that are due and finish the jobs of those that
 * ended.  true when it did any of it.  Never raises (errors are logged).
 */
extern bool aig_provider_batches_round(void);

#endif							/* AIG_PROVIDER_BATCHES_H */
