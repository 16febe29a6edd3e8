/*
 * jobs_gucs.c — definitions of the async jobs' ai_gateway.* GUCs.  The
 * variables live in jobs.c and are declared in jobs.h.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "background/jobs.h"
#include "background/provider_batches.h"

/* Define the async jobs' ai_gateway.* GUCs (called from _PG_init). */
void
aig_jobs_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.job_max_attempts",
							"Attempts of an async job before it is marked failed.",
							NULL,
							&aig_job_max_attempts,
							3, 1, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.job_retention",
							   "Finished async jobs older than this interval are deleted; empty keeps them.",
							   NULL,
							   &aig_job_retention,
							   "7 days",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.max_queued_jobs_per_role",
							"Async jobs one role may have queued or running; ai_complete_async beyond it fails with 53400.",
							"Superusers may set it per role (ALTER ROLE ... SET); a caller cannot raise its own.",
							&aig_max_queued_jobs_per_role,
							10000, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.job_max_request_kb",
							"Largest request (prompt, system prompt and options) an async job may store; ai_complete_async beyond it fails with 54000.",
							"The job worker prepares jobs one after another: a huge request would hold every role's jobs while it is redacted and hooked.",
							&aig_job_max_request_kb,
							4096, 1, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.job_max_running_per_role",
							"Async jobs of one role the job worker runs at once; 0: three quarters of ai_gateway.batch_concurrency.",
							"Other roles' jobs take the remaining slots, so one role's long queue never holds theirs.",
							&aig_job_max_running_per_role,
							0, 0, 1024,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.batch_poll_interval",
							"How often the job worker asks a provider about a batch it submitted (options.batch).",
							"Providers answer a batch within 24 hours, most within minutes to hours.",
							&aig_batch_poll_interval_ms,
							60000, 100, 24 * 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.batch_max_items",
							"Most async jobs the job worker submits as one provider batch (options.batch).",
							"OpenAI takes up to 50,000 requests in a batch; a larger number waits for the next one.",
							&aig_batch_max_items,
							1000, 1, 50000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}
