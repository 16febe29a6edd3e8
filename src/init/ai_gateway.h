/*
 * ai_gateway.h — GUC variables and process-wide declarations shared by the
 * files of the extension.  GUCs are defined in ai_gateway.c only.
 */
#ifndef AIG_AI_GATEWAY_H
#define AIG_AI_GATEWAY_H

#include "postgres.h"

/* GUCs (ai_gateway.*) */
extern char *aig_database;
extern char *aig_default_route;
extern int	aig_timeout_ms;
extern int	aig_connect_timeout_ms;
extern int	aig_batch_concurrency;
extern int	aig_max_response_bytes;
extern bool aig_log_prompts;
extern char *aig_master_key_file;
extern char *aig_ca_bundle;
extern int	aig_max_retries;
extern int	aig_retry_base_ms;
extern int	aig_retry_max_ms;
extern double aig_fastest_explore_ratio;

extern int	aig_quota_persist_ms;

/* worker.c */
extern void aig_register_worker(void);

/* set by _PG_init when loaded through shared_preload_libraries */
extern bool aig_preloaded;

/* Fail with a clear error and hint unless preloaded. */
extern void aig_require_preload(void);

#endif							/* AIG_AI_GATEWAY_H */
