#!/usr/bin/env bash
# test/bench/bench_async.sh — async job throughput.
#
# N jobs (default 1000) are queued in one transaction; from its commit,
# the time until the last one has succeeded is measured.  The upstream (the
# bundled mock provider) answers in LATENCY ms (100), and the job worker
# keeps CONCURRENCY (64, ai_gateway.batch_concurrency and, since all jobs are
# one role's, job_max_running_per_role) requests in flight.
# Printed: the time and its ratio to the ideal N x LATENCY / CONCURRENCY
# (target <= 1.3), and a RESULT line.  Fails (exit 1) unless every job
# succeeded.
#
#   test/bench/bench_async.sh     (BENCH_ASYNC_N, BENCH_ASYNC_LATENCY, BENCH_ASYNC_CONCURRENCY)
set -euo pipefail
BENCH_NAME=bench_async
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N=${BENCH_ASYNC_N:-1000}
LAT=${BENCH_ASYNC_LATENCY:-100}
CONC=${BENCH_ASYNC_CONCURRENCY:-64}
bench_check_int BENCH_ASYNC_N "$N" 1 1000000
bench_check_int BENCH_ASYNC_LATENCY "$LAT" 1 60000
bench_check_int BENCH_ASYNC_CONCURRENCY "$CONC" 1 1000
bench_require_extension
aig_start_mock mock || bench_die "mock provider did not start"
# one role queues every job here: let it use the whole CONCURRENCY (by
# default one role gets 3/4 of it, ai_gateway.job_max_running_per_role)
bench_start_cluster "ai_gateway.batch_concurrency = $CONC" "ai_gateway.job_max_running_per_role = $CONC"
port=$PG_PORT
aig_psql "$port" -d postgres -At >/dev/null <<SQL
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('slow', 'ollama', 'http://127.0.0.1:$mock');
SQL
# warm-up: the worker's connections
aig_psql "$port" -d postgres -At -c "SELECT ai_result(ai_complete_async('w', 'slow/m'), 0)" >/dev/null
sleep 1
res=$(aig_psql "$port" -d postgres -At <<SQL
BEGIN;
SELECT count(ai_complete_async('job ' || g, 'slow/m+latency=$LAT')) FROM generate_series(1, $N) g;
COMMIT;
SELECT extract(epoch FROM clock_timestamp())::float8 AS t0 \gset
DO \$\$
BEGIN
    FOR i IN 1..6000 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM ai_gateway.jobs WHERE status IN ('queued', 'running'));
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp())::float8 - :t0;
SELECT count(*) FILTER (WHERE status = 'succeeded') FROM ai_gateway.jobs WHERE request->>'prompt' LIKE 'job %';
SQL
)
secs=$(echo "$res" | tail -2 | head -1)
ok=$(echo "$res" | tail -1)
python3 - "$N" "$LAT" "$CONC" "$secs" "$ok" <<'PY'
import sys
n, lat, conc, secs, ok = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ideal = n * lat / 1000 / conc
print(f"async jobs: {n} jobs, upstream latency {lat} ms, {conc} in flight")
print(f"  all done {secs:.2f} s after the commit; ideal {ideal:.2f} s; ratio {secs/ideal:.2f} (target <= 1.3: {'PASS' if secs/ideal <= 1.3 else 'OVER TARGET'}); succeeded {ok}")
print(f"RESULT|async: {n} jobs x {lat} ms, {conc} in flight, vs ideal|{secs:.2f} s|{ideal:.2f} s|{secs/ideal:.3f}|<= 1.30")
PY
[ "$ok" = "$N" ] || bench_die "$ok of $N jobs succeeded"
