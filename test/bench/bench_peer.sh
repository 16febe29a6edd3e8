#!/usr/bin/env bash
# test/bench/bench_peer.sh — what an outside gateway costs per call, next to
# what ai_complete() costs, against the same instant upstream.
#
#   test/bench/bench_peer.sh
#   BENCH_PEER_N=1000 BENCH_PEER_ROUNDS=5 test/bench/bench_peer.sh
#
# The peer is Portkey's open-source AI gateway (npm @portkey-ai/gateway,
# a Node.js server; version pinned below, the one this was tested with).
# It is installed with npm into the temp dir at run time (nothing is kept:
# its own npm cache, --ignore-scripts: the package's only install script is
# patch-package, and it ships no patches), started on 127.0.0.1 on a free
# port (test/bench/portkey_loopback.mjs makes it listen on loopback only)
# and told per request, by headers, to speak OpenAI to a custom host:
#   x-portkey-provider: openai
#   x-portkey-custom-host: http://127.0.0.1:<nginx>/v1
# The upstream is the canned-body nginx of bench_overhead.sh.
#
# Three clients, ROUNDS rounds, order rotated each round:
#   direct      the raw libcurl + json-c loop (raw_curl.c) to nginx
#   Portkey     the same loop, same requests, to Portkey (one keep-alive
#               connection), which forwards each to nginx
#   ai_complete N calls in one statement in one backend (bench_calls)
# Reported (medians): µs/call of each; Portkey / direct is the price of an
# outside gateway; ai_complete / Portkey compares the two gateways
# (target <= 1.00: in the database should cost no more than next to it).
# Without node/npm, or when npm cannot install the package (no network),
# the Portkey figures are printed as "skipped" and the script succeeds.
#
# Environment: BENCH_PEER_N (1000 timed calls per client and round),
# BENCH_PEER_ROUNDS (5), BENCH_PEER_WARMUP (200), BENCH_PORTKEY_VERSION
# (1.15.2), BENCH_NPM_TIMEOUT (300 s for npm install), NODE, NPM.
set -euo pipefail
BENCH_NAME=bench_peer
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

N=${BENCH_PEER_N:-1000}
ROUNDS=${BENCH_PEER_ROUNDS:-5}
WARMUP=${BENCH_PEER_WARMUP:-200}
VERSION=${BENCH_PORTKEY_VERSION:-1.15.2}
NPM_TIMEOUT=${BENCH_NPM_TIMEOUT:-300}
NODE=${NODE:-node}
NPM=${NPM:-npm}
MODEL=bench/gpt-4o-mini
bench_check_int BENCH_PEER_N "$N" 1 1000000
bench_check_int BENCH_PEER_ROUNDS "$ROUNDS" 1 101
bench_check_int BENCH_PEER_WARMUP "$WARMUP" 0 100000
bench_check_int BENCH_NPM_TIMEOUT "$NPM_TIMEOUT" 10 3600
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || bench_die "BENCH_PORTKEY_VERSION must be x.y.z (got '$VERSION')"

bench_require_extension
bench_build_raw_curl
bench_start_nginx
bench_start_cluster
bench_setup_db postgres
bench_session ext postgres
bench_q ext "SELECT bench_calls(1, '$MODEL');"

FIG_PEER="peer gateway: raw loop via Portkey $VERSION vs direct"
FIG_VS="peer gateway: ai_complete vs raw loop via Portkey"
skip() {
	echo "  Portkey: skipped ($*)"
	bench_result "$FIG_PEER" skipped - - -
	bench_result "$FIG_VS" skipped - - -
	exit 0
}

# --- install and start Portkey ------------------------------------------------
command -v "$NODE" >/dev/null 2>&1 || skip "no node"
command -v "$NPM" >/dev/null 2>&1 || skip "no npm"
PK_DIR=$BENCH_WORK/portkey
mkdir -p "$PK_DIR"
echo "installing @portkey-ai/gateway@$VERSION with npm into a temp dir ..."
if ! timeout "$NPM_TIMEOUT" "$NPM" install --prefix "$PK_DIR" --cache "$BENCH_WORK/npm-cache" \
	--no-audit --no-fund --ignore-scripts --no-save --loglevel=error \
	"@portkey-ai/gateway@$VERSION" </dev/null >"$PK_DIR/npm.log" 2>&1; then
	tail -n 5 "$PK_DIR/npm.log" | sed 's/^/  npm: /'
	skip "npm install failed"
fi
PK_MAIN=$PK_DIR/node_modules/@portkey-ai/gateway/build/start-server.js
[ -f "$PK_MAIN" ] || skip "no $PK_MAIN after npm install"
installed=$("$NODE" -p 'require(process.argv[1]).version' "$PK_DIR/node_modules/@portkey-ai/gateway/package.json")
[ "$installed" = "$VERSION" ] || bench_die "npm installed @portkey-ai/gateway $installed, not $VERSION"

