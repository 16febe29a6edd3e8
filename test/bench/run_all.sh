#!/usr/bin/env bash
# test/bench/run_all.sh — the whole benchmark suite, one table at the end.
#
#   test/bench/run_all.sh                 every test/bench/bench_*.sh, in name order
#   test/bench/run_all.sh overhead peer   only bench_overhead.sh and bench_peer.sh
#   BENCH_SKIP="peer memory" test/bench/run_all.sh
#
# Runs each benchmark script (its own output streams through), collects the
# machine-readable lines each prints,
#
#   RESULT|<figure>|<measured>|<baseline>|<ratio>|<target>
#
# and prints one table: figure | measured | baseline (measured in the same
# run) | ratio | target | verdict.  Verdict: PASS or MISS when the target is
# "<= X" / ">= X" on the ratio, "info" for target "-", "skipped" when the
# figure could not be taken (measured "skipped", e.g. no network for npm).
# Any new test/bench/bench_*.sh that prints RESULT lines joins the table
# with no edit here.
#
# Exit status: 1 when a benchmark script failed (non-zero exit, killed by the
# per-script timeout, or no RESULT line at all), else 0 — whatever the
# verdicts: ratios are information, a crashed benchmark is a failure.
#
# Needs the extension installed for $PG_CONFIG ("make install"), and what
# the scripts need: nginx, a C compiler with libcurl and json-c headers,
# python3; node + npm and the npm registry for bench_peer.sh (else skipped).
# Sizes: each script's BENCH_* variables (see their headers); the defaults
# keep the whole suite at about 5-10 minutes on a busy 2-vCPU machine.
# BENCH_SCRIPT_TIMEOUT (default 900 s) bounds each script.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_TIMEOUT=${BENCH_SCRIPT_TIMEOUT:-900}
if ! [[ $SCRIPT_TIMEOUT =~ ^[0-9]+$ ]] || [ "$SCRIPT_TIMEOUT" -lt 10 ]; then
	echo "run_all: BENCH_SCRIPT_TIMEOUT must be an integer >= 10" >&2
	exit 2
fi

scripts=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		name=${name#bench_}
		name=${name%.sh}
		[ -f "$HERE/bench_$name.sh" ] || {
			echo "run_all: no test/bench/bench_$name.sh" >&2
			exit 2
		}
		scripts+=("$HERE/bench_$name.sh")
	done
else
	for s in "$HERE"/bench_*.sh; do
		[ -f "$s" ] && scripts+=("$s")
	done
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/aig_bench_all.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
trap 'exit 130' INT TERM

pg_config=${PG_CONFIG:-pg_config}
echo "== benchmark suite: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "   $(uname -srm); $(nproc) CPUs; $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
	"$("$pg_config" --version 2>/dev/null || echo "no pg_config")"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

results=()
failed=0
summary=()
t_all=$(date +%s)
for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	skip=0
	for k in ${BENCH_SKIP:-}; do
		[ "bench_${k#bench_}" = "$name" ] && skip=1
	done
	if [ "$skip" = 1 ]; then
		echo "== $name: skipped (BENCH_SKIP)"
		results+=("$name (all figures)|skipped|-|-|-")
		continue
	fi
	echo
	echo "== $name"
	t0=$(date +%s)
	timeout -k 20 "$SCRIPT_TIMEOUT" bash "$s" 2>&1 | tee "$logdir/$name.log"
	rc=${PIPESTATUS[0]}
	t1=$(date +%s)
	n=0
	while IFS= read -r line; do
		results+=("${line#RESULT|}")
		n=$((n + 1))
	done < <(grep -a '^RESULT|' "$logdir/$name.log")
	if [ "$rc" != 0 ]; then
		failed=1
		what="FAILED (exit $rc)"
		[ "$rc" = 124 ] && what="FAILED (timed out after ${SCRIPT_TIMEOUT} s)"
		results+=("$name|$what|-|-|ERROR")
	elif [ "$n" = 0 ]; then
		failed=1
		results+=("$name|no RESULT line|-|-|ERROR")
	fi
	summary+=("$name $((t1 - t0)) s, exit $rc")
done

echo
echo "== results ($(($(date +%s) - t_all)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
for l in "${summary[@]}"; do echo "   $l"; done
echo
printf '%s\n' "${results[@]}" | awk -F'|' '
function verdict(measured, ratio, target,   op, x) {
	if (target == "ERROR") return "ERROR"
	if (measured == "skipped") return "skipped"
	if (target == "-" || target == "") return "info"
	if (ratio !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) return "n/a"
	op = substr(target, 1, 2); x = substr(target, 3) + 0
	if (op == "<=") return (ratio + 0 <= x) ? "PASS" : "MISS"
	if (op == ">=") return (ratio + 0 >= x) ? "PASS" : "MISS"
	return "n/a"
}
{
	n++
	row[n, 1] = $1; row[n, 2] = $2; row[n, 3] = $3; row[n, 4] = $4
	row[n, 5] = ($5 == "ERROR" ? "-" : $5); row[n, 6] = verdict($2, $4, $5)
}
END {
	split("figure|measured|baseline|ratio|target|verdict", head, "|")
	for (c = 1; c <= 6; c++) w[c] = length(head[c])
	for (i = 1; i <= n; i++)
		for (c = 1; c <= 6; c++)
			if (length(row[i, c]) > w[c]) w[c] = length(row[i, c])
	line = "|"
	for (c = 1; c <= 6; c++) line = line sprintf(" %-" w[c] "s |", head[c])
	print line
	line = "|"
	for (c = 1; c <= 6; c++) { d = ""; for (k = 0; k < w[c] + 2; k++) d = d "-"; line = line d "|" }
	print line
	for (i = 1; i <= n; i++) {
		line = "|"
		for (c = 1; c <= 6; c++) line = line sprintf(" %-" w[c] "s |", row[i, c])
		print line
	}
}'
if [ "$failed" = 1 ]; then
	echo
	echo "run_all: a benchmark script failed (see ERROR rows and its output above)" >&2
	exit 1
fi
exit 0
