#!/usr/bin/env bash
# job_scale.sh — the async job queue at scale (issue 16, item 5), bounded:
# JOB_SCALE_N jobs (20000) from 4 roles, in two rounds with autovacuum
# between them (at most 90 s of waiting each), against the mock:
#  1. the worker's claim and the queue-depth count use the indexes with
#     20000 jobs queued (EXPLAIN: no Seq Scan on ai_gateway.jobs);
#  2. no job is lost or run twice: every job succeeded with one attempt,
#     and the mock saw exactly one request per job;
#  3. the job worker reports its updates: pg_stat_user_tables counted the
#     dead tuples, so autovacuum vacuums ai_gateway.jobs on its own;
#  4. after it, the table holds few dead tuples (pgstattuple: <= 10% of the
#     live ones) and its heap is bounded: <= 1.5 x the same rows compacted
#     (CREATE TABLE AS), i.e. the second round reused the first's space;
#  5. retention deletes them all, in its batches (job_retention = 1s;
#     90 s at most: the worker's cleanup runs once a minute).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
N=${JOB_SCALE_N:-20000}
ROLES=4
PER=$((N / ROLES / 2)) # jobs per role per round
MODEL=ollama/job-scale
q() { aig_psql "$PGPORT" -d "$DB" -At -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
	q -v ON_ERROR_STOP=0 <<'SQL' >/dev/null 2>&1 || true
ALTER SYSTEM RESET ai_gateway.job_retention;
SELECT pg_reload_conf();
DELETE FROM ai_gateway.jobs WHERE role::text LIKE 'aig_scale_%';
DELETE FROM ai_gateway.provider_grants WHERE role::text LIKE 'aig_scale_%';
DROP TABLE IF EXISTS public.aig_scale_copy;
DROP EXTENSION IF EXISTS pgstattuple;
SELECT format('DROP ROLE IF EXISTS aig_scale_%s', g) FROM generate_series(1, 4) g \gexec
SQL
}
trap cleanup EXIT
cleanup
q >/dev/null <<SQL
CREATE EXTENSION pgstattuple;
SELECT format('CREATE ROLE aig_scale_%s', g) FROM generate_series(1, $ROLES) g \gexec
SELECT ai_gateway.grant_provider('ollama', 'aig_scale_' || g) FROM generate_series(1, $ROLES) g;
SQL

# 1. the plans with N jobs queued (uncommitted: the worker does not see them)
plans=$(q <<SQL
BEGIN;
INSERT INTO ai_gateway.jobs (role, request)
    SELECT 'aig_scale_' || (g % $ROLES + 1), '{"prompt": "p", "model": "$MODEL"}' FROM generate_series(1, $N) g;
ANALYZE ai_gateway.jobs;
EXPLAIN (COSTS OFF) WITH RECURSIVE r(role) AS (
  (SELECT role FROM ai_gateway.jobs WHERE status = 'queued' ORDER BY role LIMIT 1)
  UNION ALL SELECT (SELECT j.role FROM ai_gateway.jobs j WHERE j.status = 'queued'
   AND j.role > r.role ORDER BY j.role LIMIT 1) FROM r WHERE r.role IS NOT NULL)
SELECT c.role::text, c.id FROM r CROSS JOIN LATERAL (SELECT j.role, j.id
  FROM ai_gateway.jobs j WHERE j.role = r.role AND j.status = 'queued'
  AND j.next_attempt_at <= now() ORDER BY j.id LIMIT 48) c ORDER BY c.id;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ai_gateway.jobs
  WHERE role = 'aig_scale_1' AND status IN ('queued', 'running');
EXPLAIN (COSTS OFF) UPDATE ai_gateway.jobs SET status = 'running', attempts = attempts + 1
  WHERE id = ANY ('{1,2,3}'::bigint[]) AND status = 'queued';
ROLLBACK;
SQL
)
if grep -q "Seq Scan" <<<"$plans"; then
	echo "$plans" >&2
	fail "a job queue query scans ai_gateway.jobs with $N jobs queued"
fi
pass "claim, queue-depth count and claim update use indexes with $N jobs queued"

