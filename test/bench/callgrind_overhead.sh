#!/usr/bin/env bash
# test/bench/callgrind_overhead.sh — instructions per ai_complete() call
# under callgrind, against the raw libcurl + json-c loop of raw_curl.c: the
# repeatable companion of bench_overhead.sh (whose wall-clock figures move
# with whatever else runs on the machine).
#
#   test/bench/callgrind_overhead.sh
#   CG_CACHE=1 test/bench/callgrind_overhead.sh   # also simulated L1 misses
#
# Same upstream as bench_overhead.sh: nginx on 127.0.0.1 answering with the
# canned OpenAI body (nginx.conf.in).  Extension side: a single-user backend
# (postgres --single, ai_gateway preloaded, a fresh initdb) runs 200 warm-up
# calls, then SELECT count(ai_complete('Hello', 'bench/gpt-4o-mini')) FROM
# generate_series(1, N); raw side: raw_curl with 200 warm-up calls and N
# calls, and raw_curl again with RAW_CURL_TRANSPORT_ONLY=1 (no JSON work:
# the libcurl exchange alone).  Each side runs twice, with N = CG_N1 and CG_N2, and the per-call
# figure is the difference of the two whole-process totals divided by
# CG_N2 - CG_N1, so start-up, catalog load and warm-up cancel out.  The
# extension side includes what the SQL statement costs per row.
#
# With CG_TLS=1 the upstream is HTTPS instead (test/tls_upstream.sh: nginx
# with a certificate of a private CA made here, the HTTP/1.1 TLS listener,
# the same canned body); the provider names the CA with options.ca_file,
# raw_curl with RAW_CURL_CAINFO; both keep one TLS connection, verification
# on (bench_tls.sh's per-call comparison, counted in instructions).
#
# With CG_CACHE=1 callgrind also simulates a 32 kB L1i, 32 kB L1d and 512 kB
# LL (8-way, 64-byte lines) and prints L1 misses per call: when nginx and
# the kernel run on the same CPU between calls, the cache lines a call
# touches cost about as much as its instructions.
#
# Needs valgrind, nginx, a C compiler with libcurl and json-c headers, and
# the extension installed ("make install").  Takes a few minutes.
#
# Environment: CG_N1 (default 500), CG_N2 (2500), CG_CACHE, CG_TLS, NGINX, CC, PG_CONFIG
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
N1=${CG_N1:-500}
N2=${CG_N2:-2500}
NGINX=${NGINX:-/usr/sbin/nginx}
CC=${CC:-cc}
# (no audit worker in single-user mode: the 8 MB audit queue holds ~70000 calls)
[[ $N1 =~ ^[0-9]+$ && $N2 =~ ^[0-9]+$ && $N1 -lt $N2 && $N2 -le 50000 ]] ||
	{ echo "CG_N1 < CG_N2 <= 50000 please" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "nginx not found at $NGINX" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/aig_cg.XXXXXX")
chmod 755 "$work"
nginx_pid=
TLS_NGINX_PID=
cleanup() {
	[ -z "$TLS_NGINX_PID" ] || aig_tls_stop_nginx
	if [ -n "$nginx_pid" ]; then
		kill -TERM "$nginx_pid" 2>/dev/null || true
		wait "$nginx_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2046
"$CC" -O2 -o "$work/raw_curl" "$AIG_ROOT/test/bench/raw_curl.c" \
	$(pkg-config --cflags json-c libcurl 2>/dev/null || true) -lcurl -ljson-c

if [ "${CG_TLS:-0}" = 1 ]; then
	# shellcheck source-path=SCRIPTDIR source=../tls_upstream.sh
	. "$AIG_ROOT/test/tls_upstream.sh"
	aig_tls_make_certs "$work/tls"
	mkdir -p "$work/tls/cas"
	cp "$work/tls/ca.pem" "$work/tls/cas/bench_ca.pem"
	chmod 755 "$work/tls" "$work/tls/cas"
	aig_tls_start_nginx "$work/tls" canned "$AIG_ROOT/test/samples/openai_chat_completion.json"
	port=$TLS_H1_PORT
	url="https://127.0.0.1:$port/v1/chat/completions"
	export RAW_CURL_CAINFO=$work/tls/ca.pem
	tls_conf=(-c "ai_gateway.ca_directory=$work/tls/cas")
	tls_opts=', options' tls_vals=", '{\"ca_file\": \"bench_ca.pem\"}'" scheme=https
else
port=$(aig_free_port)
python3 - "$AIG_ROOT/test/samples/openai_chat_completion.json" "$AIG_ROOT/test/bench/nginx.conf.in" \
	"$work" "$port" >"$work/nginx.conf" <<'PY'
import json, sys
sample, template, workdir, port = sys.argv[1:]
body = json.dumps(json.load(open(sample)), separators=(",", ":"), ensure_ascii=False)
body = body.replace("\\", "\\\\").replace("'", "\\'")
text = open(template).read()
sys.stdout.write(text.replace("@DIR@", workdir).replace("@PORT@", port).replace("@BODY@", body))
PY
"$NGINX" -e "$work/error.log" -p "$work" -c "$work/nginx.conf" </dev/null >"$work/nginx.out" 2>&1 &
nginx_pid=$!
url="http://127.0.0.1:$port/v1/chat/completions"
python3 - "$url" <<'PY' || { cat "$work/nginx.out" "$work/error.log" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"{}"), timeout=2).read()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("nginx did not answer")
PY
tls_conf=() tls_opts= tls_vals= scheme=http
fi

as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$work"; as_pg=(runuser -u postgres --); fi
"${as_pg[@]}" "$PG_BINDIR/initdb" -D "$work/data" -U postgres --auth=trust --no-sync \
	-E UTF8 --locale=C >/dev/null
single() { # SQL file -> stdout; extra valgrind args before
	local sql=$1
	shift
	"${as_pg[@]}" timeout 1800 "$@" "$PG_BINDIR/postgres" --single -j -D "$work/data" \
		-c shared_preload_libraries=ai_gateway -c fsync=off "${tls_conf[@]}" postgres <"$sql"
}
printf "CREATE EXTENSION ai_gateway;\n\nINSERT INTO ai_gateway.providers (name, kind, base_url, api_key%s) VALUES ('bench', 'openai', '%s://127.0.0.1:%s/v1', 'sk-bench-0123456789abcdef'%s);\n\n" \
	"$tls_opts" "$scheme" "$port" "$tls_vals" >"$work/setup.sql"
chmod 644 "$work/setup.sql"
single "$work/setup.sql" >"$work/setup.out" 2>&1 || { cat "$work/setup.out"; exit 1; }

cg=(valgrind --tool=callgrind)
# shellcheck disable=SC2054 # the commas are valgrind's
[ "${CG_CACHE:-0}" = 1 ] && cg+=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=524288,8,64)
for n in "$N1" "$N2"; do
	printf "SELECT count(ai_complete('Hello', 'bench/gpt-4o-mini')) FROM generate_series(1, 200);\n\nSELECT count(ai_complete('Hello', 'bench/gpt-4o-mini')) FROM generate_series(1, %s);\n\n" \
		"$n" >"$work/run_$n.sql"
	chmod 644 "$work/run_$n.sql"
	single "$work/run_$n.sql" "${cg[@]}" --callgrind-out-file="$work/ext.$n" >"$work/ext_$n.out" 2>&1
	grep -q "count = \"$n\"" "$work/ext_$n.out" || { tail -20 "$work/ext_$n.out"; exit 1; }
	timeout 1800 "${cg[@]}" --callgrind-out-file="$work/raw.$n" "$work/raw_curl" "$url" \
		sk-bench-0123456789abcdef "$n" 200 >/dev/null 2>"$work/raw_$n.err" ||
		{ tail -20 "$work/raw_$n.err"; exit 1; }
	RAW_CURL_TRANSPORT_ONLY=1 timeout 1800 "${cg[@]}" --callgrind-out-file="$work/tr.$n" \
		"$work/raw_curl" "$url" sk-bench-0123456789abcdef "$n" 200 >/dev/null 2>"$work/tr_$n.err" ||
		{ tail -20 "$work/tr_$n.err"; exit 1; }
