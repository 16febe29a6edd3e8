#!/usr/bin/env bash
# test/bench/bench_batch.sh — set-based throughput of ai_complete_batch.
#
# N prompts (default 1000) through a provider whose every answer takes
# LATENCY ms (default 100; the bundled mock provider sleeps that long),
# CONCURRENCY in flight (default 64), in one statement.  The ideal is
# N x LATENCY / CONCURRENCY; the benchmark prints the measured time and its
# ratio to the ideal (target <= 1.2), plus what calling ai_complete() row by
# row would take (N x LATENCY, not run).  RESULT: measured vs ideal.
# Fails (exit 1) unless every prompt got its answer.
#
#   test/bench/bench_batch.sh     (BENCH_BATCH_N, BENCH_BATCH_LATENCY, BENCH_BATCH_CONCURRENCY)
set -euo pipefail
BENCH_NAME=bench_batch
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N=${BENCH_BATCH_N:-1000}
LAT=${BENCH_BATCH_LATENCY:-100}
CONC=${BENCH_BATCH_CONCURRENCY:-64}
bench_check_int BENCH_BATCH_N "$N" 1 1000000
bench_check_int BENCH_BATCH_LATENCY "$LAT" 1 60000
bench_check_int BENCH_BATCH_CONCURRENCY "$CONC" 1 1000
bench_require_extension
aig_start_mock mock || bench_die "mock provider did not start"
bench_start_cluster
port=$PG_PORT
aig_psql "$port" -d postgres -At >/dev/null <<SQL
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('slow', 'ollama', 'http://127.0.0.1:$mock');
SQL
# warm-up: connections
aig_psql "$port" -d postgres -At -c "SELECT count(completion) FROM ai_complete_batch(array(SELECT 'w' FROM generate_series(1, $CONC)), 'slow/m', NULL, '{\"concurrency\": $CONC}')" >/dev/null
res=$(aig_psql "$port" -d postgres -At -F ' ' <<SQL
SELECT extract(epoch FROM clock_timestamp())::float8 AS t0 \gset
SELECT count(completion), count(error)
FROM ai_complete_batch(array(SELECT 'prompt ' || g FROM generate_series(1, $N) g),
                       'slow/m+latency=$LAT', NULL, '{"concurrency": $CONC}');
SELECT extract(epoch FROM clock_timestamp())::float8 - :t0;
SQL
)
ok=$(echo "$res" | sed -n 1p | cut -d' ' -f1)
errs=$(echo "$res" | sed -n 1p | cut -d' ' -f2)
secs=$(echo "$res" | sed -n 2p)
python3 - "$N" "$LAT" "$CONC" "$secs" "$ok" "$errs" <<'PY'
import sys
n, lat, conc, secs, ok, errs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
ideal = n * lat / 1000 / conc
print(f"ai_complete_batch: {n} prompts, upstream latency {lat} ms, concurrency {conc}")
print(f"  measured {secs:.2f} s, ideal N x latency / concurrency = {ideal:.2f} s, ratio {secs/ideal:.2f} (target <= 1.2: {'PASS' if secs/ideal <= 1.2 else 'OVER TARGET'})")
print(f"  answers {ok}, errors {errs}; row by row would take {n*lat/1000:.0f} s")
print(f"RESULT|batch: ai_complete_batch {n} prompts x {lat} ms, {conc} in flight, vs ideal|{secs:.2f} s|{ideal:.2f} s|{secs/ideal:.3f}|<= 1.20")
PY
if [ "$ok" != "$N" ] || [ "$errs" != 0 ]; then
	bench_die "$ok answers and $errs errors for $N prompts"
fi
