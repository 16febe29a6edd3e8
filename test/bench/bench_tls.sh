#!/usr/bin/env bash
# test/bench/bench_tls.sh — the HTTPS path (issue 16, item 4): per-call time
# of ai_complete() over TLS with a kept connection against a raw libcurl
# loop over the same HTTPS upstream, and a 1,000-item ai_complete_batch
# over HTTP/2 against HTTP/1.1 (connections opened, wall time).
#
#   test/bench/bench_tls.sh
#   BENCH_N=1000 BENCH_ROUNDS=5 BENCH_BATCH=1000 BENCH_BATCH_ROUNDS=3 test/bench/bench_tls.sh
#
# Upstream: nginx on 127.0.0.1 with a certificate of a private CA made here
# (test/tls_upstream.sh), two TLS listeners — HTTP/1.1 only, and HTTP/2
# offered by ALPN — both answering POST /v1/chat/completions at once with
# the canned OpenAI body of test/samples/openai_chat_completion.json.  The
# extension's providers name the CA with options.ca_file (a bundle in
# ai_gateway.ca_directory); certificate verification is on on both sides.
#
# Per call (target: ratio <= 1.15 over TLS; plain HTTP on the same nginx
# for reference, no target): ROUNDS rounds, each running, in rotating
# order, for each listener: raw_curl (test/bench/raw_curl.c with
# RAW_CURL_CAINFO: ONE easy handle, so one kept TLS connection, WARMUP
# untimed calls then N timed ones; libcurl's defaults, so HTTP/2 on the
# HTTP/2 listener) and bench_calls(N) in one long-lived backend (its
# connection opened by a check call before the rounds).  Reported: medians
# of wall µs/call, ratio = ai_complete / raw, per listener; the paired
# per-round ratio too.  nginx's access log counts the connections each side
# opened (expected: one per raw_curl process, none for the backend).
#
# On a shared machine these wall and CPU figures move a lot from round to
# round; CG_TLS=1 test/bench/callgrind_overhead.sh counts the instructions of
# the same two loops over the same kind of upstream (repeatable).
#
# Batch (information, no target): BATCH_ROUNDS rounds of a BATCH-item
# ai_complete_batch at concurrency BENCH_CONCURRENCY (default 64) in a fresh
# backend (so its connections are opened inside the timed statement), over
# HTTP/2 and over HTTP/1.1; wall ms inside the backend and connections
# opened (nginx's log), medians; ratio = HTTP/2 / HTTP/1.1 wall time.
#
# Environment: BENCH_N (default 1000), BENCH_ROUNDS (5), BENCH_WARMUP (100),
# BENCH_BATCH (1000), BENCH_BATCH_ROUNDS (3), BENCH_CONCURRENCY (64),
# BENCH_TIMEOUT, NGINX, CC, PG_CONFIG.  Needs the extension installed
# ("make install"), nginx with the ssl and http_v2 modules, openssl, a C
# compiler with libcurl and json-c headers, python3.  Everything lives in a
# temp dir removed at exit; nginx and the cluster are stopped by PID.
set -euo pipefail
BENCH_NAME=bench_tls
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=../tls_upstream.sh
source "$BENCH_HERE/../tls_upstream.sh"

N=${BENCH_N:-1000}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-100}
BATCH=${BENCH_BATCH:-1000}
BATCH_ROUNDS=${BENCH_BATCH_ROUNDS:-3}
CONC=${BENCH_CONCURRENCY:-64}
TARGET=1.15
bench_check_int BENCH_N "$N" 1 1000000
bench_check_int BENCH_ROUNDS "$ROUNDS" 1 101
bench_check_int BENCH_WARMUP "$WARMUP" 0 100000
bench_check_int BENCH_BATCH "$BATCH" 1 100000
bench_check_int BENCH_BATCH_ROUNDS "$BATCH_ROUNDS" 1 21
bench_check_int BENCH_CONCURRENCY "$CONC" 1 100
command -v openssl >/dev/null || bench_die "openssl is required"
command -v python3 >/dev/null || bench_die "python3 is required"

bench_require_extension
bench_build_raw_curl
T=$BENCH_WORK/tls
aig_tls_make_certs "$T" || bench_die "could not make the certificates"
mkdir -p "$T/cas"
cp "$T/ca.pem" "$T/cas/bench_ca.pem"
chmod 755 "$T" "$T/cas"
aig_tls_start_nginx "$T" canned "$AIG_ROOT/test/samples/openai_chat_completion.json" ||
	bench_die "nginx (TLS) did not start"
NGINX_PID=$TLS_NGINX_PID # bench_cleanup stops it
H1=https://127.0.0.1:$TLS_H1_PORT
H2=https://127.0.0.1:$TLS_H2_PORT
PLAIN=http://127.0.0.1:$TLS_PLAIN_PORT