# run_round FROM TO: each role queues jobs FROM..TO (one transaction each); waits for all (240 s at most)
run_round() {
	for ((r = 1; r <= ROLES; r++)); do
		q -c "SET ROLE aig_scale_$r" \
			-c "SELECT count(ai_complete_async('scale ' || g, '$MODEL')) FROM generate_series($1, $2) g" >/dev/null
	done
	for _ in $(seq 1 2400); do
		[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role::text LIKE 'aig_scale_%'
		           AND status IN ('queued', 'running')")" = 0 ] && return 0
		sleep 0.1
	done
	fail "jobs still queued or running after 240 s"
}
# wait_autovacuum: autovacuum vacuums ai_gateway.jobs once more (90 s at most)
wait_autovacuum() {
	local n0
	q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	n0=$(q -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass")
	for _ in $(seq 1 180); do
		[ "$(q -c "SELECT autovacuum_count > $n0 FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass")" = t ] &&
			return 0
		sleep 0.5
	done
	fail "autovacuum did not vacuum ai_gateway.jobs within 90 s of $((PER * ROLES)) jobs"
}

aig_mock_reset "$MOCK_PORT"
run_round 1 "$PER"
# 3. the worker's updates are counted (two a job): autovacuum can see them
sleep 2
dead=$(q -c "SELECT n_tup_upd >= $((2 * PER * ROLES)) FROM pg_stat_user_tables
             WHERE relid = 'ai_gateway.jobs'::regclass")
[ "$dead" = t ] || fail "the job worker's updates of ai_gateway.jobs are not in pg_stat_user_tables: $(q -c "SELECT n_tup_upd, n_dead_tup FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass")"
wait_autovacuum
pass "the job worker's updates are counted; autovacuum vacuumed ai_gateway.jobs after $((PER * ROLES)) jobs"
run_round $((PER + 1)) $((2 * PER))
wait_autovacuum

# 2. audit: each job once
audit=$(q -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1),
                            count(DISTINCT request->>'prompt' || role::text)
                     FROM ai_gateway.jobs WHERE role::text LIKE 'aig_scale_%'")
read -r all ok distinct <<<"$audit"
[ "$all" = "$N" ] && [ "$ok" = "$N" ] && [ "$distinct" = "$N" ] ||
	fail "jobs: $all queued, $ok succeeded with one attempt, $distinct distinct (expected $N each)"
reqs=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('job-scale', 0)")
[ "$reqs" = "$N" ] || fail "the mock saw $reqs requests for $N jobs"
pass "$N jobs from $ROLES roles: each succeeded once, one request each"

# 4. dead tuples and size, against the same rows compacted
read -r live deadt heap copy <<<"$(q -F ' ' <<'SQL' | tail -1
CREATE TABLE public.aig_scale_copy AS SELECT * FROM ai_gateway.jobs;
SELECT s.tuple_count, s.dead_tuple_count, pg_relation_size('ai_gateway.jobs'),
       pg_relation_size('public.aig_scale_copy')
  FROM pgstattuple('ai_gateway.jobs') s;
SQL
)"
echo "  jobs table: $live live, $deadt dead tuples; heap $heap bytes, the rows compacted $copy bytes"
[ "$deadt" -le $((live / 10)) ] || fail "$deadt dead tuples in ai_gateway.jobs for $live live ones after autovacuum"
[ "$heap" -le $((copy * 3 / 2)) ] || fail "ai_gateway.jobs heap is $heap bytes, over 1.5 x the $copy bytes its rows need"
pass "after autovacuum: dead tuples <= 10% of live, heap <= 1.5 x the rows compacted"

# 5. retention: every one of them goes (several batches of 5000)
q -c "ALTER SYSTEM SET ai_gateway.job_retention = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
gone=
for _ in $(seq 1 180); do
	[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role::text LIKE 'aig_scale_%'")" = 0 ] && gone=1 && break
	sleep 0.5
done
[ -n "$gone" ] || fail "job_retention = 1s: $(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role::text LIKE 'aig_scale_%'") of $N finished jobs still there after 90 s"
pass "job_retention deleted the $N finished jobs (batches of 5000)"
