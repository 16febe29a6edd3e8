/*
 * errcodes.h — the SQLSTATEs ai_gateway defines for provider failures.
 *
 * Class 08 (connection exception) tells a connection pool (HikariCP, most
 * drivers) that the database connection itself is dead, and the pool then
 * evicts it: a provider outage raised there turns into a reconnect storm
 * against PostgreSQL exactly when things go wrong.  Failures to reach a
 * provider or to read its answer have their own class, UP ("upstream"): the
 * SQL standard leaves classes beginning with I-Z or 5-9 to implementations,
 * and PostgreSQL uses no UP.  Refusals by the model are class MR
 * (providers/provider.h); rate limits stay 53000 and provider server errors
 * 58000, which pools do not take for a dead connection.
 */
#ifndef AIG_ERRCODES_H
#define AIG_ERRCODES_H

#include "postgres.h"

/* every target left to try has its circuit breaker open */
#define AIG_ERRCODE_PROVIDER_UNAVAILABLE	MAKE_SQLSTATE('U','P','0','0','0')
/* could not connect: refused, DNS, connect timeout, TLS */
#define AIG_ERRCODE_PROVIDER_UNREACHABLE	MAKE_SQLSTATE('U','P','0','0','1')
/* connected, but no complete answer within the timeout */
#define AIG_ERRCODE_PROVIDER_TIMEOUT		MAKE_SQLSTATE('U','P','0','0','2')
/* the connection broke during the exchange */
#define AIG_ERRCODE_PROVIDER_CONNECTION_LOST MAKE_SQLSTATE('U','P','0','0','3')
/* the answer is not in the format the provider's API documents */
#define AIG_ERRCODE_PROVIDER_BAD_ANSWER		MAKE_SQLSTATE('U','P','0','0','4')
/* the answer is not JSON of the schema response_format asked for (retried,
 * another target tried; not a sign of the target's ill health) */
#define AIG_ERRCODE_SCHEMA_MISMATCH			MAKE_SQLSTATE('U','P','0','0','5')

/* the class of all of them, for ERRCODE_TO_CATEGORY comparisons */
#define AIG_ERRCODE_PROVIDER_CLASS			MAKE_SQLSTATE('U','P','0','0','0')

#endif							/* AIG_ERRCODES_H */
