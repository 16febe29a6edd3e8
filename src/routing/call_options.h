/*
 * call_options.h — the per-call options (the options jsonb of the SQL
 * functions, of a queued job or of a shadow copy), validated once.
 */
#ifndef AIG_CALL_OPTIONS_H
#define AIG_CALL_OPTIONS_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "governance/cache.h"
#include "providers/provider.h"

/* Per-call options (options jsonb of the SQL functions), validated. */
typedef struct AigCallOptions
{
	AigGenOptions gen;
	int			timeout_ms;		/* -1 = route/GUC (whole call, retries included) */
	int			max_retries;	/* -1 = route/provider/GUC */
	int			concurrency;	/* batches: -1 = ai_gateway.batch_concurrency */
	int			connect_timeout_ms;
	int			dimensions;		/* embeddings, -1 */
	int			cache_ttl_s;	/* options.cache: -1 unset, 0 off, > 0 a TTL,
								 * AIG_CACHE_TTL_DEFAULT for true */
	bool		batch;			/* options.batch: through the provider's Batch
								 * API (async jobs and pipelines only) */
	char	   *input_type;		/* embeddings, or NULL */
	char	   *user;			/* sticky key (routing issue), or NULL */
	Jsonb	   *metadata;		/* copied to the audit row, or NULL */
	Jsonb	   *raw;			/* the options as given (shadow copies) */
} AigCallOptions;

/* Parse and validate opts (NULL: defaults) into co; 22023 on a bad option. */
extern void aig_parse_call_options(Jsonb *opts, AigCallOptions *co);

/* tool_options.c: options.tools, tool_choice, parallel_tool_calls into g */
extern void aig_parse_tool_options(Jsonb *opts, AigGenOptions *g);
/* 22023 unless name is a valid tool name (42939 for the reserved aig_ prefix) */
extern void aig_check_tool_name(const char *name, const char *what);

#endif							/* AIG_CALL_OPTIONS_H */
