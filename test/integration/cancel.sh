#!/usr/bin/env bash
# cancel.sh — pg_cancel_backend, statement_timeout and pg_terminate_backend
# end an in-flight provider call promptly, the backend stays usable after a
# cancel, and a terminated backend takes nobody else down.
# Env: PGPORT, MOCK_PORT (from test/run_all.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_cancel
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"

# 1. pg_cancel_backend during a call that would hang for 120 s
out=$(mktemp)
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'aig_cancel_me'" \
	-c "SELECT ai_complete('x', 'openai/m+hang')" >"$out" 2>&1 || true ) &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'aig_cancel_me' AND state = 'active' AND query LIKE '%ai_complete%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the hanging call never showed up in pg_stat_activity"
sleep 0.3   # let the request reach the mock and block
t0=$(aig_now_ms)
aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$bg"
t1=$(aig_now_ms)
grep -q "canceling statement due to user request" "$out" || { cat "$out"; fail "no cancel error"; }
ms=$((t1 - t0))
echo "  pg_cancel_backend -> error in ${ms} ms (includes psql exit)"
[ "$ms" -lt 2000 ] || fail "cancel took ${ms} ms"
pass "pg_cancel_backend ends a hanging call"

# 2. statement_timeout, then the same backend makes a normal call
res=$(aig_psql "$PGPORT" -d "$DB" -At -v ON_ERROR_STOP=0 2>&1 <<'SQL' || true
SET statement_timeout = '250ms';
\timing on
SELECT ai_complete('x', 'anthropic/m+hang');
\timing off
RESET statement_timeout;
SELECT ai_complete('after cancel', 'anthropic/m');
SQL
)
echo "$res" | grep -q "canceling statement due to statement timeout" || { echo "$res"; fail "no timeout error"; }
echo "$res" | grep -q "mock reply from anthropic m: after cancel" || { echo "$res"; fail "backend unusable after cancel"; }
tms=$(echo "$res" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | head -1)
echo "  statement_timeout=250ms -> error after ${tms:-?} ms"
pass "statement_timeout ends a hanging call; the backend keeps working"

# 3. pg_terminate_backend mid-call: only that backend exits
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'aig_kill_me'" \
	-c "SELECT ai_complete('x', 'gemini/m+hang')" >/dev/null 2>&1 || true ) &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'aig_kill_me' AND state = 'active' AND query LIKE '%ai_complete%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the call to terminate never showed up"
sleep 0.3
aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pg_terminate_backend($pid)" >/dev/null
wait "$bg"
for _ in $(seq 1 100); do
	alive=$(aig_psql "$PGPORT" -d "$DB" -Atc "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid")
	[ "$alive" = 0 ] && break
	sleep 0.05
done
[ "$alive" = 0 ] || fail "terminated backend still there"
r=$(aig_psql "$PGPORT" -d "$DB" -Atc "SELECT ai_complete('alive?', 'ollama/m')")
[ "$r" = "mock reply from ollama m: alive?" ] || fail "server unusable after terminate: $r"
pass "pg_terminate_backend ends only that backend"
# 4. a batch of hanging prompts: pg_cancel_backend stops all of it promptly
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'aig_cancel_batch'" \
	-c "SELECT count(*) FROM ai_complete_batch(array(SELECT 'p' || g FROM generate_series(1, 100) g), 'openai/m+hang', NULL, '{\"concurrency\": 32}')" >"$out" 2>&1 || true ) &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'aig_cancel_batch' AND state = 'active' AND query LIKE '%ai_complete_batch%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the batch never showed up"
sleep 0.3
t0=$(aig_now_ms)
aig_psql "$PGPORT" -d "$DB" -Atc "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$bg"
t1=$(aig_now_ms)
grep -q "canceling statement due to user request" "$out" || { cat "$out"; fail "no cancel error for the batch"; }
echo "  batch of 100 hanging prompts (32 in flight): canceled in $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 2000 ] || fail "batch cancel took $((t1 - t0)) ms"
r=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT count(completion) FROM ai_complete_batch(array['a','b'], 'openai/m')")
[ "$r" = 2 ] || fail "batches broken after a cancel: $r"
pass "pg_cancel_backend stops a whole batch; the next batch works"
rm -f "$out"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
