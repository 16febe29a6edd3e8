/*
 * hooks.h — route request/response hooks: SQL functions jsonb -> jsonb.
 */
#ifndef AIG_HOOKS_H
#define AIG_HOOKS_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * Call hook function fn (which: "request_hook" / "response_hook") of route
 * on doc, as role owner (the role that configured it) in a
 * security-restricted operation; its errors fail the call.
 */
extern Jsonb *aig_call_hook(Oid fn, Oid owner, const char *which, const char *route,
							Jsonb *doc);

#endif							/* AIG_HOOKS_H */
