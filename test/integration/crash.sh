#!/usr/bin/env bash
# crash.sh — crashes and immediate shutdowns, each in a throwaway cluster of
# its own (the shared one of run_all.sh is left alone) with its own mock
# provider; the workers serve the database "postgres":
#  a. a backend killed with SIGKILL mid-call: the postmaster reinitialises,
#     the server works afterwards, audit rows written before the crash stay,
#     quota usage comes back as last saved (README: a crash loses at most
#     what was used since the last save) and is then exact again;
#  b. after a restart, before the worker has loaded the saved quota usage,
#     a call already counts it (an exhausted quota refuses);
#  c. the job worker killed with SIGKILL mid-batch: it comes back by
#     itself, every job finishes with one result, and exactly the jobs that
#     were running at the crash were sent again (at-least-once);
#  d. the job worker's batch canceled (pg_cancel_backend): the jobs it had
#     claimed are queued again at once, without a restart;
#  e. with ai_gateway.job_max_attempts = 1 a job interrupted by a crash
#     fails instead of being sent a second time (at most once);
#  f. pg_ctl stop -m immediate mid-queue, then start: the server log shows a
#     clean recovery, every job finishes once, only the running ones were
#     sent again, audit rows and quota usage within the documented bounds.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)

base="${WORK:-$(mktemp -d /tmp/aig_crash.XXXXXX)}/crash"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
aig_start_mock MOCK

