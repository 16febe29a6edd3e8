#!/usr/bin/env bash
# test/bench/bench_job_queue.sh — the async job queue at scale: table bloat.
#
# ROLES roles (default 4) queue N jobs (default 100000) between them, in
# two rounds of N/2, each role BATCH jobs a transaction, against the bundled
# mock provider with no latency; the job worker runs them (batch_concurrency
# CONCURRENCY, 64).  After each round it waits (BENCH_JOBQ_AV_WAIT s at most,
# 90) for autovacuum to vacuum ai_gateway.jobs, as it would between bursts.
# Printed before, after each round and after each autovacuum (stats flushed,
# a short wait): ai_gateway.jobs's heap and index sizes (pg_relation_size,
# pg_indexes_size, pg_total_relation_size), n_live_tup / n_dead_tup and the
# vacuum count from pg_stat_user_tables; jobs/s over the two rounds.  The
# baseline, measured in the same run: the same rows copied into a fresh
# table (CREATE TABLE AS, the same indexes) — what the live rows need.  The
# ratio table size / that copy's size is the bloat (target <= 1.5).  Fails
# (exit 1) unless every job succeeded with one attempt.  Takes ~4 minutes
# with N = 100000 on a loaded 2-core machine (90 s of it the autovacuum waits).
#
#   test/bench/bench_job_queue.sh   (BENCH_JOBQ_N, BENCH_JOBQ_ROLES, BENCH_JOBQ_BATCH,
#                                    BENCH_JOBQ_CONCURRENCY, BENCH_JOBQ_AV_WAIT,
#                                    BENCH_JOBQ_RELOPTIONS: storage parameters to compare)
set -euo pipefail
BENCH_NAME=bench_job_queue
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N=${BENCH_JOBQ_N:-100000}
ROLES=${BENCH_JOBQ_ROLES:-4}
BATCH=${BENCH_JOBQ_BATCH:-5000}
CONC=${BENCH_JOBQ_CONCURRENCY:-64}
bench_check_int BENCH_JOBQ_N "$N" 1 10000000
bench_check_int BENCH_JOBQ_ROLES "$ROLES" 1 100
bench_check_int BENCH_JOBQ_BATCH "$BATCH" 1 1000000
bench_check_int BENCH_JOBQ_CONCURRENCY "$CONC" 1 1000
PER=$(((N + ROLES - 1) / ROLES))
bench_require_extension
aig_start_mock mock || bench_die "mock provider did not start"
bench_start_cluster "ai_gateway.batch_concurrency = $CONC" \
	"ai_gateway.max_queued_jobs_per_role = $((PER + 1))" "log_autovacuum_min_duration = 0"
port=$PG_PORT
q() { aig_psql "$port" -d postgres -At -v ON_ERROR_STOP=1 "$@"; }
q >/dev/null <<SQL
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('mock', 'ollama', 'http://127.0.0.1:$mock');
SELECT format('CREATE ROLE bench_jobq_%s', g) FROM generate_series(1, $ROLES) g \gexec
SELECT ai_gateway.grant_provider('mock', 'bench_jobq_' || g) FROM generate_series(1, $ROLES) g;
SQL
# BENCH_JOBQ_RELOPTIONS (e.g. "fillfactor = 100"): storage parameters to compare
if [ -n "${BENCH_JOBQ_RELOPTIONS:-}" ]; then
	q -c "ALTER TABLE ai_gateway.jobs SET (${BENCH_JOBQ_RELOPTIONS})" >/dev/null
fi
q -F ' ' -c "SELECT 'reloptions', coalesce(reloptions::text, '{}') FROM pg_class WHERE oid = 'ai_gateway.jobs'::regclass"
# warm-up: the worker's connections
q -c "SELECT ai_result(ai_complete_async('w', 'mock/m'), 5000)" >/dev/null
q -c "DELETE FROM ai_gateway.jobs" -c "VACUUM ai_gateway.jobs" >/dev/null
sleep 1

# sizes LABEL: one line of figures for ai_gateway.jobs
sizes() {
	q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	sleep 1.5
	q -F ' ' <<SQL
SELECT pg_stat_clear_snapshot();
SELECT '$1', pg_relation_size('ai_gateway.jobs'), pg_indexes_size('ai_gateway.jobs'),
       pg_total_relation_size('ai_gateway.jobs'), n_live_tup, n_dead_tup,
       vacuum_count + autovacuum_count, (SELECT count(*) FROM ai_gateway.jobs)
  FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass;
SQL
}
before=$(sizes before | tail -1)
reqs0=$(curl -s "http://127.0.0.1:$mock/_mock/stats" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("requests", 0))' 2>/dev/null || echo 0)

