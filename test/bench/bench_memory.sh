#!/usr/bin/env bash
# test/bench/bench_memory.sh — one backend's memory over many calls must
# stay flat: nothing from libcurl or palloc may outlive a call.
#
#   test/bench/bench_memory.sh
#   BENCH_MEMORY_CALLS=20000 test/bench/bench_memory.sh
#
# One psql session (one backend, audited database, so every call also
# queues an audit record) makes CALLS ai_complete() calls (default 100,000)
# against the canned-body nginx of bench_overhead.sh, in statements of
# CALLS / 10 calls, after a warm-up of 1,000 calls (connection, caches,
# allocator high-water mark).  The backend's RssAnon (/proc/PID/status:
# private anonymous memory) is read after each statement.  RESULT: RssAnon
# after all CALLS vs after the first tenth (10,000 of 100,000), target
# <= 1.05; the growth in kB is printed too.  At ~100-250 µs a call on a busy
# 2-vCPU machine, 100,000 calls take 10-30 s.
set -euo pipefail
BENCH_NAME=bench_memory
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CALLS=${BENCH_MEMORY_CALLS:-100000}
bench_check_int BENCH_MEMORY_CALLS "$CALLS" 10 100000000
STEP=$((CALLS / 10))

bench_require_extension
bench_start_nginx
bench_start_cluster "ai_gateway.database = 'postgres'"
bench_setup_db postgres
bench_session m postgres
[ -r "/proc/${BENCH_SESS_BACKEND[m]}/status" ] || bench_die "cannot read /proc/${BENCH_SESS_BACKEND[m]}/status"

bench_q m "SELECT bench_calls(1000);"
warm=$(bench_backend_rss_kb m)
echo "backend RssAnon over $CALLS ai_complete calls in one backend (nginx canned upstream, audited)"
echo "  after 1000 warm-up calls: $warm kB"
sizes=()
done_calls=0
t0=$(date +%s%N)
for i in $(seq 1 10); do
	n=$STEP
	[ "$i" != 10 ] || n=$((CALLS - done_calls))
	bench_q m "SELECT bench_calls($n);"
	done_calls=$((done_calls + n))
	sizes+=("$(bench_backend_rss_kb m)")
	printf '  after %7d calls: %6d kB\n' "$done_calls" "${sizes[-1]}"
done
t1=$(date +%s%N)
first=${sizes[0]}
last=${sizes[-1]}
echo "  growth from $STEP to $CALLS calls: $((last - first)) kB; $(bench_calc "%.0f" "(b - a) / 1000 / n" a="$t0" b="$t1" n="$CALLS") µs/call"
bench_result "memory: backend RssAnon after $CALLS calls vs after $STEP" "$last kB" "$first kB" \
	"$(bench_calc "%.3f" "b / a" a="$first" b="$last")" "<= 1.05"