PORT=
DIR=
q() { aig_psql "$PORT" -d postgres -At "$@"; }
qu() { aig_psql "$PORT" -d postgres -At -U crash_user "$@"; }
sent() { aig_mock_stats "$MOCK" "s['by_model'].get('$1', 0)"; }
worker_pid() { q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'" 2>/dev/null || true; }

# new_cluster NAME [postgresql.conf lines...]: a fresh cluster with the
# extension in "postgres", an ollama provider on the mock, and crash_user
new_cluster() {
	local name=$1
	shift
	DIR="$base/$name"
	PORT=$(aig_free_port)
	aig_start_cluster "$DIR" "$PORT" "ai_gateway.batch_concurrency = 4" "$@"
	aig_psql "$PORT" -d postgres -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
CREATE ROLE crash_user LOGIN;
SELECT ai_gateway.grant_provider('ollama', 'crash_user');
SQL
	for _ in $(seq 1 100); do
		[ -n "$(worker_pid 'ai_gateway job worker')" ] && [ -n "$(worker_pid 'ai_gateway worker')" ] && break
		sleep 0.1
	done
	[ -n "$(worker_pid 'ai_gateway job worker')" ] || fail "$name: no job worker"
	aig_mock_reset "$MOCK"
}

stop_cluster() {
	"$AIG_ROOT/test/cluster.sh" stop "$DIR"
}

wait_up() {
	for _ in $(seq 1 300); do
		q -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# wait until no job is queued or running
wait_jobs() {
	local left
	for _ in $(seq 1 600); do
		left=$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE status IN ('queued', 'running')" 2>/dev/null || echo x)
		[ "$left" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_sent MODEL N: until the mock has seen N requests for MODEL
wait_sent() {
	for _ in $(seq 1 600); do
		[ "$(sent "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# the server log from line $1 on contains, in this order, the lines matching
# the remaining patterns
log_in_order() {
	local from=$1
	shift
	tail -n +"$from" "$DIR/server.log" | python3 -c '
import re, sys
pats = sys.argv[1:]
i = 0
for line in sys.stdin:
    if i < len(pats) and re.search(pats[i], line):
        i += 1
sys.exit(0 if i == len(pats) else 1)' "$@"
}
log_lines() { wc -l <"$DIR/server.log"; }
# flush_audit: wait until what is queued is written.  After a restart the
# launcher starts the database's workers a little later (a loaded machine
# stretches that), so audit_flush() is asked again, a bounded number of times.
flush_audit() {
	for _ in $(seq 1 12); do
		[ "$(q -c "SELECT ai_gateway.audit_flush()")" = t ] && return 0
		sleep 1
	done
	fail "the audit queue was not written (audit_flush() stayed false)"
}
# wait_log FROM PATTERN: until the server log from line FROM on matches
wait_log() {
	for _ in $(seq 1 300); do
		tail -n +"$1" "$DIR/server.log" | grep -Eq "$2" && return 0
		sleep 0.1
	done
	return 1
}

# queue N jobs for MODEL as crash_user (metadata n = 1..N)
queue_jobs() {
	qu -c "SELECT count(ai_complete_async('job ' || g, 'ollama/$2', NULL,
	          jsonb_build_object('metadata', jsonb_build_object('n', g))))
	       FROM generate_series(1, $1) g" >/dev/null
}

# crash_mid_batch MODEL ACTION: once the batch is under way (5 requests at
# the mock: the second wave of the first claim of 16 jobs), read in one
# session the ids of the running jobs, how many had finished and the saved
# quota usage, then at once run ACTION (a shell command; $WPID is the job
# worker's pid).  Sets RUNNING (ids, comma-separated), NRUNNING,
# DONE_BEFORE, SAVED_BEFORE, KILLED_PID.
crash_mid_batch() {
	local model=$1 out
	wait_sent "$model" 5 || fail "the batch never started"
	out=$(CRASH_ACTION=$2 q 2>/dev/null <<'SQL' || true
SELECT pid AS wpid FROM pg_stat_activity WHERE backend_type = 'ai_gateway job worker' \gset
SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') AS running, count(*) AS nrunning
  FROM ai_gateway.jobs WHERE status = 'running' \gset
SELECT count(*) AS done FROM ai_gateway.jobs WHERE status IN ('succeeded', 'failed') \gset
SELECT coalesce(sum(requests), 0) AS saved FROM ai_gateway.quota_usage \gset
\setenv WPID :wpid
\! sh -c "$CRASH_ACTION"
\echo RUNNING=:running NRUNNING=:nrunning DONE=:done SAVED=:saved WPID=:wpid
SQL
)
	RUNNING=$(echo "$out" | sed -n 's/.*RUNNING=\([0-9,]*\) NRUNNING.*/\1/p')
	NRUNNING=$(echo "$out" | sed -n 's/.*NRUNNING=\([0-9]*\) .*/\1/p')
	DONE_BEFORE=$(echo "$out" | sed -n 's/.* DONE=\([0-9]*\) .*/\1/p')
	SAVED_BEFORE=$(echo "$out" | sed -n 's/.* SAVED=\([0-9]*\) .*/\1/p')
	KILLED_PID=$(echo "$out" | sed -n 's/.* WPID=\([0-9]*\).*/\1/p')
	[ -n "$RUNNING" ] && [ -n "$KILLED_PID" ] || { echo "$out"; fail "no running job seen before the crash"; }
}

# rerun_ids: ids of the jobs that were sent more than once
rerun_ids() {
	q -c "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM ai_gateway.jobs WHERE attempts > 1"
}

# ---------------------------------------------------------------------------
# a. a backend killed mid-call
echo "  -- a. backend killed with SIGKILL mid-call"
new_cluster a "ai_gateway.quota_persist_ms = 300"
q -c "INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('crash_user', 'day', 40)" >/dev/null
# 10 calls, written to the audit log and saved as quota usage before the crash
qu -c "SELECT count(ai_complete('x', 'ollama/a-pre')) FROM generate_series(1, 10)" >/dev/null
flush_audit
for _ in $(seq 1 200); do
	[ "$(q -c "SELECT coalesce(sum(requests), 0) FROM ai_gateway.quota_usage")" -ge 10 ] && break
	sleep 0.1
done
[ "$(q -c "SELECT coalesce(sum(requests), 0) FROM ai_gateway.quota_usage")" -ge 10 ] || fail "usage never saved"
# 5 more calls that may or may not be saved or audited when the crash comes
qu -c "SELECT count(ai_complete('x', 'ollama/a-late')) FROM generate_series(1, 5)" >/dev/null
( qu -c "SET application_name = 'crash_victim'" -c "SELECT ai_complete('x', 'ollama/a-hang+hang')" >/dev/null 2>&1 || true ) &
victim_shell=$!
wait_sent 'a-hang+hang' 1 || fail "the hanging call never reached the mock"
pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_victim' AND state = 'active'")
[ -n "$pid" ] || fail "no backend in the hanging call"
from=$(log_lines)
kill -9 "$pid"
wait "$victim_shell" || true
wait_log "$from" "reinitializing" || fail "the postmaster did not reinitialise"
wait_up || fail "server did not come back after a backend was killed"
log_in_order "$from" "(server process|client backend) \\(PID $pid\\) was terminated by signal 9" \
	"all server processes terminated; reinitializing" \
	"database system was interrupted|automatic recovery in progress" \
	"database system is ready to accept connections" ||
	{ tail -n +"$from" "$DIR/server.log"; fail "no crash restart in the server log"; }
pass "postmaster reinitialised after a backend was killed mid-call"

# usage: as saved before the crash (between the 10 saved calls and all 16
# charged), then exact again: saved + the calls made since the restart
# (the saved row changes only once usage does)
saved=$(q -c "SELECT requests FROM ai_gateway.quota_usage")
out=$(qu -c "SELECT ai_complete('after', 'ollama/a-after')")
[ "$out" = "mock reply from ollama a-after: after" ] || fail "call after the crash: $out"
usage=""
for _ in $(seq 1 100); do
	usage=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'crash_user'")
	[ "$usage" -ge "$((saved + 1))" ] 2>/dev/null && break
	sleep 0.1
done
echo "  usage saved before the crash $saved (10 known saved, 16 charged); after the restart and one call $usage"
[ "$saved" -ge 10 ] && [ "$saved" -le 16 ] || fail "saved usage $saved outside [10, 16]"
[ "$usage" = "$((saved + 1))" ] || fail "usage after the restart $usage, expected $((saved + 1))"
# the quota holds again from there: exactly 40 - usage more calls pass
res=$(qu 2>&1 <<'SQL'
DO $$
DECLARE ok int := 0; refused int := 0;
BEGIN
    FOR i IN 1..40 LOOP
        BEGIN
            PERFORM ai_complete('x', 'ollama/a-fill');
            ok := ok + 1;
        EXCEPTION WHEN configuration_limit_exceeded THEN
            refused := refused + 1;
        END;
    END LOOP;
    RAISE NOTICE 'ok=% refused=%', ok, refused;
END $$;
SQL
)
ok=$(echo "$res" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
[ "$ok" = "$((40 - usage))" ] || fail "after the crash $ok calls passed a quota with $((40 - usage)) left"
[ "$(sent a-fill)" = "$ok" ] || fail "the mock saw $(sent a-fill) of $ok calls"
pass "quota usage after the crash: as last saved ($saved), then exact ($ok more passed, the rest 53400)"

flush_audit
audit=$(q -c "SELECT count(*) FILTER (WHERE model = 'a-pre'), count(*) FILTER (WHERE model = 'a-late'),
                     count(*) FILTER (WHERE model = 'a-hang+hang'), count(*) FILTER (WHERE model = 'a-after')
                FROM ai_gateway.audit_log")
echo "  audit rows (pre-crash written | 5 just before | killed call | after): $audit"
IFS='|' read -r a_pre a_late a_hang a_after <<<"$audit"
[ "$a_pre" = 10 ] || fail "audit rows written before the crash lost: $a_pre of 10"
[ "$a_late" -le 5 ] || fail "audit rows duplicated: $a_late"
[ "$a_hang" = 0 ] || fail "a row for the killed call: $a_hang"
[ "$a_after" = 1 ] || fail "no audit row after the crash"
pass "audit: rows written before the crash kept, none duplicated, logging works after"
stop_cluster

# ---------------------------------------------------------------------------
# b. restart with an exhausted quota: the saved usage counts before any call,
#    even when the worker has not loaded it (here: no worker at all after
#    the restart, max_worker_processes = 0)
echo "  -- b. a call after a restart, before any worker loaded the saved usage"
new_cluster b
q -c "INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('crash_user', 'day', 5)" >/dev/null
qu -c "SELECT count(ai_complete('x', 'ollama/b-pre')) FROM generate_series(1, 5)" >/dev/null
q -c "ALTER SYSTEM SET max_worker_processes = 0" >/dev/null
# a fast shutdown saves the usage
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$DIR/data" -m fast -w restart -l "$DIR/server.log" >/dev/null
wait_up || fail "server did not come back"
[ -z "$(worker_pid 'ai_gateway worker')" ] || fail "the worker runs"
[ "$(q -c "SELECT requests FROM ai_gateway.quota_usage")" = 5 ] || fail "usage not saved at shutdown"
out=$(qu -c "SELECT ai_complete('x', 'ollama/b-post')" 2>&1 || true)
echo "$out" | grep -q 'quota exceeded for role "crash_user": requests per day' ||
	fail "a call after the restart passed an exhausted quota: $out"
used=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'crash_user'")
[ "$(sent b-post)" = 0 ] && [ "$used" = 5 ] || fail "after the restart: $(sent b-post) sent, usage $used"
pass "after a restart the saved usage counts before the worker loads it (53400)"
stop_cluster

# check_jobs MODEL: every one of the 40 jobs succeeded with one result, and
# exactly the jobs running at the crash ($RUNNING) were sent again
check_jobs() {
	local model=$1 res rerun n
	res=$(q -c "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(result), count(DISTINCT id)
	              FROM ai_gateway.jobs")
	rerun=$(rerun_ids)
	n=$(sent "$model")
	echo "  40 jobs, $NRUNNING running at the crash: $res (jobs|succeeded|results|ids); $n requests at the mock"
	[ "$res" = "40|40|40|40" ] || fail "jobs lost or not finished: $res"
	[ "$rerun" = "$RUNNING" ] || fail "jobs sent again: [$rerun], running at the crash: [$RUNNING]"
	[ "$NRUNNING" -le 16 ] || fail "$NRUNNING jobs running at once (claims are of 4 x batch_concurrency = 16)"
	[ "$n" -ge 40 ] && [ "$n" -le $((40 + NRUNNING)) ] ||
		fail "$n requests at the mock for 40 jobs with $NRUNNING in flight (expected 40..$((40 + NRUNNING)))"
}

# ---------------------------------------------------------------------------
# c. the job worker killed mid-batch
echo "  -- c. job worker killed with SIGKILL mid-batch"
new_cluster c
queue_jobs 40 'c+latency=1500'
from=$(log_lines)
crash_mid_batch 'c+latency=1500' 'kill -9 $WPID'
wait_log "$from" "reinitializing" || fail "the postmaster did not reinitialise"
wait_up || fail "server did not come back after the job worker was killed"
wait_jobs || fail "jobs did not finish after the job worker was killed"
log_in_order "$from" "background worker \"ai_gateway job worker\" \\(PID $KILLED_PID\\) was terminated by signal 9" \
	"database system is ready to accept connections" ||
	{ tail -n +"$from" "$DIR/server.log"; fail "no crash restart in the server log"; }
wpid=$(worker_pid 'ai_gateway job worker')
[ -n "$wpid" ] && [ "$wpid" != "$KILLED_PID" ] || fail "job worker not restarted ($KILLED_PID -> $wpid)"
check_jobs 'c+latency=1500'
pass "killed job worker restarted by itself; every job finished once, only the $NRUNNING running ones were sent again"
stop_cluster

# ---------------------------------------------------------------------------
# d. the job worker's batch canceled (SIGINT, what pg_cancel_backend sends)
echo "  -- d. job worker's batch canceled"
new_cluster d
queue_jobs 40 'd+latency=1500'
from=$(log_lines)
crash_mid_batch 'd+latency=1500' 'kill -INT $WPID'
wait_jobs || fail "jobs claimed by the canceled batch were left running"
wpid=$(worker_pid 'ai_gateway job worker')
[ "$wpid" = "$KILLED_PID" ] || fail "the job worker was restarted ($KILLED_PID -> $wpid)"
! tail -n +"$from" "$DIR/server.log" | grep -q "terminated by signal" || fail "a crash"
check_jobs 'd+latency=1500'
pass "a canceled batch's jobs are queued again at once by the same worker"
stop_cluster

# ---------------------------------------------------------------------------
# e. job_max_attempts = 1: an interrupted job fails, it is not sent twice
echo "  -- e. job_max_attempts = 1, job worker killed mid-batch"
new_cluster e "ai_gateway.job_max_attempts = 1"
queue_jobs 40 'e+latency=1500'
from=$(log_lines)
crash_mid_batch 'e+latency=1500' 'kill -9 $WPID'
wait_log "$from" "reinitializing" || fail "the postmaster did not reinitialise"
wait_up || fail "server did not come back"
wait_jobs || fail "jobs did not finish"
res=$(q -c "SELECT coalesce(string_agg(id::text, ',' ORDER BY id) FILTER (WHERE status = 'failed'), ''),
                   count(*) FILTER (WHERE status = 'succeeded'),
                   count(*) FILTER (WHERE status = 'failed' AND error LIKE '%interrupted%'),
                   max(attempts)
              FROM ai_gateway.jobs")
n=$(sent 'e+latency=1500')
echo "  40 jobs, $NRUNNING running at the crash: failed [$res] (ids|succeeded|interrupted|max attempts); $n requests"
IFS='|' read -r failed ok interrupted maxatt <<<"$res"
[ "$failed" = "$RUNNING" ] || fail "failed jobs [$failed], running at the crash [$RUNNING]"
[ "$ok" = $((40 - NRUNNING)) ] && [ "$interrupted" = "$NRUNNING" ] && [ "$maxatt" = 1 ] || fail "$res"
[ "$n" -le 40 ] && [ "$n" -ge $((40 - NRUNNING)) ] || fail "$n requests for 40 jobs sent at most once"
pass "with job_max_attempts = 1 the $NRUNNING interrupted jobs failed and nothing was sent twice"
stop_cluster

# ---------------------------------------------------------------------------
# f. immediate shutdown mid-queue, then start
echo "  -- f. pg_ctl stop -m immediate mid-queue, then start"
new_cluster f "ai_gateway.quota_persist_ms = 300"
q -c "INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('crash_user', 'day', 100000)" >/dev/null
queue_jobs 40 'f+latency=1500'
from=$(log_lines)
crash_mid_batch 'f+latency=1500' "${as_pg[*]} $PG_BINDIR/pg_ctl -D $DIR/data -m immediate -w stop >/dev/null"
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null
wait_up || fail "server did not come back"
wait_jobs || fail "jobs did not finish after the restart"
log_in_order "$from" "received immediate shutdown request" "database system is shut down" \
	"database system was interrupted|database system was not properly shut down" \
	"automatic recovery in progress" "redo done|redo is not required" \
	"database system is ready to accept connections" ||
	{ tail -n +"$from" "$DIR/server.log"; fail "no clean recovery in the server log"; }
! tail -n +"$from" "$DIR/server.log" | grep -E "PANIC|TRAP|terminated by signal" ||
	fail "the restart was not clean"
pass "server log: immediate shutdown, automatic recovery, ready"
check_jobs 'f+latency=1500'
pass "every job finished once after the restart, only the $NRUNNING running ones were sent again"
# audit: each job has one 'ok' row per successful send that was written
# (at least the last, at most one per attempt)
flush_audit
res=$(q -c "SELECT count(*) FILTER (WHERE coalesce(a.rows, 0) < 1), count(*) FILTER (WHERE a.rows > j.attempts),
                   coalesce(sum(a.rows), 0)
              FROM ai_gateway.jobs j
              LEFT JOIN (SELECT (metadata->>'n')::int AS n, count(*) AS rows FROM ai_gateway.audit_log
                          WHERE status = 'ok' GROUP BY 1) a ON a.n = (j.request->'options'->'metadata'->>'n')::int")
IFS='|' read -r none toomany rows <<<"$res"
echo "  audit: $rows ok rows for 40 jobs ($none without a row, $toomany with more rows than attempts)"
[ "$none" = 0 ] && [ "$toomany" = 0 ] ||
	fail "audit rows out of bounds: $res; audit_stats: $(q -c "SELECT enqueued, written, dropped_full, dropped_other_db, set_aside FROM ai_gateway.audit_stats()")"
# quota: what was saved before the crash, plus every call since the restart
# (each of the 40 - DONE_BEFORE unfinished jobs ran once); at most one
# charge per attempt
usage=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'crash_user'")
low=$((SAVED_BEFORE + 40 - DONE_BEFORE))
echo "  usage $usage: saved before the crash $SAVED_BEFORE, $((40 - DONE_BEFORE)) calls since, at most $((40 + NRUNNING)) charged"
[ "$usage" -ge "$low" ] && [ "$usage" -le $((40 + NRUNNING)) ] ||
	fail "usage $usage outside [$low, $((40 + NRUNNING))]"
pass "audit rows and quota usage within the documented bounds after an immediate shutdown"
stop_cluster
