# test/bench/common.sh — shared by the test/bench/bench_*.sh scripts:
# checks, a temp dir and a cleanup that stops everything by PID, the canned
# nginx upstream (nginx.conf.in), the raw libcurl + json-c client
# (raw_curl.c), long-lived psql sessions driven over FIFOs, a timed
# n-calls helper inside the backend, medians, and the RESULT line every
# benchmark prints for test/bench/run_all.sh:
#
#   RESULT|<figure>|<measured>|<baseline>|<ratio>|<target>
#
# (units inside measured/baseline, e.g. "93.1 us"; target "<= 1.15",
# ">= 0.50" or "-"; measured "skipped" when the figure could not be taken).
#
# Use: set BENCH_NAME, then `source "$(dirname "$0")/common.sh"`; it
# sources test/lib.sh and installs an EXIT trap (bench_cleanup).  Scripts
# add their own background PIDs to BENCH_PIDS (stopped TERM, then KILL).
# shellcheck shell=bash

BENCH_NAME=${BENCH_NAME:-bench}
BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$BENCH_HERE/../lib.sh"

bench_die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

command -v "$PG_CONFIG" >/dev/null 2>&1 || bench_die "pg_config not found: put it on PATH or set PG_CONFIG"

BENCH_TIMEOUT=${BENCH_TIMEOUT:-600} # seconds any one step may take
NGINX=${NGINX:-/usr/sbin/nginx}
CC=${CC:-cc}
BENCH_API_KEY=sk-bench-0123456789abcdef
BENCH_PIDS=()
NGINX_PID=
declare -A BENCH_SESS_IN=() BENCH_SESS_OUT=() BENCH_SESS_PID=() BENCH_SESS_BACKEND=()

bench_check_int() { # NAME VALUE MIN MAX
	if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		bench_die "$1 must be an integer in $3..$4 (got '$2')"
	fi
}
bench_check_int BENCH_TIMEOUT "$BENCH_TIMEOUT" 10 86400

# bench_require_extension: the extension must be installed for $PG_CONFIG
bench_require_extension() {
	local pkglib share
	pkglib=$("$PG_CONFIG" --pkglibdir)
	share=$("$PG_CONFIG" --sharedir)
	if [ ! -f "$pkglib/ai_gateway.so" ] || [ ! -f "$share/extension/ai_gateway.control" ]; then
		bench_die "ai_gateway is not installed for $("$PG_CONFIG" --version) ($pkglib/ai_gateway.so); run 'make install' in $AIG_ROOT first"
	fi
	if [ -f "$AIG_ROOT/ai_gateway.so" ] && ! cmp -s "$AIG_ROOT/ai_gateway.so" "$pkglib/ai_gateway.so"; then
		echo "$BENCH_NAME: note: the installed ai_gateway.so differs from $AIG_ROOT/ai_gateway.so;" \
			"benchmarking the installed one (run 'make install' to bench the tree)" >&2
	fi
}

# --- temp dir and cleanup -----------------------------------------------------
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/aig_${BENCH_NAME}.XXXXXX")
chmod 755 "$BENCH_WORK" # the cluster (user postgres when run as root) lives below it

