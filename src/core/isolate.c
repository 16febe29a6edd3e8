/*
 * isolate.c — per-item error isolation (isolate.h).
 *
 * PostgreSQL's rule for PG_CATCH (elog.h) is: re-throw, or roll back a
 * (sub)transaction.  Catching an error, flushing it and carrying on leaves
 * whatever the failed code held — an SPI connection, a lock, a pinned
 * buffer, a changed user id — to leak into the rest of the transaction
 * ("transaction left non-empty SPI stack").  Every place that lets one item
 * fail and the others go on uses aig_isolate(), which follows the rule
 * once, like PL/pgSQL's exception blocks do.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "core/isolate.h"

/* Run fn(arg) in a subtransaction; its ERROR comes back as *error. */
bool
aig_isolate(AigIsolatedFn fn, void *arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	if (error)
		*error = NULL;
	BeginInternalSubTransaction(NULL);
	/* allocations of fn outlive the subtransaction */
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* a cancel, a timeout, a shutdown end the statement, not one item */
		if (ed->elevel > ERROR ||
			ed->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			ed->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(ed);
		if (error)
			*error = ed;
		else
			FreeErrorData(ed);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}