PK_PORT=$(aig_free_port)
env NODE_ENV=production "$NODE" --import "file://$BENCH_HERE/portkey_loopback.mjs" "$PK_MAIN" \
	--port="$PK_PORT" --headless </dev/null >"$PK_DIR/gateway.log" 2>&1 &
PK_PID=$!
BENCH_PIDS+=("$PK_PID")
PK_URL="http://127.0.0.1:$PK_PORT/v1/chat/completions"
PK_HEADERS=("x-portkey-provider: openai" "x-portkey-custom-host: $NGINX_URL/v1")
up=
for _ in $(seq 1 300); do
	kill -0 "$PK_PID" 2>/dev/null || break
	if "$RAW_CURL" "$PK_URL" "$BENCH_API_KEY" 1 0 "${PK_HEADERS[@]}" >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.1
done
if [ -z "$up" ]; then
	tail -n 20 "$PK_DIR/gateway.log" >&2
	bench_die "Portkey did not answer on 127.0.0.1:$PK_PORT within 30 s"
fi
# loopback only (needs ss from iproute2; informational otherwise)
if command -v ss >/dev/null 2>&1; then
	addrs=$(ss -Hltn "sport = :$PK_PORT" | awk '{ print $4 }')
	for a in $addrs; do
		[[ $a == 127.0.0.1:* ]] || bench_die "Portkey listens beyond 127.0.0.1: $addrs"
	done
fi

# --- the run -------------------------------------------------------------------------
# run_raw URL [HEADER...]: one raw_curl process; sets RAW_US
run_raw() {
	local out url=$1
	shift
	out=$(timeout "$BENCH_TIMEOUT" "$RAW_CURL" "$url" "$BENCH_API_KEY" "$N" "$WARMUP" "$@") ||
		bench_die "raw_curl to $url failed"
	[[ $out =~ us_per_call=([0-9.]+) ]] || bench_die "unexpected output from raw_curl: '$out'"
	RAW_US=${BASH_REMATCH[1]}
}
run_client() { # direct | portkey | ext: appends to the client's results
	case $1 in
	direct)
		run_raw "$NGINX_URL/v1/chat/completions"
		direct+=("$RAW_US")
		;;
	portkey)
		run_raw "$PK_URL" "${PK_HEADERS[@]}"
		portkey+=("$RAW_US")
		;;
	ext)
		[ "$WARMUP" = 0 ] || bench_q ext "SELECT bench_calls($WARMUP, '$MODEL');"
		bench_time_calls ext "$N" "$MODEL"
		ext+=("$CALL_US")
		;;
	esac
}
direct=()
portkey=()
ext=()
read -r accepts0 requests0 < <(bench_nginx_stats)
echo "per-call wall time, N=$N x $ROUNDS rounds (+$WARMUP warm-up), nginx canned upstream;" \
	"Portkey $VERSION (node $("$NODE" --version)) on 127.0.0.1:$PK_PORT"
printf '  %-9s %9s %9s %12s\n' "" direct Portkey ai_complete
clients=(direct portkey ext)
for r in $(seq 1 "$ROUNDS"); do
	for i in 0 1 2; do
		run_client "${clients[$(((i + r - 1) % 3))]}"
	done
	printf '  round %-3d %9.1f %9.1f %12.1f   µs/call\n' "$r" "${direct[-1]}" "${portkey[-1]}" "${ext[-1]}"
done
read -r accepts1 requests1 < <(bench_nginx_stats)
d=$(bench_median "${direct[@]}")
p=$(bench_median "${portkey[@]}")
e=$(bench_median "${ext[@]}")
bench_calc '  medians: direct %.1f µs, via Portkey %.1f µs (+%.1f µs, x%.2f), ai_complete %.1f µs (+%.1f µs, x%.2f)\n' \
	"d, p, p - d, p / d, e, e - d, e / d" d="$d" p="$p" e="$e"
echo "  nginx saw $((accepts1 - accepts0 - 1)) TCP connections for $((requests1 - requests0 - 1)) requests"
bench_result "$FIG_PEER" "$(bench_calc "%.1f us" p p="$p")" "$(bench_calc "%.1f us" d d="$d")" \
	"$(bench_calc "%.3f" "p / d" p="$p" d="$d")" "-"
bench_result "$FIG_VS" "$(bench_calc "%.1f us" e e="$e")" "$(bench_calc "%.1f us" p p="$p")" \
	"$(bench_calc "%.3f" "e / p" p="$p" e="$e")" "<= 1.00"
