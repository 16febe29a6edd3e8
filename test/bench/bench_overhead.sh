#!/usr/bin/env bash
# test/bench/bench_overhead.sh — per-call overhead of ai_complete() against
# an instant upstream, compared with a raw libcurl + json-c C loop doing the
# same HTTP work.
#
#   test/bench/bench_overhead.sh
#   BENCH_N=2000 BENCH_ROUNDS=5 BENCH_WARMUP=200 test/bench/bench_overhead.sh
#
# What it measures: the cost one ai_complete('Hello', 'bench/gpt-4o-mini')
# call adds inside PostgreSQL — argument handling, provider/model lookup,
# request JSON, libcurl transfer over a kept-alive loopback connection,
# response parsing, result text — compared with the bare minimum a C client
# needs for the same exchange (test/bench/raw_curl.c: one reused easy handle,
# body built and response parsed with json-c per call).  Both talk to the
# same upstream: nginx on 127.0.0.1 answering POST /v1/chat/completions at
# once with the canned OpenAI body of test/samples/openai_chat_completion.json
# (test/bench/nginx.conf.in), so upstream latency is near zero and identical
# for both sides; the ratio ai_complete / raw is the extension's overhead
# factor.  Target: ratio <= 1.15.
#
# How: ROUNDS rounds, each running both sides (alternating which goes
# first, so drift and noise hit both alike).  Raw side: a fresh raw_curl
# process does WARMUP untimed then N timed calls and reports their wall time.
# Extension side: one psql session (one backend, hence one upstream
# connection, for the whole run) runs a warm-up statement of WARMUP calls,
# then N calls in ONE statement, bench_ext(N) = SELECT count(NULLIF(
# ai_complete(...), '')) FROM generate_series(1, N) timed with
# clock_timestamp() inside the backend, so psql round trips do not count.
# Reported: per round and as medians over the rounds, the wall µs/call of
# each side and ratio = median(ai_complete) / median(raw), plus each client
# process's own CPU time per call (raw_curl: CLOCK_PROCESS_CPUTIME_ID; the
# backend: /proc/PID/schedstat around the timed statement), which leaves
# out nginx and scheduler wake-up latency and so isolates the extra work.
# The nginx stub_status counters read before and after the run tell how
# many TCP connections and requests nginx saw (expected: one connection per
# raw_curl process plus one for the backend).
#
# Noise: on a small or busy machine the loopback round trip is dominated by
# how the scheduler places client and nginx (same CPU: a cheap ping-pong;
# different CPUs: cross-CPU wake-ups, expensive in a VM), which moves both
# sides' µs/call a lot from round to round.  For reproducible numbers pin
# both to one CPU: BENCH_CLIENT_CPU=1 BENCH_NGINX_CPU=1.  For figures that
# do not move with the machine's load, callgrind_overhead.sh counts the
# instructions (and simulated cache misses) of the same two loops.
#
# Exit status: 0 when the benchmark ran (whether or not the ratio meets the
# target — it is printed as PASS / OVER TARGET), non-zero when something
# broke (a failed call, nginx or the cluster not starting, ...).
#
# Requirements: the extension must already be installed ("make install"):
# the cluster preloads ai_gateway and runs CREATE EXTENSION.  Also pg_config
# (or $PG_CONFIG) on PATH, nginx (/usr/sbin/nginx or $NGINX), a C compiler
# ($CC, default cc) with libcurl and json-c headers, python3 (test/lib.sh
# uses it to pick free ports).  Works as root (the cluster then runs as
# "postgres", see test/cluster.sh; nginx's worker runs as nobody) and as a
# normal user.  Everything lives in temp dirs that are removed at exit; nginx
# and the cluster are stopped by PID / pg_ctl at exit.
#
# Environment:
#   BENCH_N        timed calls per side per round      (default 2000)
#   BENCH_ROUNDS   rounds                              (default 5)
#   BENCH_WARMUP   untimed calls per side per round    (default 200)
#   BENCH_TIMEOUT  seconds any one step may take       (default 600)
#   BENCH_CLIENT_CPU, BENCH_NGINX_CPU
#                  optional CPU numbers (taskset -c) to pin the clients
#                  (raw_curl and the backend) and nginx to; default: unpinned
#   NGINX, CC, PG_CONFIG
set -euo pipefail

