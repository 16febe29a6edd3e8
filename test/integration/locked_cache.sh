#!/usr/bin/env bash
# locked_cache.sh — calls whose cache lookups fail (the cache table locked
# by another session, lock_timeout 200ms) fail alone and leave no SPI
# connection behind: the server log must not say "transaction left
# non-empty SPI stack" (per-item errors are isolated in a subtransaction
# that is rolled back, core/isolate.c).
#  1. ai_complete_batch(..., '{"cache": true}') returns answers or per-item
#     errors, and the session goes on;
#  2. an async job with the cache on (the job worker, lock_timeout set by
#     ALTER SYSTEM for the duration) finishes, failed or succeeded.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_locked
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
aig_psql "$PGPORT" -d "$DB" <<'SQL'
INSERT INTO ai_gateway.routes (name) VALUES ('lk');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('lk', 'openai', 'm');
SQL
log_from=$(($(wc -l <"$AIG_SERVER_LOG") + 1))

# another session holds the cache table for (at most) 20 s
aig_psql "$PGPORT" -d "$DB" -c "BEGIN" \
	-c "LOCK TABLE ai_gateway.cache IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(20)" \
	-c "COMMIT" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 1 100); do
	held=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'cache' AND l.mode = 'AccessExclusiveLock' AND l.granted")
	[ "$held" = 1 ] && break
	sleep 0.1
done
[ "$held" = 1 ] || { kill "$locker"; fail "the locker session did not take the lock"; }

res=$(aig_psql "$PGPORT" -d "$DB" -At <<'SQL' 2>&1
SET lock_timeout = '200ms';
SELECT ordinality, completion IS NOT NULL AS answered, error IS NOT NULL AS failed
FROM ai_complete_batch(array['one', 'two', 'three'], 'lk', NULL, '{"cache": true}');
SELECT 'after';
SQL
) || true
kill "$locker" 2>/dev/null || true
wait "$locker" 2>/dev/null || true

rows=$(echo "$res" | grep -cE '^[123]\|(t\|f|f\|t)$' || true)
[ "$rows" = 3 ] || { echo "$res"; fail "the batch did not return 3 rows of answers or per-item errors"; }
echo "$res" | grep -q '^after$' || { echo "$res"; fail "the session did not go on after the batch"; }
sleep 0.5
if tail -n +"$log_from" "$AIG_SERVER_LOG" | grep -q "non-empty SPI stack"; then
	tail -n +"$log_from" "$AIG_SERVER_LOG" | grep -B2 -A2 "SPI stack" | head -20
	fail "the server log says \"transaction left non-empty SPI stack\""
fi
pass "locked cache table: 3 rows of answers or per-item errors, no SPI stack left behind"

# 2. the job worker (it serves aig_regression): lock_timeout for everyone, briefly
REG=aig_regression
reset_timeout() {
	aig_psql "$PGPORT" -d postgres -c "ALTER SYSTEM RESET lock_timeout" -c "SELECT pg_reload_conf()" >/dev/null
}
trap 'reset_timeout; aig_cleanup' EXIT
aig_psql "$PGPORT" -d postgres -c "ALTER SYSTEM SET lock_timeout = '200ms'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1.5	# the worker reloads its configuration when its latch wakes it (at most 500 ms)
log_from=$(($(wc -l <"$AIG_SERVER_LOG") + 1))
aig_psql "$PGPORT" -d "$REG" -c "BEGIN" \
	-c "LOCK TABLE ai_gateway.cache IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(20)" \
	-c "COMMIT" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 1 100); do
	held=$(aig_psql "$PGPORT" -d "$REG" -At -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'cache' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
	[ "$held" = 1 ] && break
	sleep 0.1
done
[ "$held" = 1 ] || { kill "$locker"; fail "the locker session did not take the lock in $REG"; }
status=$(aig_psql "$PGPORT" -d "$REG" -At <<'SQL'
SELECT ai_complete_async('locked job', 'openai/m', NULL, '{"cache": true}') AS job \gset
SELECT r->>'status' || ': ' || coalesce(r->>'error', 'ok') FROM ai_result(:job, 15000) r;
SQL
)
kill "$locker" 2>/dev/null || true
wait "$locker" 2>/dev/null || true
reset_timeout
trap aig_cleanup EXIT
case "$status" in
succeeded:* | failed:*) ;;
*) fail "the job did not finish: $status" ;;
esac
sleep 0.5
if tail -n +"$log_from" "$AIG_SERVER_LOG" | grep -q "non-empty SPI stack"; then
	tail -n +"$log_from" "$AIG_SERVER_LOG" | grep -B2 -A2 "SPI stack" | head -20
	fail "the job worker left \"transaction left non-empty SPI stack\" in the server log"
fi
pass "locked cache table, async job: $status; no SPI stack left behind"