bench_start_cluster "ai_gateway.ca_directory = '$T/cas'"
NGINX_URL=$H1 bench_setup_db postgres
aig_psql "$PG_PORT" -d postgres -At -v h2="$H2/v1" -v plain="$PLAIN/v1" -v key="$BENCH_API_KEY" >/dev/null <<'SQL' || bench_die "could not set up the providers"
UPDATE ai_gateway.providers SET options = '{"ca_file": "bench_ca.pem"}' WHERE name = 'bench';
INSERT INTO ai_gateway.providers(name, kind, base_url, api_key, options)
    VALUES ('bench_h2', 'openai', :'h2', :'key', '{"ca_file": "bench_ca.pem"}'),
           ('bench_plain', 'openai', :'plain', :'key', '{}');
CREATE FUNCTION public.bench_batch(n int, model text, concurrency int) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    ok bigint;
    t0 timestamptz := clock_timestamp();
BEGIN
    SELECT count(*) FILTER (WHERE error IS NULL AND completion = public.bench_expected()) INTO ok
      FROM ai_complete_batch(array(SELECT 'item ' || g FROM generate_series(1, n) g), model, NULL,
                             jsonb_build_object('concurrency', concurrency));
    IF ok <> n THEN
        RAISE EXCEPTION 'only % of % batch items returned the canned content', ok, n;
    END IF;
    RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1)::text;
END
$f$;
SQL

# --- per call ------------------------------------------------------------------------
bench_session ext postgres
for m in bench bench_h2 bench_plain; do
	bench_q ext "SELECT ai_complete('Hello', '$m/gpt-4o-mini');"
	[ "$REPLY" = "$(bench_expected_content)" ] || bench_die "$m: ai_complete returned '$REPLY'"
done

run_raw() { # URL: sets RAW_US
	local out
	out=$(RAW_CURL_CAINFO="$T/ca.pem" timeout "$BENCH_TIMEOUT" "$RAW_CURL" "$1/v1/chat/completions" \
		"$BENCH_API_KEY" "$N" "$WARMUP") || bench_die "raw_curl failed on $1"
	[[ $out =~ us_per_call=([0-9.]+)\ cpu_us_per_call=([0-9.]+)\ connects=([0-9]+) ]] ||
		bench_die "unexpected output from raw_curl: '$out'"
	RAW_US=${BASH_REMATCH[1]}
	RAW_CPU=${BASH_REMATCH[2]}
	[ "${BASH_REMATCH[3]}" = 0 ] || echo "  note: raw_curl reconnected ${BASH_REMATCH[3]} times"
}
run_ext() { # MODEL: sets EXT_US
	[ "$WARMUP" = 0 ] || bench_q ext "SELECT bench_calls($WARMUP, '$1');"
	bench_time_calls ext "$N" "$1"
	EXT_US=$CALL_US
	EXT_CPU=$CALL_CPU
}

declare -A raw_r=() ext_r=() pair_r=() rawc_r=() extc_r=()
from=$(aig_tls_log_lines)
echo "per-call cost over HTTPS, N=$N x $ROUNDS rounds (+$WARMUP warm-up), wall µs/call"
printf '  %-9s %10s %12s %7s | %10s %12s %7s | %10s %12s %7s\n' "" "raw h1.1" "ai_complete" ratio "raw h2" "ai_complete" ratio \
	"raw http" "ai_complete" ratio
for r in $(seq 1 "$ROUNDS"); do
	line=$(printf '  round %-3d' "$r")
	for proto in h1 h2 plain; do
		url=$H1 model=bench/gpt-4o-mini
		[ "$proto" = h2 ] && url=$H2 model=bench_h2/gpt-4o-mini
		[ "$proto" = plain ] && url=$PLAIN model=bench_plain/gpt-4o-mini
		if [ $((r % 2)) = 1 ]; then
			run_raw "$url"
			run_ext "$model"
		else
			run_ext "$model"
			run_raw "$url"
		fi
		raw_r[$proto]+=" $RAW_US"
		ext_r[$proto]+=" $EXT_US"
		pair_r[$proto]+=" $(bench_calc "%.4f" "e / a" e="$EXT_US" a="$RAW_US")"
		rawc_r[$proto]+=" $RAW_CPU"
		extc_r[$proto]+=" ${EXT_CPU:-0}"
		line+=$(printf ' %10.1f %12.1f %7.3f |' "$RAW_US" "$EXT_US" "$(bench_calc "%.4f" "e / a" e="$EXT_US" a="$RAW_US")")
	done
	echo "${line% |}"