die() {
	echo "bench_overhead: $*" >&2
	exit 1
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v "${PG_CONFIG:-pg_config}" >/dev/null ||
	die "pg_config not found: put it on PATH or set PG_CONFIG"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"

N=${BENCH_N:-2000}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-200}
STEP_TIMEOUT=${BENCH_TIMEOUT:-600}
NGINX=${NGINX:-/usr/sbin/nginx}
CC=${CC:-cc}
TARGET=1.15
API_KEY=sk-bench-0123456789abcdef
MODEL=bench/gpt-4o-mini

check_int() { # NAME VALUE MIN MAX
	if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		die "$1 must be an integer in $3..$4 (got '$2')"
	fi
}
check_int BENCH_N "$N" 1 1000000
check_int BENCH_ROUNDS "$ROUNDS" 1 101
check_int BENCH_WARMUP "$WARMUP" 0 100000
check_int BENCH_TIMEOUT "$STEP_TIMEOUT" 10 86400
CLIENT_CPU=${BENCH_CLIENT_CPU:-}
NGINX_CPU=${BENCH_NGINX_CPU:-}
[ -z "$CLIENT_CPU" ] || check_int BENCH_CLIENT_CPU "$CLIENT_CPU" 0 4095
[ -z "$NGINX_CPU" ] || check_int BENCH_NGINX_CPU "$NGINX_CPU" 0 4095
CLIENT_PIN=()
NGINX_PIN=()
if [ -n "$CLIENT_CPU$NGINX_CPU" ]; then
	command -v taskset >/dev/null || die "BENCH_CLIENT_CPU / BENCH_NGINX_CPU need taskset (util-linux)"
	[ -z "$CLIENT_CPU" ] || CLIENT_PIN=(taskset -c "$CLIENT_CPU")
	[ -z "$NGINX_CPU" ] || NGINX_PIN=(taskset -c "$NGINX_CPU")
fi

# --- prerequisites ---------------------------------------------------------
[ -x "$NGINX" ] || die "nginx not found at $NGINX (set NGINX=...)"
command -v "$CC" >/dev/null || die "C compiler '$CC' not found (set CC=...)"
command -v python3 >/dev/null || die "python3 is required"
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
if [ ! -f "$PKGLIBDIR/ai_gateway.so" ] || [ ! -f "$SHAREDIR/extension/ai_gateway.control" ]; then
	die "ai_gateway is not installed for $("$PG_CONFIG" --version) ($PKGLIBDIR/ai_gateway.so);
run 'make install' in $AIG_ROOT first"
fi
if [ -f "$AIG_ROOT/ai_gateway.so" ] && ! cmp -s "$AIG_ROOT/ai_gateway.so" "$PKGLIBDIR/ai_gateway.so"; then
	echo "bench_overhead: note: the installed ai_gateway.so differs from $AIG_ROOT/ai_gateway.so;" \
		"benchmarking the installed one (run 'make install' to bench the tree)" >&2
fi

# --- temp dirs and cleanup -------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aig_bench.XXXXXX")
CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aig_bench_pg.XXXXXX") # chowned to postgres when root
NGINX_PID=
PSQL_CHILD=

