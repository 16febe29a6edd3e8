#!/usr/bin/env bash
# async.sh — async jobs across sessions and crashes (in aig_regression, the
# workers' database):
#  1. NOTIFY ai_gateway_jobs announces a finished job to a listener;
#  2. a rolled-back job never reaches the provider;
#  3. a server stopped with -m immediate mid-queue, and a job worker killed
#     with SIGKILL mid-batch: afterwards every job finishes, each with
#     exactly one stored result (in-flight ones were sent again).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)

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

wait_all() {   # wait until no job of the marker prompt is queued or running
	for _ in $(seq 1 300); do
		left=$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE request->>'prompt' LIKE '$1%' AND status IN ('queued', 'running')" 2>/dev/null || echo x)
		[ "$left" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}
wait_up() {
	for _ in $(seq 1 100); do
		q -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# 3a. immediate shutdown mid-queue
aig_mock_reset "$MOCK_PORT"
q -c "SELECT count(ai_complete_async('crash-a ' || g, 'ollama/slow+latency=300')) FROM generate_series(1, 120) g" >/dev/null
sleep 0.8
running=$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE request->>'prompt' LIKE 'crash-a%' AND status = 'running'")
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/cluster/data" -m immediate -w stop >/dev/null
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/cluster/data" -w start -l "$WORK/cluster/server.log" >/dev/null
wait_up || fail "server did not come back"
wait_all crash-a || fail "jobs did not finish after the restart"
res=$(q -c "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(DISTINCT id), count(result) FROM ai_gateway.jobs WHERE request->>'prompt' LIKE 'crash-a%'")
sent=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('slow+latency=300', 0)")
echo "  120 jobs, $running running at the immediate stop: after restart $res (jobs|succeeded|ids|results); provider saw $sent requests"
[ "$res" = "120|120|120|120" ] || fail "jobs lost or not finished: $res"
[ "$sent" -ge 120 ] || fail "only $sent requests"
pass "immediate shutdown mid-queue: every job finished once (at-least-once delivery)"

# 3b. the job worker killed mid-batch
aig_mock_reset "$MOCK_PORT"
q -c "SELECT count(ai_complete_async('crash-b ' || g, 'ollama/slow2+latency=300')) FROM generate_series(1, 80) g" >/dev/null
sleep 0.6
wpid=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'ai_gateway job worker'")
[ -n "$wpid" ] || fail "no job worker"
kill -9 "$wpid"
sleep 1
wait_up || fail "server did not come back after the worker was killed"
wait_all crash-b || fail "jobs did not finish after the worker was killed"
res=$(q -c "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(result) FROM ai_gateway.jobs WHERE request->>'prompt' LIKE 'crash-b%'")
echo "  80 jobs, job worker killed mid-batch: $res (jobs|succeeded|results)"
[ "$res" = "80|80|80" ] || fail "after the worker was killed: $res"
pass "a killed job worker is restarted and every job finishes once"
