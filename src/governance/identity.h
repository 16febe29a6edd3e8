/*
 * identity.h — who a call is on behalf of.  The current user (GetUserId())
 * changes with SET ROLE and inside SECURITY DEFINER functions; the
 * session's login role does not.  Quotas, rate limits and the audit log
 * hold a call to both, so no role switch escapes a limit of the login role.
 */
#ifndef AIG_IDENTITY_H
#define AIG_IDENTITY_H

#include "postgres.h"

/*
 * The session role of the call in progress: session_user, or, in a worker
 * running a queued call (async job), the session role that queued it.
 */
extern Oid	aig_session_role(void);

/*
 * Workers: what follows runs on behalf of session role r (InvalidOid:
 * their own), until reset or the end of the transaction.
 */
extern void aig_session_role_set(Oid r);

#endif							/* AIG_IDENTITY_H */