stop_pid() { # PID: TERM, wait up to 5 s, then KILL
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? workers
	set +eu
	if [ -n "$PSQL_CHILD" ]; then
		stop_pid "$PSQL_CHILD"
		wait "$PSQL_CHILD" 2>/dev/null
	fi
	aig_cleanup >/dev/null 2>&1
	if [ -n "$NGINX_PID" ]; then
		# the master stops its worker on TERM; note the workers in case it
		# has to be killed hard
		workers=$(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null)
		stop_pid "$NGINX_PID"
		wait "$NGINX_PID" 2>/dev/null
		for w in $workers; do stop_pid "$w"; done
	fi
	rm -rf "$WORK" "$CLUSTER_DIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the raw client ----------------------------------------------------------
# shellcheck disable=SC2046
"$CC" -O2 -o "$WORK/raw_curl" "$HERE/raw_curl.c" \
	$(pkg-config --cflags json-c libcurl 2>/dev/null || true) -lcurl -ljson-c ||
	die "could not compile raw_curl.c (needs libcurl and json-c development files)"

# --- the upstream --------------------------------------------------------------
NGINX_PORT=$(aig_free_port)
python3 - "$AIG_ROOT/test/samples/openai_chat_completion.json" "$HERE/nginx.conf.in" \
	"$WORK" "$NGINX_PORT" >"$WORK/nginx.conf" <<'PY' || die "could not render nginx.conf"
import json, sys
sample, template, workdir, port = sys.argv[1:]
body = json.dumps(json.load(open(sample)), separators=(",", ":"), ensure_ascii=False)
if "$" in body:
    sys.exit("the sample body holds '$', which nginx would expand as a variable")
# single-quoted nginx string: escape backslashes and single quotes
body = body.replace("\\", "\\\\").replace("'", "\\'")
text = open(template).read()
sys.stdout.write(text.replace("@DIR@", workdir).replace("@PORT@", port).replace("@BODY@", body))
PY
"${NGINX_PIN[@]}" "$NGINX" -e "$WORK/error.log" -p "$WORK" -c "$WORK/nginx.conf" </dev/null >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!

BASE_URL="http://127.0.0.1:$NGINX_PORT"
# nginx_stats: prints "accepts requests" from stub_status (one connection, one request)
nginx_stats() {
	python3 - "$BASE_URL/nginx_status" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
accepts, handled, requests = text.splitlines()[2].split()
print(accepts, requests)
PY
}
for _ in $(seq 1 100); do
	kill -0 "$NGINX_PID" 2>/dev/null || break
	nginx_stats >/dev/null 2>&1 && break
	sleep 0.05
done
nginx_stats >/dev/null 2>&1 || {
	cat "$WORK/nginx.out" "$WORK/error.log" 2>/dev/null >&2
	die "nginx did not start on 127.0.0.1:$NGINX_PORT"
}
# the canned answer must equal the sample (as JSON) and be application/json
python3 - "$BASE_URL/v1/chat/completions" "$AIG_ROOT/test/samples/openai_chat_completion.json" <<'PY' ||
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b"{}", headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=5) as r:
    assert r.status == 200, r.status
    assert r.headers.get_content_type() == "application/json", r.headers["Content-Type"]
    assert json.loads(r.read()) == json.load(open(sys.argv[2])), "body differs from the sample"
PY
	die "nginx does not serve the canned chat completion"

# --- the cluster -----------------------------------------------------------------
PG_PORT=$(aig_free_port)
# BENCH_PG_CONF: extra postgresql.conf lines (one per line), e.g. to compare with the audit worker elsewhere
mapfile -t extra_conf < <(printf "%s\n" "${BENCH_PG_CONF:-}" | sed "/^$/d")
aig_start_cluster "$CLUSTER_DIR" "$PG_PORT" "${extra_conf[@]}" >/dev/null || die "could not start the cluster"

