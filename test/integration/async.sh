#!/usr/bin/env bash
# async.sh — async jobs across sessions (in aig_regression, the workers'
# database):
#  1. NOTIFY ai_gateway_jobs announces a finished job to a listener;
#  2. a rolled-back job never reaches the provider.
# Crashes, immediate shutdowns and killed job workers are in crash.sh, each
# in a throwaway cluster of its own.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }

# 1. NOTIFY
out=$(q <<'SQL'
LISTEN ai_gateway_jobs;
SELECT ai_complete_async('notify me', 'ollama/m') AS id \gset
SELECT (ai_result(:id, 10000))->>'status';
SELECT pg_sleep(0.2);
SELECT :id;
SQL
)
id=$(echo "$out" | tail -1)
echo "$out" | grep -q "Asynchronous notification \"ai_gateway_jobs\" with payload \"$id\"" ||
	{ echo "$out"; fail "no NOTIFY for job $id"; }
pass "NOTIFY ai_gateway_jobs with the job id"

# 2. ROLLBACK: never sent
aig_mock_reset "$MOCK_PORT"
q -c "BEGIN" -c "SELECT ai_complete_async('x', 'ollama/async-rolled-back')" -c "ROLLBACK" >/dev/null
q -c "SELECT ai_complete_async('x', 'ollama/async-marker')" >/dev/null
for _ in $(seq 1 100); do
	[ "$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('async-marker', 0)")" = 1 ] && break
	sleep 0.1
done
sent=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('async-rolled-back', 0)")
[ "$sent" = 0 ] || fail "a rolled-back job reached the provider"
pass "a rolled-back job is never sent"