bench_stop_pid() { # PID: TERM, wait up to 10 s, then KILL
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local rc=$? workers s p
	set +eu
	for s in "${!BENCH_SESS_PID[@]}"; do
		eval "exec ${BENCH_SESS_IN[$s]}>&-" 2>/dev/null
	done
	for s in "${!BENCH_SESS_PID[@]}"; do
		bench_stop_pid "${BENCH_SESS_PID[$s]}"
		wait "${BENCH_SESS_PID[$s]}" 2>/dev/null
	done
	for p in "${BENCH_PIDS[@]}"; do
		bench_stop_pid "$p"
		wait "$p" 2>/dev/null
	done
	aig_cleanup >/dev/null 2>&1
	if [ -n "$NGINX_PID" ]; then
		# the master stops its worker on TERM; note the workers in case it
		# has to be killed hard
		workers=$(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null)
		bench_stop_pid "$NGINX_PID"
		wait "$NGINX_PID" 2>/dev/null
		for p in $workers; do bench_stop_pid "$p"; done
	fi
	rm -rf "$BENCH_WORK"
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# --- RESULT lines and arithmetic ---------------------------------------------
# bench_result FIGURE MEASURED BASELINE RATIO TARGET
bench_result() {
	local f
	for f in "$@"; do
		[[ $f != *"|"* ]] || bench_die "RESULT field holds '|': $f"
	done
	printf 'RESULT|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5"
}

# bench_median V...: the median of numbers
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_calc FORMAT EXPR [VAR=VALUE...]: printf FORMAT of an awk expression
bench_calc() {
	local fmt=$1 expr=$2 args=() a
	shift 2
	for a in "$@"; do args+=(-v "$a"); done
	awk "${args[@]}" "BEGIN { printf \"$fmt\", $expr }"
}

# --- the canned upstream -------------------------------------------------------
# bench_start_nginx: nginx on a free loopback port answering POST
# /v1/chat/completions with test/samples/openai_chat_completion.json; sets
# NGINX_PORT, NGINX_URL, NGINX_PID.  BENCH_NGINX_CPU pins it (taskset).
bench_start_nginx() {
	local pin=()
	[ -x "$NGINX" ] || bench_die "nginx not found at $NGINX (set NGINX=...)"
	if [ -n "${BENCH_NGINX_CPU:-}" ]; then
		bench_check_int BENCH_NGINX_CPU "$BENCH_NGINX_CPU" 0 4095
		command -v taskset >/dev/null || bench_die "BENCH_NGINX_CPU needs taskset (util-linux)"
		pin=(taskset -c "$BENCH_NGINX_CPU")
	fi
	mkdir -p "$BENCH_WORK/nginx"
	NGINX_PORT=$(aig_free_port)
	python3 - "$AIG_ROOT/test/samples/openai_chat_completion.json" "$BENCH_HERE/nginx.conf.in" \
		"$BENCH_WORK/nginx" "$NGINX_PORT" >"$BENCH_WORK/nginx/nginx.conf" <<'PY' || bench_die "could not render nginx.conf"
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
	"${pin[@]}" "$NGINX" -e "$BENCH_WORK/nginx/error.log" -p "$BENCH_WORK/nginx" \
		-c "$BENCH_WORK/nginx/nginx.conf" </dev/null >"$BENCH_WORK/nginx/nginx.out" 2>&1 &
	NGINX_PID=$!
	NGINX_URL="http://127.0.0.1:$NGINX_PORT"
	for _ in $(seq 1 100); do
		kill -0 "$NGINX_PID" 2>/dev/null || break
		bench_nginx_stats >/dev/null 2>&1 && break
		sleep 0.05
	done
	bench_nginx_stats >/dev/null 2>&1 || {
		cat "$BENCH_WORK/nginx/nginx.out" "$BENCH_WORK/nginx/error.log" 2>/dev/null >&2
		bench_die "nginx did not start on 127.0.0.1:$NGINX_PORT"
	}
	# the canned answer must equal the sample (as JSON) and be application/json
	python3 - "$NGINX_URL/v1/chat/completions" "$AIG_ROOT/test/samples/openai_chat_completion.json" <<'PY' ||
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b"{}", headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=5) as r:
    assert r.status == 200, r.status
    assert r.headers.get_content_type() == "application/json", r.headers["Content-Type"]
    assert json.loads(r.read()) == json.load(open(sys.argv[2])), "body differs from the sample"
PY
		bench_die "nginx does not serve the canned chat completion"
}

# bench_nginx_stats: prints "accepts requests" from nginx's stub_status
bench_nginx_stats() {
	python3 - "$NGINX_URL/nginx_status" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
accepts, handled, requests = text.splitlines()[2].split()
print(accepts, requests)
PY
}

