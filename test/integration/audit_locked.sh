#!/usr/bin/env bash
# audit_locked.sh — the audit writer is never held by a locked audit_log
# (issue 13, defects 2 and 3): another session holds ai_gateway.audit_log
# in ACCESS EXCLUSIVE mode.
#  1. held 5 s: calls meanwhile do not wait; the writer retries with a
#     backoff and writes every row once the lock is gone, none set aside;
#  2. held 16 s: after 5 failed rounds the writer sets the records aside
#     (ai_gateway.audit_rejects, 55P03, audit_stats().set_aside) instead
#     of retrying forever, and writes what comes after the lock normally;
#  3. an administrator's trigger that sleeps on one record: the writer's
#     statement timeout (10 s) sets that record aside (57014), the others
#     of its batch are written.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression

# hold audit_log for $1 seconds in the background; sets $locker
hold_audit_log() {
	aig_psql "$PGPORT" -d "$DB" -c "BEGIN" \
		-c "LOCK TABLE ai_gateway.audit_log IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep($1)" \
		-c "COMMIT" >/dev/null 2>&1 &
	locker=$!
	for _ in $(seq 1 100); do
		held=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'audit_log' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
		[ "$held" = 1 ] && return 0
		sleep 0.1
	done
	kill "$locker"
	fail "the locker session did not take the lock"
}
trap 'kill "${locker:-}" 2>/dev/null || true; aig_cleanup' EXIT

q() { aig_psql "$PGPORT" -d "$DB" -At -c "$1"; }
q "SELECT ai_gateway.audit_flush(10000)" >/dev/null
set_aside0=$(q "SELECT set_aside FROM ai_gateway.audit_stats()")

# 1. a short lock: delayed, not lost, not set aside
hold_audit_log 5
t0=$(aig_now_ms)
q "SELECT count(ai_complete('x', 'ollama/al-short-' || i)) FROM generate_series(1, 20) i" >/dev/null
took=$(($(aig_now_ms) - t0))
[ "$took" -lt 3000 ] || fail "20 calls took $took ms while audit_log was locked (callers must not wait)"
flushed=$(q "SELECT ai_gateway.audit_flush(30000)")
wait "$locker" 2>/dev/null || true
[ "$flushed" = t ] || fail "audit_flush() timed out after the lock was released"
rows=$(q "SELECT count(*) FROM ai_gateway.audit_log WHERE model LIKE 'al-short-%'")
[ "$rows" = 20 ] || fail "$rows of 20 rows written after a 5 s lock"
set_aside=$(q "SELECT set_aside - $set_aside0 FROM ai_gateway.audit_stats()")
[ "$set_aside" = 0 ] || fail "$set_aside records set aside for a 5 s lock (expected a retry)"
pass "audit_log locked 5 s: 20 calls in $took ms, all 20 rows written after, none set aside"

# 2. a long lock: set aside after bounded retries, then back to normal
hold_audit_log 16
q "SELECT count(ai_complete('x', 'ollama/al-long-' || i)) FROM generate_series(1, 5) i" >/dev/null
flushed=$(q "SELECT ai_gateway.audit_flush(30000)")
[ "$flushed" = t ] || fail "the writer was still held by the lock after 30 s"
in_log=$(q "SELECT count(*) FROM ai_gateway.audit_log WHERE model LIKE 'al-long-%'")
kept=$(q "SELECT count(*) FROM ai_gateway.audit_rejects WHERE sqlstate = '55P03' AND record::jsonb->>'model' LIKE 'al-long-%'")
set_aside=$(q "SELECT set_aside - $set_aside0 FROM ai_gateway.audit_stats()")
[ "$in_log" = 0 ] && [ "$kept" = 5 ] && [ "$set_aside" = 5 ] ||
	fail "long lock: $in_log rows in audit_log, $kept in audit_rejects, $set_aside counted (expected 0, 5, 5)"
wait "$locker" 2>/dev/null || true
q "SELECT ai_complete('x', 'ollama/al-after')" >/dev/null
flushed=$(q "SELECT ai_gateway.audit_flush(10000)")
after=$(q "SELECT count(*) FROM ai_gateway.audit_log WHERE model = 'al-after'")
[ "$flushed" = t ] && [ "$after" = 1 ] || fail "the call after the lock was not written ($flushed, $after)"
q "DELETE FROM ai_gateway.audit_rejects" >/dev/null
pass "audit_log locked 16 s: 5 records set aside (55P03) in audit_rejects, the next call written"

# 3. a trigger that sleeps on one record
q "CREATE FUNCTION public.al_sleepy() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.model = 'al-sleepy' THEN PERFORM pg_sleep(60); END IF;
    RETURN NEW;
END \$\$" >/dev/null
q "CREATE TRIGGER al_sleepy BEFORE INSERT ON ai_gateway.audit_log FOR EACH ROW EXECUTE FUNCTION public.al_sleepy()" >/dev/null
trap 'q "DROP TRIGGER IF EXISTS al_sleepy ON ai_gateway.audit_log" >/dev/null 2>&1 || true; aig_cleanup' EXIT
q "SELECT ai_gateway.audit_flush(10000)" >/dev/null
set_aside0=$(q "SELECT set_aside FROM ai_gateway.audit_stats()")
t0=$(aig_now_ms)
q "SELECT ai_complete('x', 'ollama/al-before'), ai_complete('x', 'ollama/al-sleepy'), ai_complete('x', 'ollama/al-behind')" >/dev/null
flushed=$(q "SELECT ai_gateway.audit_flush(40000)")
took=$(($(aig_now_ms) - t0))
q "DROP TRIGGER al_sleepy ON ai_gateway.audit_log" >/dev/null
q "DROP FUNCTION public.al_sleepy()" >/dev/null
trap aig_cleanup EXIT
written=$(q "SELECT string_agg(model, ',' ORDER BY id) FROM ai_gateway.audit_log WHERE model IN ('al-before', 'al-sleepy', 'al-behind')")
kept=$(q "SELECT string_agg(sqlstate || ' ' || (record::jsonb->>'model'), ',') FROM ai_gateway.audit_rejects")
set_aside=$(q "SELECT set_aside - $set_aside0 FROM ai_gateway.audit_stats()")
[ "$flushed" = t ] && [ "$written" = "al-before,al-behind" ] && [ "$kept" = "57014 al-sleepy" ] && [ "$set_aside" = 1 ] ||
	fail "sleeping trigger: flushed=$flushed written=$written kept=$kept set_aside=$set_aside"
q "DELETE FROM ai_gateway.audit_rejects" >/dev/null
pass "a trigger sleeping on one record: it is set aside (57014) after the statement timeout, the others written (${took} ms)"