done

python3 - "$work" "$N1" "$N2" <<'PY'
import sys
work, n1, n2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def totals(f):
    events = summary = None
    for line in open(f):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            summary = list(map(int, line.split()[1:]))
            break
    return dict(zip(events, summary))
per = {}
for side in ("ext", "raw", "tr"):
    a, b = totals(f"{work}/{side}.{n1}"), totals(f"{work}/{side}.{n2}")
    per[side] = {k: (b[k] - a[k]) / (n2 - n1) for k in a}
print(f"per call (difference of {n2}- and {n1}-call runs):")
print(f"  instructions  ai_complete {per['ext']['Ir']:9.0f}   raw {per['raw']['Ir']:9.0f}"
      f"   ratio {per['ext']['Ir'] / per['raw']['Ir']:.3f}")
print(f"  instructions  transport only (raw_curl without JSON work) {per['tr']['Ir']:9.0f}"
      f"   ai_complete / it {per['ext']['Ir'] / per['tr']['Ir']:.3f}")
if "I1mr" in per["ext"]:
    l1 = {s: sum(per[s][k] for k in ("I1mr", "D1mr", "D1mw")) for s in per}
    print(f"  L1 misses     ai_complete {l1['ext']:9.0f}   raw {l1['raw']:9.0f}"
          f"   ratio {l1['ext'] / l1['raw']:.3f}   (I1 {per['ext']['I1mr']:.0f} vs {per['raw']['I1mr']:.0f})")
PY