# the content of the canned answer, as ai_complete returns it
bench_expected_content() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' \
		"$AIG_ROOT/test/samples/openai_chat_completion.json"
}

# --- the raw client --------------------------------------------------------------
# bench_build_raw_curl: compiles raw_curl.c to $RAW_CURL
bench_build_raw_curl() {
	command -v "$CC" >/dev/null || bench_die "C compiler '$CC' not found (set CC=...)"
	RAW_CURL=$BENCH_WORK/raw_curl
	# shellcheck disable=SC2046
	"$CC" -O2 -Wall -o "$RAW_CURL" "$BENCH_HERE/raw_curl.c" \
		$(pkg-config --cflags json-c libcurl 2>/dev/null || true) -lcurl -ljson-c ||
		bench_die "could not compile raw_curl.c (needs libcurl and json-c development files)"
}

# --- the cluster -----------------------------------------------------------------
# bench_start_cluster [postgresql.conf lines...]: sets PG_PORT
bench_start_cluster() {
	PG_PORT=$(aig_free_port)
	aig_start_cluster "$BENCH_WORK/cluster" "$PG_PORT" "$@" >/dev/null ||
		bench_die "could not start the cluster"
}

# bench_setup_db DB: CREATE EXTENSION, provider 'bench' (openai dialect) on
# the nginx upstream when one runs, and bench_calls(n, model, options): n
# ai_complete calls in ONE statement timed inside the backend; returns the
# elapsed µs.  Fails unless every call returned the canned content.
bench_setup_db() {
	local db=$1 expected
	expected=$(bench_expected_content)
	aig_psql "$PG_PORT" -d "$db" -At -v url="${NGINX_URL:-http://127.0.0.1:9}/v1" \
		-v key="$BENCH_API_KEY" -v expected="$expected" >"$BENCH_WORK/setup_$db.out" 2>&1 <<'SQL' || {
SET client_min_messages = error;
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers(name, kind, base_url, api_key) VALUES ('bench', 'openai', :'url', :'key');
SELECT format('CREATE FUNCTION public.bench_expected() RETURNS text IMMUTABLE LANGUAGE sql AS %L',
              'SELECT ' || quote_literal(:'expected') || '::text') \gexec
CREATE FUNCTION public.bench_calls(n int, model text DEFAULT 'bench/gpt-4o-mini', options jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
    ok bigint;
    t0 timestamptz;
    t1 timestamptz;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) FILTER (WHERE ai_complete('Hello', model, NULL, options) = public.bench_expected())
      INTO ok FROM generate_series(1, n);
    t1 := clock_timestamp();
    IF ok <> n THEN
        RAISE EXCEPTION 'only % of % calls returned the canned content', ok, n;
    END IF;
    RETURN (extract(epoch FROM t1 - t0) * 1000000)::bigint;
END
$f$;
GRANT EXECUTE ON FUNCTION public.bench_calls(int, text, jsonb) TO PUBLIC;
SQL
		cat "$BENCH_WORK/setup_$db.out" >&2
		bench_die "setting up database $db failed"
	}
}

# --- long-lived psql sessions over FIFOs -----------------------------------------
# bench_session NAME DB: starts one psql (one backend) kept open until exit;
# sets BENCH_SESS_BACKEND[NAME] to its backend PID
bench_session() {
	local name=$1 db=$2 dir=$BENCH_WORK/sess_$1 fdi fdo
	mkdir -p "$dir"
	mkfifo "$dir/in" "$dir/out"
	aig_psql "$PG_PORT" -d "$db" -At <"$dir/in" >"$dir/out" 2>"$dir/err" &
	BENCH_SESS_PID[$name]=$!
	exec {fdi}>"$dir/in"
	exec {fdo}<"$dir/out"
	BENCH_SESS_IN[$name]=$fdi
	BENCH_SESS_OUT[$name]=$fdo
	bench_q "$name" "SET statement_timeout = '${BENCH_TIMEOUT}s'; SELECT pg_backend_pid();"
	BENCH_SESS_BACKEND[$name]=$REPLY
}

