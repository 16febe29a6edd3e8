/*
 * catalog_options.h — the options jsonb of providers and routes: parsed
 * into the catalog structs, and validated when a row is written.
 */
#ifndef AIG_CATALOG_OPTIONS_H
#define AIG_CATALOG_OPTIONS_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "core/catalog.h"

/* Fill p's option fields (and default base URL) from opts; 22023 if invalid. */
extern void aig_provider_apply_options(AigProvider *p, Jsonb *opts);

/*
 * Fill r's option fields from opts; 22023 if invalid.  strict: a hook
 * function that does not exist is an error (else noted in hook_problem).
 */
extern void aig_route_apply_options(AigRoute *r, Jsonb *opts, bool strict);

/* catalog_auth.c: options of OAuth-token auth (auth, tenant_id, client_id,
 * token_url, location, project_id); 22023 if invalid */
extern void aig_provider_apply_auth_options(AigProvider *p, Jsonb *opts);
/* catalog_auth.c: a default base URL that depends on options (vertex_ai), or NULL */
extern char *aig_provider_auth_base_url(const AigProvider *p, Jsonb *opts);
/* catalog_auth.c: what p's sealed secrets are bound to (origin, + the token URL) */
extern char *aig_provider_secret_binding(const AigProvider *p, const char *origin);

/* Define ai_gateway.breaker_* (the defaults of aig_breaker_defaults; from _PG_init). */
extern void aig_catalog_define_gucs(void);

/* The route's request (or response) hook, looked up again if it was dropped. */
extern Oid	aig_route_hook_refresh(AigRoute *r, bool request);

#endif							/* AIG_CATALOG_OPTIONS_H */