done
for proto in h1 h2 plain; do
	port=$TLS_H1_PORT name="HTTP/1.1" target="<= $TARGET"
	[ "$proto" = h2 ] && port=$TLS_H2_PORT name="HTTP/2"
	# the same without TLS, for reference: what TLS adds to each side
	[ "$proto" = plain ] && port=$TLS_PLAIN_PORT name="plain HTTP" target="-"
	# shellcheck disable=SC2086
	raw_med=$(bench_median ${raw_r[$proto]})
	# shellcheck disable=SC2086
	ext_med=$(bench_median ${ext_r[$proto]})
	# shellcheck disable=SC2086
	paired=$(bench_median ${pair_r[$proto]})
	# shellcheck disable=SC2086
	rawc_med=$(bench_median ${rawc_r[$proto]})
	# shellcheck disable=SC2086
	extc_med=$(bench_median ${extc_r[$proto]})
	conns=$(aig_tls_new_conns "$from" "$port")
	printf '  %-8s raw %.1f µs/call, ai_complete %.1f µs/call: ratio %.3f (paired per round %.3f); %s new connections (expected %s: one per raw_curl process, none for the backend)\n' \
		"$name" "$raw_med" "$ext_med" "$(bench_calc "%.4f" "e / a" e="$ext_med" a="$raw_med")" "$paired" "$conns" "$ROUNDS"
	if [ "$conns" != "$ROUNDS" ]; then
		echo "  note: expected $ROUNDS new connections on $name, saw $conns (connection: requests):"
		tail -n +"$((from + 1))" "$T/access.log" | awk -v p="$port" '$1 == p { n[$2]++ } END { for (c in n) printf "    %s: %d\n", c, n[c] }'
	fi
	bench_result "HTTPS per-call ($name, kept connection): ai_complete vs raw libcurl loop (wall)" \
		"$(bench_calc "%.1f us" v v="$ext_med")" "$(bench_calc "%.1f us" v v="$raw_med")" \
		"$(bench_calc "%.3f" "e / a" e="$ext_med" a="$raw_med")" "$target"
	if [ -n "$EXT_CPU" ]; then
		printf '  %-8s client CPU: raw %.1f µs/call, backend %.1f µs/call: ratio %.3f\n' "$name" "$rawc_med" "$extc_med" \
			"$(bench_calc "%.4f" "e / a" e="$extc_med" a="$rawc_med")"
		bench_result "HTTPS per-call ($name, kept connection): ai_complete vs raw libcurl loop (CPU)" \
			"$(bench_calc "%.1f us" v v="$extc_med")" "$(bench_calc "%.1f us" v v="$rawc_med")" \
			"$(bench_calc "%.3f" "e / a" e="$extc_med" a="$rawc_med")" "$target"
	fi
done

# --- batch: HTTP/2 vs HTTP/1.1 ---------------------------------------------------------
declare -A b_ms=() b_conns=()
echo "ai_complete_batch of $BATCH items at concurrency $CONC in a fresh backend, $BATCH_ROUNDS rounds"
for r in $(seq 1 "$BATCH_ROUNDS"); do
	order="h2 h1"
	[ $((r % 2)) = 0 ] && order="h1 h2"
	line=$(printf '  round %-3d' "$r")
	for proto in $order; do
		port=$TLS_H1_PORT model=bench/gpt-4o-mini
		[ "$proto" = h2 ] && port=$TLS_H2_PORT model=bench_h2/gpt-4o-mini
		from=$(aig_tls_log_lines)
		ms=$(timeout "$BENCH_TIMEOUT" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
			-U postgres -d postgres -At -c "SELECT bench_batch($BATCH, '$model', $CONC)") ||
			bench_die "the $proto batch failed"
		c=$(aig_tls_new_conns "$from" "$port")
		b_ms[$proto]+=" $ms"
		b_conns[$proto]+=" $c"
		line+=$(printf '  %s %8.1f ms %3d conns' "$proto" "$ms" "$c")
	done
	echo "$line"
done
# shellcheck disable=SC2086
h2_ms=$(bench_median ${b_ms[h2]})
# shellcheck disable=SC2086
h1_ms=$(bench_median ${b_ms[h1]})
# shellcheck disable=SC2086
h2_c=$(bench_median ${b_conns[h2]})
# shellcheck disable=SC2086
h1_c=$(bench_median ${b_conns[h1]})
echo "  HTTP/2: $h2_ms ms, $h2_c connection(s); HTTP/1.1: $h1_ms ms, $h1_c connection(s) (medians)"
bench_result "TLS batch of $BATCH at concurrency $CONC: connections opened, HTTP/2 vs HTTP/1.1" \
	"$h2_c" "$h1_c" "$(bench_calc "%.3f" "a / b" a="$h2_c" b="$h1_c")" "-"
bench_result "TLS batch of $BATCH at concurrency $CONC: wall time, HTTP/2 vs HTTP/1.1" \
	"$(bench_calc "%.1f ms" v v="$h2_ms")" "$(bench_calc "%.1f ms" v v="$h1_ms")" \
	"$(bench_calc "%.3f" "a / b" a="$h2_ms" b="$h1_ms")" "-"
