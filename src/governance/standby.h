/*
 * standby.h — calls on a hot standby (a server in recovery): the mode
 * (ai_gateway.standby_calls), the up-front refusal, and the audit record
 * kept in the server log when calls are allowed there.
 */
#ifndef AIG_STANDBY_H
#define AIG_STANDBY_H

#include "postgres.h"

#include "governance/audit.h"

/* ai_gateway.standby_calls */
typedef enum AigStandbyCalls
{
	AIG_STANDBY_REFUSE,			/* refuse every call (the default) */
	AIG_STANDBY_UNAUDITED		/* allow them; audit records go to the server log */
} AigStandbyCalls;

extern int	aig_standby_calls;

/* Define ai_gateway.standby_calls (called from _PG_init). */
extern void aig_standby_define_gucs(void);

/* Is this server a hot standby (in recovery) now?  Never raises. */
extern bool aig_on_standby(void);

/*
 * At the start of every call: on a standby, 25006 (read_only_sql_transaction)
 * unless ai_gateway.standby_calls = 'unaudited'.  Nothing on a primary.
 */
extern void aig_standby_check_call(void);

/* ai_complete_async: 25006 on a standby, whatever the mode (no job table to write). */
extern void aig_standby_check_async(void);

/*
 * On a standby, instead of the queue: the record as one JSON object in a
 * LOG line of the server log (never sent to the client).  Never raises,
 * no palloc (safe in PG_CATCH and at backend exit).  may_wait: the call is
 * in a normal transaction state (role names may be looked up).
 */
extern void aig_standby_log_record(const AigAuditRecord *rec, bool may_wait);

#endif							/* AIG_STANDBY_H */
