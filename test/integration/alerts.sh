#!/usr/bin/env bash
# alerts.sh — NOTIFY ai_gateway_alerts (sent by the worker, in its database
# aig_regression): a breaker that opens and then closes after a successful
# probe gives breaker_open then breaker_closed; an error rate over
# ai_gateway.alert_error_rate gives error_rate_high, and error_rate_ok once
# it falls back; health() shows the open breaker meanwhile.  A listener in
# another database hears nothing.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }

run=$$
q >/dev/null <<SQL
ALTER SYSTEM SET ai_gateway.alert_min_requests = 4;
SELECT pg_reload_conf();
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('alert_route', '{"breaker_failures": 2, "breaker_cooldown_ms": 300}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES
    ('alert_route', 'ollama', 'alert-$run+fail_first=2+seq=alert$run');
SQL
sleep 0.5	# the worker rereads its configuration

# One listening session: the two failing calls open the breaker; health()
# shows it; after the cooldown the probe succeeds and closes it.
out=$(q 2>&1 <<SQL
LISTEN ai_gateway_alerts;
DO \$\$ BEGIN PERFORM ai_complete('x', 'alert_route'); EXCEPTION WHEN OTHERS THEN NULL; END \$\$;
DO \$\$ BEGIN PERFORM ai_complete('x', 'alert_route'); EXCEPTION WHEN OTHERS THEN NULL; END \$\$;
SELECT 'health ' || breaker FROM ai_gateway.health() WHERE model = 'alert-$run+fail_first=2+seq=alert$run';
SELECT pg_sleep(0.8);
SELECT 'probe ' || ai_complete('x', 'alert_route');
SELECT pg_sleep(0.8);
SELECT 'health ' || breaker FROM ai_gateway.health() WHERE model = 'alert-$run+fail_first=2+seq=alert$run';
SQL
)
echo "$out" | grep -q '^health open$' || { echo "$out"; fail "health() does not show the open breaker"; }
echo "$out" | grep -q '^health closed$' || { echo "$out"; fail "health() does not show the closed breaker"; }
events=$(echo "$out" | grep "alert-$run" | grep -o 'breaker_[a-z]*' || true)
[ "$events" = "breaker_open
breaker_closed" ] || { echo "$out"; fail "expected breaker_open then breaker_closed, got: $events"; }
echo "$out" | grep 'breaker_open' | grep -q '"last_error":"' || { echo "$out"; fail "alert has no last_error"; }
pass "breaker_open then breaker_closed were notified; health() showed open, then closed"

# Error rate: 3 failures in 4 calls -> error_rate_high; 15 successes bring it
# under half the threshold -> error_rate_ok (the breaker never trips: the
# database's breaker thresholds are high in this suite).
out=$(q 2>&1 <<SQL
LISTEN ai_gateway_alerts;
DO \$\$ BEGIN FOR i IN 1..4 LOOP
    BEGIN PERFORM ai_complete('x', 'ollama/rate-$run+fail_first=3+seq=rate$run');
    EXCEPTION WHEN OTHERS THEN NULL; END;
END LOOP; END \$\$;
SELECT pg_sleep(0.8);
SELECT count(ai_complete('x', 'ollama/rate-$run+fail_first=3+seq=rate$run')) FROM generate_series(1, 15);
SELECT pg_sleep(0.8);
SQL
)
events=$(echo "$out" | grep "rate-$run" | grep -o 'error_rate_[a-z]*' || true)
[ "$events" = "error_rate_high
error_rate_ok" ] || { echo "$out"; fail "expected error_rate_high then error_rate_ok, got: $events"; }
pass "error_rate_high at 3/4 errors, error_rate_ok after recovery"

# Alerts are sent in the worker's database only
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aig_alerts_other" -c "CREATE DATABASE aig_alerts_other" >/dev/null 2>&1
out=$(aig_psql "$PGPORT" -d aig_alerts_other -At 2>&1 <<SQL
LISTEN ai_gateway_alerts;
\! "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p $PGPORT -U postgres -d $DB -c "DO \\\$\\\$ BEGIN FOR i IN 1..4 LOOP BEGIN PERFORM ai_complete('x', 'ollama/other-$run+fail_first=4+seq=other$run'); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END \\\$\\\$"
SELECT pg_sleep(0.8);
SQL
)
if echo "$out" | grep -q "other-$run"; then echo "$out"; fail "a listener in another database heard the alert"; fi
pass "a listener in another database hears nothing"

aig_psql "$PGPORT" -d postgres -c "DROP DATABASE aig_alerts_other" >/dev/null
q >/dev/null <<SQL
ALTER SYSTEM RESET ai_gateway.alert_min_requests;
SELECT pg_reload_conf();
DELETE FROM ai_gateway.route_targets WHERE route = 'alert_route';
DELETE FROM ai_gateway.routes WHERE name = 'alert_route';
SQL
