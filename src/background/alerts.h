/*
 * alerts.h — NOTIFY on channel ai_gateway_alerts when a circuit breaker
 * opens or closes, or a target's error rate crosses
 * ai_gateway.alert_error_rate.  Sent by the ai_gateway worker (so they are
 * never lost with an aborted caller's transaction), in ai_gateway.database.
 */
#ifndef AIG_ALERTS_H
#define AIG_ALERTS_H

#include "postgres.h"

#define AIG_ALERT_CHANNEL "ai_gateway_alerts"

extern double aig_alert_error_rate;
extern int	aig_alert_min_requests;

/* Define ai_gateway.alert_error_rate and alert_min_requests (called from _PG_init). */
extern void aig_alerts_define_gucs(void);

/*
 * Worker: compare every target of this database with what the last scan
 * saw and NOTIFY the changes (inside the caller's transaction).  The first
 * scan only takes the baseline.  Returns the number of alerts sent.
 */
extern int	aig_alerts_scan(void);

#endif							/* AIG_ALERTS_H */