aig_psql "$PG_PORT" -At >"$WORK/setup.out" 2>&1 <<SQL || {
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers(name, kind, base_url, api_key)
    VALUES ('bench', 'openai', '$BASE_URL/v1', '$API_KEY');

-- n calls in ONE statement, timed inside the backend; returns elapsed µs
CREATE FUNCTION bench_ext(n int) RETURNS bigint
LANGUAGE plpgsql AS \$\$
DECLARE
    ok bigint;
    t0 timestamptz;
    t1 timestamptz;
BEGIN
    t0 := clock_timestamp();
    SELECT count(NULLIF(ai_complete('Hello', '$MODEL'), '')) INTO ok
      FROM generate_series(1, n);
    t1 := clock_timestamp();
    IF ok <> n THEN
        RAISE EXCEPTION 'only % of % calls returned content', ok, n;
    END IF;
    RETURN (extract(epoch FROM t1 - t0) * 1000000)::bigint;
END
\$\$;
SELECT ai_complete('Hello', '$MODEL');
SQL
	cat "$WORK/setup.out" >&2
	if grep -q "CREATE EXTENSION\|ai_gateway.control\|could not access file" "$WORK/setup.out"; then
		die "CREATE EXTENSION ai_gateway failed: is the extension installed ('make install')?"
	fi
	die "setting up the benchmark database failed"
}
expected_content=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' \
	"$AIG_ROOT/test/samples/openai_chat_completion.json")
[ "$(tail -n 1 "$WORK/setup.out")" = "$expected_content" ] ||
	die "ai_complete returned '$(tail -n 1 "$WORK/setup.out")', expected '$expected_content'"

# --- the run -------------------------------------------------------------------------
read -r accepts0 requests0 < <(nginx_stats) || die "could not read nginx stub_status"

coproc PSQL { aig_psql "$PG_PORT" -At 2>"$WORK/psql.err"; }
PSQL_CHILD=$PSQL_PID # bash unsets PSQL_PID when the coprocess ends
psql_in=${PSQL[1]}
psql_out=${PSQL[0]}
# psql_query SQL: sends SQL, sets REPLY to the single line of its result
psql_query() {
	if ! printf '%s\n' "$1" 2>/dev/null 1>&"$psql_in" ||
		! IFS= read -r -t "$STEP_TIMEOUT" REPLY <&"$psql_out"; then
		cat "$WORK/psql.err" >&2
		die "no result from psql for: $1"
	fi
}
psql_query "SET statement_timeout = '${STEP_TIMEOUT}s'; SELECT pg_backend_pid();"
BACKEND_PID=$REPLY
if [ -n "$CLIENT_CPU" ]; then
	taskset -p -c "$CLIENT_CPU" "$BACKEND_PID" >/dev/null || die "could not pin the backend to CPU $CLIENT_CPU"
fi

# backend_cpu_ns: the backend's CPU time so far (first field of schedstat:
# ns on CPU), or "" when /proc does not tell
backend_cpu_ns() {
	local ns _
	read -r ns _ 2>/dev/null <"/proc/$BACKEND_PID/schedstat" || ns=
	printf '%s' "$ns"
}

# run_raw: one raw_curl process; sets RAW_US, RAW_CPU (µs/call), counts reconnects
run_raw() {
	local out
	out=$(timeout "$STEP_TIMEOUT" "${CLIENT_PIN[@]}" "$WORK/raw_curl" "$BASE_URL/v1/chat/completions" \
		"$API_KEY" "$N" "$WARMUP") || die "raw_curl failed"
	[[ $out =~ us_per_call=([0-9.]+)\ cpu_us_per_call=([0-9.]+)\ connects=([0-9]+) ]] ||
		die "unexpected output from raw_curl: '$out'"
	RAW_US=${BASH_REMATCH[1]}
	RAW_CPU=${BASH_REMATCH[2]}
	raw_reconnects=$((raw_reconnects + BASH_REMATCH[3]))
}
# run_ext: warm-up statement, then one timed bench_ext(N) statement in the
# long-lived backend; sets EXT_US, EXT_CPU (µs/call; CPU "" if unknown)
run_ext() {
	local cpu0 cpu1
	if [ "$WARMUP" -gt 0 ]; then
		psql_query "SELECT bench_ext($WARMUP);"
	fi
	cpu0=$(backend_cpu_ns)
	psql_query "SELECT bench_ext($N);"
	cpu1=$(backend_cpu_ns)
	[[ $REPLY =~ ^[0-9]+$ ]] || die "unexpected result from bench_ext: '$REPLY'"
	EXT_US=$(awk -v us="$REPLY" -v n="$N" 'BEGIN { printf "%.2f", us / n }')
	EXT_CPU=
	if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
		EXT_CPU=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / 1000 / n }')
	fi
}

