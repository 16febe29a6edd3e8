/*
 * pipelines.h — the enrichment pipelines' background rounds (pipelines.c),
 * run by the job worker.
 */
#ifndef AIG_PIPELINES_H
#define AIG_PIPELINES_H

#include "postgres.h"

/* One batch of one pipeline with queued rows, in a transaction; false when none was due. */
extern bool aig_pipelines_round(void);

#endif							/* AIG_PIPELINES_H */