# run_round K: each role queues PER/2 jobs, BATCH a transaction, the roles
# interleaved; waits until every job finished (the last job's time in t_K)
run_round() {
	local k=$1 from=$2 to=$3 off n r gen=$BENCH_WORK/queue_$1.sql
	: >"$gen"
	for ((off = from; off <= to; off += BATCH)); do
		n=$((to - off + 1 < BATCH ? to - off + 1 : BATCH))
		for ((r = 1; r <= ROLES; r++)); do
			printf "SET ROLE bench_jobq_%d;\nSELECT count(ai_complete_async('job ' || g, 'mock/m')) FROM generate_series(%d, %d) g;\nRESET ROLE;\n" \
				"$r" "$off" "$((off + n - 1))" >>"$gen"
		done
	done
	q -f "$gen" >/dev/null
	q >/dev/null <<'SQL'
DO $$
BEGIN
    FOR i IN 1..60000 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM ai_gateway.jobs WHERE status IN ('queued', 'running'));
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;
SQL
}
# wait_autovacuum: until autovacuum has vacuumed ai_gateway.jobs once more (AV_WAIT s at most)
AV_WAIT=${BENCH_JOBQ_AV_WAIT:-90}
bench_check_int BENCH_JOBQ_AV_WAIT "$AV_WAIT" 0 3600
wait_autovacuum() {
	local n0 n
	n0=$(q -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass")
	for ((i = 0; i < AV_WAIT * 2; i++)); do
		n=$(q -c "SELECT pg_stat_clear_snapshot(); SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'ai_gateway.jobs'::regclass" | tail -1)
		[ "$n" -gt "$n0" ] && return 0
		sleep 0.5
	done
	echo "$BENCH_NAME: note: no autovacuum of ai_gateway.jobs within $AV_WAIT s" >&2
}
HALF=$(((PER + 1) / 2))
t0=$(date +%s.%N)
run_round 1 1 "$HALF"
t1=$(date +%s.%N)
r1=$(sizes round1 | tail -1)
wait_autovacuum
r1v=$(sizes vacuum1 | tail -1)
t2=$(date +%s.%N)
run_round 2 "$((HALF + 1))" "$PER"
t3=$(date +%s.%N)
r2=$(sizes round2 | tail -1)
wait_autovacuum
after=$(sizes vacuum2 | tail -1)
# the baseline: the same rows in a fresh table with the same indexes
base=$(q -F ' ' <<'SQL' | tail -1
CREATE TABLE public.jobs_copy AS SELECT * FROM ai_gateway.jobs;
CREATE INDEX ON public.jobs_copy (id);
SELECT format('CREATE INDEX ON public.jobs_copy %s', substring(indexdef FROM '\(.*$'))
  FROM pg_indexes WHERE schemaname = 'ai_gateway' AND tablename = 'jobs' AND indexname <> 'jobs_pkey' \gexec
SELECT 'copy', pg_relation_size('public.jobs_copy'), pg_indexes_size('public.jobs_copy'),
       pg_total_relation_size('public.jobs_copy'), 0, 0, 0, (SELECT count(*) FROM public.jobs_copy);
SQL
)
audit=$(q -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE attempts <> 1), count(*) FROM ai_gateway.jobs WHERE request->>'prompt' LIKE 'job %'")
reqs1=$(curl -s "http://127.0.0.1:$mock/_mock/stats" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("requests", 0))' 2>/dev/null || echo 0)
python3 - "$N" "$PER" "$ROLES" "$CONC" "$t0" "$t1" "$t2" "$t3" "$before" "$r1" "$r1v" "$r2" "$after" "$base" "$audit" "$reqs0" "$reqs1" <<'PY'
import sys
n, per, roles, conc = map(int, sys.argv[1:5])
t0, t1, t2, t3 = map(float, sys.argv[5:9])
rows = [s.split() for s in sys.argv[9:15]]
audit = list(map(int, sys.argv[15].split()))
reqs = int(sys.argv[17]) - int(sys.argv[16])
total = per * roles
busy = (t1 - t0) + (t3 - t2)
print(f"job queue: {total} jobs from {roles} roles ({per} each) in two rounds, mock without latency, {conc} in flight")
print(f"  queueing and running: round 1 {t1 - t0:.1f} s, round 2 {t3 - t2:.1f} s: {total / busy:.0f} jobs/s (autovacuum waited for between rounds)")
print(f"  {'':7} {'heap':>12} {'indexes':>12} {'total':>12} {'n_live':>8} {'n_dead':>8} {'vacuums':>7} {'rows':>8}")
for r in rows:
    print(f"  {r[0]:7} {int(r[1]):12d} {int(r[2]):12d} {int(r[3]):12d} {r[4]:>8} {r[5]:>8} {r[6]:>7} {r[7]:>8}")
after, base, r1v, r2 = rows[4], rows[5], rows[2], rows[3]
grow = int(r2[1]) / max(int(r1v[1]), 1)
print(f"  round 2 heap / round 1 heap (vacuumed): {grow:.2f} with the rows doubling (2.00 = space reused as well as a compact table would)")
ratio = int(after[3]) / max(int(base[3]), 1)
print(f"  total size after / the same rows compacted: {ratio:.2f} (target <= 1.5: {'PASS' if ratio <= 1.5 else 'OVER TARGET'}); "
      f"bytes per job retained {int(after[3]) / max(int(after[7]), 1):.0f}; dead tuples after {after[5]}")
print(f"  audit: {audit[0]} of {audit[2]} succeeded, {audit[1]} with attempts <> 1, mock requests {reqs}")
print(f"RESULT|job queue: ai_gateway.jobs total size after {total} jobs vs the rows compacted|{int(after[3]) / 1048576:.1f} MB|{int(base[3]) / 1048576:.1f} MB|{ratio:.3f}|<= 1.50")
print(f"RESULT|job queue: throughput, {total} jobs, {roles} roles, mock no latency|{total / busy:.0f} jobs/s|-|-|-")
print(f"RESULT|job queue: dead tuples in ai_gateway.jobs after {total} jobs|{after[5]}|{after[4]} live|{int(after[5]) / max(int(after[4]), 1):.3f}|<= 0.20")
PY
read -r ok bad all <<<"$audit"
[ "$ok" = "$all" ] && [ "$all" = "$((PER * ROLES))" ] && [ "$bad" = 0 ] || bench_die "$ok of $all jobs succeeded ($bad with attempts <> 1; expected $((PER * ROLES)))"