# bench_q NAME SQL: runs SQL in the session; REPLY = the last line it printed
# (so end SQL with the one query whose result you want)
bench_q() {
	local name=$1 sql=$2 line marker="__bench_end_${RANDOM}__"
	REPLY=
	printf '%s\n\\echo %s\n' "$sql" "$marker" 2>/dev/null 1>&"${BENCH_SESS_IN[$name]}" || {
		cat "$BENCH_WORK/sess_$name/err" >&2
		bench_die "session $name is gone (sending: $sql)"
	}
	while :; do
		if ! IFS= read -r -t "$BENCH_TIMEOUT" line <&"${BENCH_SESS_OUT[$name]}"; then
			cat "$BENCH_WORK/sess_$name/err" >&2
			bench_die "no result from session $name for: $sql"
		fi
		[ "$line" = "$marker" ] && break
		REPLY=$line
	done
}

# bench_backend_cpu_ns NAME: the session's backend CPU time so far (ns, from
# /proc/PID/schedstat), "" when unknown
bench_backend_cpu_ns() {
	local ns _
	read -r ns _ 2>/dev/null <"/proc/${BENCH_SESS_BACKEND[$1]}/schedstat" || ns=
	printf '%s' "$ns"
}

# bench_backend_rss_kb NAME: the session's backend RssAnon in kB
bench_backend_rss_kb() {
	awk '/^RssAnon:/ { print $2 }' "/proc/${BENCH_SESS_BACKEND[$1]}/status"
}

# bench_time_calls NAME N [MODEL [OPTIONS]]: bench_calls(N) in the session;
# sets CALL_US and CALL_CPU (µs per call: wall inside the backend, backend
# CPU; CALL_CPU "" when unknown)
bench_time_calls() {
	local name=$1 n=$2 model=${3:-bench/gpt-4o-mini} opts=${4:-'{}'} c0 c1
	c0=$(bench_backend_cpu_ns "$name")
	bench_q "$name" "SELECT bench_calls($n, '$model', '$opts');"
	c1=$(bench_backend_cpu_ns "$name")
	[[ $REPLY =~ ^[0-9]+$ ]] || bench_die "unexpected result from bench_calls: '$REPLY'"
	CALL_US=$(bench_calc "%.2f" "us / n" us="$REPLY" n="$n")
	CALL_CPU=
	if [ -n "$c0" ] && [ -n "$c1" ]; then
		CALL_CPU=$(bench_calc "%.2f" "(b - a) / 1000 / n" a="$c0" b="$c1" n="$n")
	fi
}

# bench_pids_cpu_ns PID...: their summed CPU time (ns, schedstat), "" if unknown
bench_pids_cpu_ns() {
	local p ns _ sum=0
	for p in "$@"; do
		read -r ns _ 2>/dev/null <"/proc/$p/schedstat" || return 0
		sum=$((sum + ns))
	done
	printf '%s' "$sum"
}

