/*
 * identity.c — the session role a call is held to besides its current user
 * (identity.h).  A backend's is session_user (the login role; only a
 * superuser's session can change it, with SET SESSION AUTHORIZATION).  A
 * worker that runs a queued call takes the identity of the session that
 * queued it for the duration of that call.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "governance/identity.h"

static Oid	session_override = InvalidOid;

/* session_user, or the queued call's session role in a worker. */
Oid
aig_session_role(void)
{
	if (OidIsValid(session_override))
		return session_override;
	return GetSessionUserId();
}

/* Run what follows on behalf of session role r (InvalidOid: reset). */
void
aig_session_role_set(Oid r)
{
	session_override = r;
}
