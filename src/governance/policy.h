/*
 * policy.h — what a route lets leave the database: deny patterns and PII
 * redaction applied to requests (and redaction undone in answers).
 */
#ifndef AIG_POLICY_H
#define AIG_POLICY_H

#include "postgres.h"

#include "core/catalog.h"
#include "governance/redact.h"

/* The modes (AIG_REDACT_OFF / ON / REVERSIBLE) are in core/catalog.h. */

/*
 * Refuse the request if a message matches one of the route's deny patterns
 * (23514), then redact PII in place when the route asks for it.  Returns
 * the redaction map when answers must be mapped back, else NULL.
 */
extern AigRedaction *aig_policy_apply_chat(const AigRoute *route, AigChatRequest *req);
extern void aig_policy_apply_embed(const AigRoute *route, AigEmbedRequest *req);

/* Validate deny patterns (compile them); 2201B on a bad one. */
extern void aig_policy_check_patterns(const char *route, int n, char **patterns);

#endif							/* AIG_POLICY_H */
