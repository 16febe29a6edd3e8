/*
 * jobs_gucs.c — definitions of the async jobs' ai_gateway.* GUCs.  The
 * variables live in jobs.c and are declared in jobs.h.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "background/jobs.h"

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
}
