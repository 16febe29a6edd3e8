/*
 * http_gucs.c — the transport's ai_gateway.* settings: connect timeout,
 * largest response accepted, CA bundle, the directory of providers'
 * options.ca_file.  Declared in transport/http.h;
 * provider and call options override the timeouts.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "transport/http.h"

int			aig_connect_timeout_ms = 10000;
int			aig_max_response_bytes = 10 * 1024 * 1024;
char	   *aig_ca_bundle = NULL;
char	   *aig_ca_directory = NULL;

/* Define the transport's ai_gateway.* GUCs (called from _PG_init). */
void
aig_http_define_gucs(void)
{
	DefineCustomIntVariable("ai_gateway.connect_timeout_ms",
							"Time allowed to connect to a provider.",
							NULL,
							&aig_connect_timeout_ms,
							10000, 1, 600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ai_gateway.max_response_bytes",
							"Largest provider response body accepted.",
							NULL,
							&aig_max_response_bytes,
							10 * 1024 * 1024, 1024, INT_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ai_gateway.ca_bundle",
							   "CA certificate bundle used to verify providers' TLS certificates.",
							   "Empty means the system's default bundle.",
							   &aig_ca_bundle,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	/*
	 * SIGHUP: set by a superuser (postgresql.conf, ALTER SYSTEM), so that
	 * whoever may write providers can name a bundle in it and no other file.
	 */
	DefineCustomStringVariable("ai_gateway.ca_directory",
							   "Directory of the CA bundles that providers' options.ca_file may name.",
							   "Empty means options.ca_file cannot be used.",
							   &aig_ca_directory,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
}