# bench_compare ROUNDS N WARMUP SPEC...: per-call cost of several
# configurations, SPEC = "label|session|role|model" (role "" = the session
# user).  Each round runs every configuration once (WARMUP untimed calls,
# then bench_time_calls N), rotating the order from round to round so drift
# hits all alike; prints one line per round and sets CMP_US[label] and
# CMP_CPU[label] to the medians (µs per call: wall, and the backend's CPU —
# "" when /proc does not tell), and RUN_US[label] / RUN_CPU[label] to the
# per-round figures (space-separated, round order) for paired ratios.
declare -A CMP_US=() CMP_CPU=() RUN_US=() RUN_CPU=()
bench_compare() {
	local rounds=$1 n=$2 warm=$3 r i k label sess role model line
	shift 3
	local specs=("$@")
	local -A cur=() nocpu=()
	k=${#specs[@]}
	for i in "${!specs[@]}"; do
		label=${specs[$i]%%|*}
		RUN_US[$label]=
		RUN_CPU[$label]=
	done
	printf '  %-9s' ""
	for i in "${!specs[@]}"; do printf ' %20.20s' "${specs[$i]%%|*}"; done
	printf '   µs/call (backend CPU)\n'
	for r in $(seq 1 "$rounds"); do
		for i in $(seq 0 $((k - 1))); do
			IFS='|' read -r label sess role model <<<"${specs[$(((i + r - 1) % k))]}"
			if [ -n "$role" ]; then
				bench_q "$sess" "SET ROLE $role; SELECT 1;"
			fi
			[ "$warm" = 0 ] || bench_q "$sess" "SELECT bench_calls($warm, '$model');"
			bench_time_calls "$sess" "$n" "$model"
			[ -n "$CALL_CPU" ] || nocpu[$label]=1
			RUN_US[$label]+=" $CALL_US"
			RUN_CPU[$label]+=" ${CALL_CPU:-0}"
			cur[$label]=$(printf '%.1f (%s)' "$CALL_US" "${CALL_CPU:-n/a}")
			if [ -n "$role" ]; then
				bench_q "$sess" "RESET ROLE; SELECT 1;"
			fi
		done
		line=$(printf '  round %-3d' "$r")
		for i in "${!specs[@]}"; do line+=$(printf ' %20s' "${cur[${specs[$i]%%|*}]}"); done
		echo "$line"
	done
	line=$(printf '  %-9s' median)
	for i in "${!specs[@]}"; do
		label=${specs[$i]%%|*}
		# shellcheck disable=SC2086
		CMP_US[$label]=$(bench_median ${RUN_US[$label]})
		if [ -n "${nocpu[$label]:-}" ]; then
			CMP_CPU[$label]=
			RUN_CPU[$label]=
		else
			# shellcheck disable=SC2086
			CMP_CPU[$label]=$(bench_median ${RUN_CPU[$label]})
		fi
		line+=$(printf ' %20s' "$(printf '%.1f (%s)' "${CMP_US[$label]}" "${CMP_CPU[$label]:-n/a}")")
	done
	echo "$line"
}

# bench_paired_ratio "A1 A2 ..." "B1 B2 ...": median over rounds of Ai / Bi
bench_paired_ratio() {
	local a b r=() i
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	for i in "${!a[@]}"; do r+=("$(bench_calc "%.6f" "x / y" x="${a[$i]}" y="${b[$i]}")"); done
	bench_median "${r[@]}"
}

# bench_onoff_result FIGURE ON_LABEL OFF_LABEL TARGET: RESULT line
# comparing two bench_compare configurations by backend CPU per call (what
# the feature costs the call, not where the scheduler put the processes:
# wall time on a shared machine moves by more than these costs), or by wall
# time when the CPU figure is unknown (the figure says which).  measured and
# baseline are the medians; ratio is the median over rounds of on / off
# within the same round (paired: both ran within a second of each other, so
# machine-wide drift cancels out).
bench_onoff_result() {
	local what="backend CPU/call" on=${CMP_CPU[$2]} off=${CMP_CPU[$3]} ron=${RUN_CPU[$2]} roff=${RUN_CPU[$3]}
	if [ -z "$on" ] || [ -z "$off" ]; then
		what="wall/call"
		on=${CMP_US[$2]} off=${CMP_US[$3]} ron=${RUN_US[$2]} roff=${RUN_US[$3]}
	fi
	bench_result "$1 ($what)" "$(bench_calc "%.1f us" v v="$on")" "$(bench_calc "%.1f us" v v="$off")" \
		"$(bench_calc "%.3f" v v="$(bench_paired_ratio "$ron" "$roff")")" "$4"
}