raw_reconnects=0
raw_results=()
ext_results=()
raw_cpu_results=()
ext_cpu_results=()
echo "per-call cost, N=$N x $ROUNDS rounds (+$WARMUP warm-up calls per side and round)," \
	"upstream nginx on 127.0.0.1 (canned OpenAI body)"
[ -z "$CLIENT_CPU$NGINX_CPU" ] ||
	echo "  pinned: clients (raw_curl, backend) to CPU ${CLIENT_CPU:-any}, nginx to CPU ${NGINX_CPU:-any}"
echo "            wall µs/call                 | client CPU µs/call"
printf '  %-9s %7s %11s %7s  | %7s %11s %7s\n' "" raw ai_complete ratio raw ai_complete ratio
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		run_raw
		run_ext
		order="raw first"
	else
		run_ext
		run_raw
		order="ai_complete first"
	fi
	raw_results+=("$RAW_US")
	ext_results+=("$EXT_US")
	raw_cpu_results+=("$RAW_CPU")
	[ -n "$EXT_CPU" ] && ext_cpu_results+=("$EXT_CPU")
	awk -v r="$r" -v a="$RAW_US" -v b="$EXT_US" -v ca="$RAW_CPU" -v cb="$EXT_CPU" -v o="$order" 'BEGIN {
		printf "  round %-3d %7.1f %11.1f %7.3f  | %7.1f ", r, a, b, b / a, ca
		if (cb != "") printf "%11.1f %7.3f", cb, cb / ca; else printf "%11s %7s", "n/a", ""
		printf "   (%s)\n", o }'
done

read -r accepts1 requests1 < <(nginx_stats) || die "could not read nginx stub_status"
printf '\\q\n' 2>/dev/null 1>&"$psql_in" || true
wait "$PSQL_CHILD" 2>/dev/null || true
PSQL_CHILD=

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
raw_med=$(median "${raw_results[@]}")
ext_med=$(median "${ext_results[@]}")
conns=$((accepts1 - accepts0 - 1))     # minus the second stub_status probe
requests=$((requests1 - requests0 - 1))
expected_requests=$((ROUNDS * (N + WARMUP) * 2))

raw_cpu_med=$(median "${raw_cpu_results[@]}")
ext_cpu_med=
[ "${#ext_cpu_results[@]}" = "$ROUNDS" ] && ext_cpu_med=$(median "${ext_cpu_results[@]}")

awk -v a="$raw_med" -v b="$ext_med" -v ca="$raw_cpu_med" -v cb="$ext_cpu_med" -v t="$TARGET" 'BEGIN {
	ratio = b / a
	printf "  raw libcurl+json-c loop   %7.1f µs/call   (client CPU %5.1f µs/call)\n", a, ca
	if (cb != "")
		printf "  ai_complete()             %7.1f µs/call   (client CPU %5.1f µs/call)\n", b, cb
	else
		printf "  ai_complete()             %7.1f µs/call   (client CPU n/a)\n", b
	printf "  ratio                     %7.3f   (target <= %.2f: %s)", ratio, t,
		(ratio <= t ? "PASS" : "OVER TARGET")
	if (cb != "")
		printf "   CPU ratio %.3f", cb / ca
	printf "\n"
	printf "  (medians over the rounds; ratio = median ai_complete / median raw, wall time;\n"
	printf "   client CPU = the client process'"'"'s own user+sys time, without nginx and wake-up waits)\n"
}'
echo "  nginx saw $conns TCP connections for $requests requests" \
	"(expected $((ROUNDS + 1)): one per raw_curl process + one for the backend; $expected_requests requests)"
[ "$raw_reconnects" = 0 ] ||
	echo "  note: raw_curl reconnected $raw_reconnects times during timed calls"
