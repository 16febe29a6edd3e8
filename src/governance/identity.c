/*
 * identity.c — the session role a call is held to besides its current user
 * (identity.h).  A backend's is session_user (the login role; only a
 * superuser's session can change it, with SET SESSION AUTHORIZATION).  A
 * worker that runs a queued call takes the identity of the session that
 * queued it for the duration of that call.
 */
#include "postgres.h"

#include "access/xact.h"
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

/* A transaction's end (an error included) ends any override. */
static void
reset_at_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		session_override = InvalidOid;
}

/* Run what follows on behalf of session role r (InvalidOid: reset), until the transaction ends. */
void
aig_session_role_set(Oid r)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(reset_at_end, NULL);
		registered = true;
	}
	session_override = r;
}
