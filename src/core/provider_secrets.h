/*
 * provider_secrets.h — a provider row's secrets: sealed when written (the
 * trigger ai_gateway.providers_protect_key), opened for the catalog.
 */
#ifndef AIG_PROVIDER_SECRETS_H
#define AIG_PROVIDER_SECRETS_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "providers/provider.h"

/* Is header name a credential (its name, or listed in opts.secret_headers)? */
extern bool aig_header_is_secret(const char *name, Jsonb *opts);

/*
 * Open p's sealed key (or NULL), its api_key_env recorded by env_by and its
 * sealed headers, for p's endpoint; else set p->key_problem.
 */
extern void aig_provider_open_secrets(AigProvider *p, const char *sealed, const char *env,
									  Oid env_by);

#endif							/* AIG_PROVIDER_SECRETS_H */
