#!/usr/bin/env bash
# fault_matrix.sh — every dialect against every upstream fault, in one backend.
#
# For each dialect (openai, openai_compatible, anthropic, cohere, ollama, gemini,
# azure_openai) and each fault of FAULTS below, these cells:
#   error     ai_chat on provider/model, max_retries 0: a clean error with the README's
#             SQLSTATE (or success where the fault is harmless: a slow answer inside
#             the timeout, JSON labelled text/plain);
#   fallback  a route whose first target has the fault and whose second is healthy:
#             success from the second target after exactly 2 attempts;
#   retry     (HTTP status faults) fail_first=1, max_retries 1: success on the retry
#             of the same target after exactly 2 attempts;
#   batch     ai_complete_batch of 2 prompts on the faulty target (each row carries the
#             error text the single call raised, or a completion) and on a fallback
#             route (both rows answered): the concurrent path of http.c and batch.c.
# Every cell checks the texts it gets for the provider keys and for invalid UTF-8.
# The matrix runs AIG_FAULT_PASSES times (default 3) in one session; after each pass:
#   - the mock counted exactly the requests the cells imply (no hidden retry or
#     duplicate send; see the reset note below) and holds no leaked connection;
#   - the backend's sockets (/proc/PID/fd) do not grow with the number of cells;
#   - the backend's RssAnon stays flat after the first (warm-up) pass;
# and at the end the backend PID is the one the matrix started with and the server
# log has no crash (signal, PANIC, assertion).  Each cell is bounded by its timeout_ms;
# statement_timeout (30 s) is the safety net (a cell cut by it shows up as 57014).
# Prints the matrix: fault x dialect -> error / fallback / retry / batch outcomes.
# Uses its own mock provider (its counters are this test's alone) and database.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_faults
PASSES=${AIG_FAULT_PASSES:-3}
work=$(mktemp -d)
trap 'aig_cleanup; rm -rf "$work"' EXIT

aig_start_mock FM_MOCK
dead_port=$(aig_free_port)		# nothing listens there: connection refused
aig_make_db "$PGPORT" "$DB" "$FM_MOCK" 2>/dev/null
log_start=0
if [ -n "${AIG_SERVER_LOG:-}" ] && [ -f "$AIG_SERVER_LOG" ]; then
	log_start=$(stat -c %s "$AIG_SERVER_LOG")
fi

# dialect (providers.kind) -> its provider on the mock
declare -A PROV=([openai]=openai [openai_compatible]=compat [anthropic]=anthropic
	[cohere]=cohere [ollama]=ollama [gemini]=gemini [azure_openai]=azure)
DIALECTS=(openai openai_compatible anthropic cohere ollama gemini azure_openai)

# name | mock directives | provider: main, slow (300 ms per attempt), dead (refused)
#      | outcome of the error cell | 1 = has a retry cell
FAULTS=(
	"429_retry_after|status=429+retry_after=1|main|53000|1"
	"429|status=429|main|53000|1"
	"500|status=500|main|58000|1"
	"502|status=502|main|58000|1"
	"503|status=503|main|58000|1"
	"504|status=504|main|58000|1"
	"conn_refused||dead|08001|0"
	"reset_at_once|reset|main|08006|0"
	"reset_mid_body|reset_mid|main|08006|0"
	"hang|hang|slow|08006|0"
	"trickle_past_timeout|trickle=40+chunk=16|slow|08006|0"
	"trickle_in_time|trickle=40+chunk=128|main|ok|0"
	"malformed_json|malformed|main|08P01|0"
	"truncated_json|truncated|main|08P01|0"
	"empty_200|empty|main|08P01|0"
	"empty_502|empty+status=502|main|58000|0"
	"html_502|html|main|58000|0"
	"html_200|html200|main|08P01|0"
	"json_as_text_plain|wrong_ctype|main|ok|0"
	"over_size_cap|oversized=200000|main|54000|0"
	"over_cap_error_body|status=500+oversized=200000|main|54000|0"
	"invalid_utf8|invalid_utf8|main|08P01|0"
	"invalid_utf8_error|status=500+invalid_utf8|main|58000|0"
	"invalid_utf8_finish|null_content+invalid_utf8|main|08P01|0"
	"non_ascii_error|status=500+intl_error|main|58000|0"
	"wrong_shape|wrong_shape|main|08P01|0"
	"wrong_types|wrong_type|main|08P01|0"
)

provider_for() {	# dialect set
	case "$2" in
	main) echo "${PROV[$1]}" ;;
	slow) echo "slow_${PROV[$1]}" ;;
	dead) echo "dead_${PROV[$1]}" ;;
	esac
}
model_of() { if [ -n "$2" ]; then echo "$1+$2"; else echo "$1"; fi; }

# ---- configuration: slow and dead twins of every provider, two fallback routes per fault
{
	cat <<SQL
-- breakers out of the way: failures never open one; a 429 with Retry-After opens its
-- target for 1 s (and a failed half-open probe for max(100 ms, 1 s)), while a target's
-- next cell comes a whole pass later.
ALTER DATABASE $DB SET ai_gateway.breaker_failures = 1000;
ALTER DATABASE $DB SET ai_gateway.breaker_min_requests = 1000000;
ALTER DATABASE $DB SET ai_gateway.breaker_cooldown_ms = 100;
ALTER DATABASE $DB SET ai_gateway.retry_base_ms = 10;
ALTER DATABASE $DB SET ai_gateway.timeout_ms = 10000;
ALTER DATABASE $DB SET ai_gateway.max_response_bytes = 65536;
ALTER DATABASE $DB SET statement_timeout = '30s';
ALTER DATABASE $DB SET client_min_messages = error;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('compat', 'openai_compatible', 'http://127.0.0.1:$FM_MOCK/v1', 'compat-integration-0123456789');
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options)
SELECT pre || name, kind, base || path, key, opts
FROM (VALUES ('openai', 'openai', '/v1', 'sk-integration-openai-0123456789'),
             ('compat', 'openai_compatible', '/v1', 'compat-integration-0123456789'),
             ('anthropic', 'anthropic', '', 'sk-ant-integration-0123456789'),
             ('cohere', 'cohere', '', 'co-integration-0123456789'),
             ('ollama', 'ollama', '', NULL),
             ('gemini', 'gemini', '', 'AIza-integration-0123456789'),
             ('azure', 'azure_openai', '', 'az-integration-0123456789')) p(name, kind, path, key),
     (VALUES ('slow_', 'http://127.0.0.1:$FM_MOCK', '{"timeout_ms": 300}'::jsonb),
             ('dead_', 'http://127.0.0.1:$dead_port', '{}')) v(pre, base, opts);

-- one call: 'ok' (content from the mock, the expected number of attempts) or the
-- SQLSTATE; the error text is kept in fm.last_error for the batch cell that follows
CREATE FUNCTION fm_cell(model text, opts jsonb, want_attempts int) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE r jsonb; st text; msg text; det text; hnt text;
BEGIN
    PERFORM set_config('fm.last_error', '', false);
    r := ai_chat('[{"role": "user", "content": "hello"}]', model, opts);
    PERFORM convert_to(r::text, 'UTF8');        -- raises 22021 on invalid UTF-8
    IF r->>'content' NOT LIKE 'mock reply from %' THEN
        RETURN 'bad content: ' || left(r->>'content', 60);
    END IF;
    IF (r->>'attempts')::int <> want_attempts THEN
        RETURN 'ok after ' || (r->>'attempts') || ' attempts';
    END IF;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    BEGIN
        PERFORM convert_to(concat(msg, det, hnt), 'UTF8');
    EXCEPTION WHEN OTHERS THEN
        RETURN st || ' with invalid UTF-8 in the message';
    END;
    IF concat(msg, det, hnt) LIKE '%0123456789%' THEN
        RETURN st || ' with a key in the message';
    END IF;
    PERFORM set_config('fm.last_error', msg, false);
    RETURN st;
END \$\$;

-- a batch of two prompts: 'ok' (both answered), 'same error' (both rows carry the
-- error the single call on model "m+..." raised, here on "b+..."), or what went wrong
CREATE FUNCTION fm_batch(model text, opts jsonb) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE r record; want text; res text; this text; n int := 0; st text;
BEGIN
    want := replace(current_setting('fm.last_error'), 'model "m', 'model "b');
    FOR r IN SELECT * FROM ai_complete_batch(array['hello', 'hello'], model, NULL, opts) LOOP
        n := n + 1;
        PERFORM convert_to(concat(r.completion, r.error), 'UTF8');
        IF concat(r.completion, r.error) LIKE '%0123456789%' THEN
            RETURN 'a key in row ' || n;
        END IF;
        IF r.error IS NULL AND r.completion LIKE 'mock reply from %' THEN
            this := 'ok';
        ELSIF r.error = want THEN
            this := 'same error';
        ELSE
            RETURN format('row %s: %s / %s (single call: %s)', n, r.completion, r.error, want);
        END IF;
        IF res IS NOT NULL AND res <> this THEN
            RETURN 'rows differ';
        END IF;
        res := this;
    END LOOP;
    RETURN CASE WHEN n = 2 THEN res ELSE n || ' rows' END;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    RETURN 'raised ' || st;
END \$\$;

-- targets whose last error (ai_gateway.health()) is not valid UTF-8
CREATE FUNCTION fm_bad_health() RETURNS int
LANGUAGE plpgsql AS \$\$
DECLARE r record; bad int := 0;
BEGIN
    FOR r IN SELECT last_error FROM ai_gateway.health() LOOP
        BEGIN
            PERFORM convert_to(r.last_error, 'UTF8');
        EXCEPTION WHEN OTHERS THEN
            bad := bad + 1;
        END;
    END LOOP;
    RETURN bad;
END \$\$;
SQL
	for d in "${DIALECTS[@]}"; do
		for f in "${FAULTS[@]}"; do
			IFS='|' read -r name dir set want retry <<<"$f"
			[ "$want" = ok ] && continue
			for r in fb bfb; do
				echo "INSERT INTO ai_gateway.routes (name, options) VALUES ('${r}_${d}_$name', '{\"max_retries\": 0, \"timeout_ms\": 5000}');"
				echo "INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES" \
					"('${r}_${d}_$name', '$(provider_for "$d" "$set")', '$(model_of "$r" "$dir")', 1)," \
					"('${r}_${d}_$name', '${PROV[$d]}', 'healthy', 2);"
			done
		done
	done
} | { echo "BEGIN;"; cat; echo "COMMIT;"; } | aig_psql "$PGPORT" -d "$DB" >/dev/null

# ---- the cells of one pass: SQL on stdout, "dialect|fault|kind|expected" lines in $2,
# and the requests the mock must see for them in $3.  The faulty target of each cell
# has a model name of its own (m, fb, r, b, bfb), so a breaker opened by one cell
# (a 429 with Retry-After) never decides another cell of the same pass.
pass_cells() {
	local p=$1 expf=$2 reqf=$3 d f name dir set want retry prov hit n=0
	: >"$expf"
	for d in "${DIALECTS[@]}"; do
		for f in "${FAULTS[@]}"; do
			IFS='|' read -r name dir set want retry <<<"$f"
			prov=$(provider_for "$d" "$set")
			hit=1		# requests one attempt on the faulty target makes
			[ "$set" = dead ] && hit=0
			# the reset targets (m, b, fb, bfb) are counted apart: see the reset note
			[ "$dir" = reset ] && hit=0
			echo "SELECT 'R|$p|$d|$name|error|' || fm_cell('$prov/$(model_of m "$dir")', '{\"max_retries\": 0}', 1);"
			echo "$d|$name|error|$want" >>"$expf"
			n=$((n + hit))
			echo "SELECT 'R|$p|$d|$name|batch|' || fm_batch('$prov/$(model_of b "$dir")', '{\"max_retries\": 0}');"
			if [ "$want" = ok ]; then echo "$d|$name|batch|ok" >>"$expf"; else echo "$d|$name|batch|same error" >>"$expf"; fi
			n=$((n + 2 * hit))
			if [ "$want" != ok ]; then
				echo "SELECT 'R|$p|$d|$name|fallback|' || fm_cell('fb_${d}_$name', '{}', 2);"
				echo "$d|$name|fallback|ok" >>"$expf"
				echo "SELECT 'R|$p|$d|$name|batch_fallback|' || fm_batch('bfb_${d}_$name', '{}');"
				echo "$d|$name|batch_fallback|ok" >>"$expf"
				n=$((n + 3 * (1 + hit)))
			fi
			if [ "$retry" = 1 ]; then
				echo "SELECT 'R|$p|$d|$name|retry|' || fm_cell('$prov/$(model_of "r+fail_first=1+seq=${d}_$name" "$dir")', '{\"max_retries\": 1, \"timeout_ms\": 5000}', 2);"
				echo "$d|$name|retry|ok" >>"$expf"
				n=$((n + 2))
			fi
		done
	done
	echo "$n" >"$reqf"
}

# ---- one session for every pass
mkfifo "$work/in"
aig_psql "$PGPORT" -d "$DB" -At -v ON_ERROR_STOP=0 <"$work/in" >"$work/out" 2>&1 &
psql_pid=$!
exec 3>"$work/in"
send() { printf '%s\n' "$@" >&3; }
mark() {
	send "SELECT 'done=$1';"
	for _ in $(seq 1 3000); do
		grep -q "^done=$1\$" "$work/out" && return
		kill -0 "$psql_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/out" >&2
	fail "step $1 did not finish"
}
send "SELECT 'pid=' || pg_backend_pid();"
mark pid
bpid=$(sed -n 's/^pid=//p' "$work/out")
[ -n "$bpid" ] || fail "no backend pid"

rss() { awk '/^RssAnon:/ {print $2}' "/proc/$bpid/status"; }
sockets() { find "/proc/$bpid/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l; }

declare -a RSS SOCK MOCKOPEN
nd=${#DIALECTS[@]}
for p in $(seq 1 "$PASSES"); do
	aig_mock_reset "$FM_MOCK"
	pass_cells "$p" "$work/expected" "$work/requests" >"$work/pass.sql"
	t0=$(aig_now_ms)
	send "$(cat "$work/pass.sql")" "SELECT 'H|$p|' || fm_bad_health();"
	mark "pass$p"
	t1=$(aig_now_ms)
	RSS[p]=$(rss)
	SOCK[p]=$(sockets)
	read -r total resets open <<<"$(aig_mock_stats "$FM_MOCK" \
		"f\"{s['requests']} {sum(v for k, v in s['by_model'].items() if k.endswith('+reset'))} {s['open_connections']}\"")"
	MOCKOPEN[p]=$open
	want_requests=$(cat "$work/requests")
	echo "  pass $p: $(grep -c "^R|$p|" "$work/out") cells in $((t1 - t0)) ms;" \
		"mock requests $((total - resets)) (expected $want_requests) + $resets for the resets;" \
		"open at the mock $open; backend sockets ${SOCK[p]}, RssAnon ${RSS[p]} kB"
	# Reset note: a connection reset before any response byte on a reused keep-alive
	# connection is sent again once by libcurl, on a fresh connection (its way of
	# surviving an idle connection the server closed), so each of the 6 requests the
	# reset cells send to their faulty target reaches the mock once or twice, never
	# more.  Everything else is exact.
	[ "$((total - resets))" = "$want_requests" ] ||
		{ aig_mock_stats "$FM_MOCK" "s['by_model']" >&2; fail "pass $p: the mock saw $((total - resets)) requests, expected $want_requests"; }
	[ "$resets" -ge $((6 * nd)) ] && [ "$resets" -le $((12 * nd)) ] ||
		fail "pass $p: the $((6 * nd)) requests of the reset cells reached the mock $resets times"
	badh=$(sed -n "s/^H|$p|//p" "$work/out")
	[ "$badh" = 0 ] || fail "pass $p: ai_gateway.health() shows ${badh:-?} last errors that are not valid UTF-8"
	# the verdicts of this pass: pass|dialect|fault|kind|expected|outcome
	awk -F'|' -v p="$p" '
		NR == FNR {
			if ($1 == "R" && $2 == p) {
				v = $6
				for (i = 7; i <= NF; i++) v = v "|" $i
				got[$3 "|" $4 "|" $5] = v
			}
			next
		}
		{ k = $1 "|" $2 "|" $3; print p "|" k "|" $4 "|" ((k in got) ? got[k] : "<none>") }
	' "$work/out" "$work/expected" >>"$work/verdicts"
done
send "SELECT 'pid=' || pg_backend_pid();"
mark endpid
exec 3>&-
wait "$psql_pid" || true

# ---- the matrix (pass 1), then the verdicts of every pass
if grep -v -e '^[RH]|' -e '^done=' -e '^pid=' "$work/out" | grep -q .; then
	grep -v -e '^[RH]|' -e '^done=' -e '^pid=' "$work/out" >&2
	fail "unexpected output from the session (an error outside a cell?)"
fi
echo "  outcome per cell (pass 1): error cell / fallback route / retry (429, 5xx) ; batch / batch fallback"
printf '%s\n' "${FAULTS[@]}" | cut -d'|' -f1 | awk -F'|' -v dialects="${DIALECTS[*]}" '
	NR == FNR {
		if ($1 == 1) {
			v = $6
			if (v == "same error") v = "same"
			cell[$2 "|" $3 "|" $4] = v
		}
		next
	}
	FNR == 1 {
		nd = split(dialects, ds, " ")
		printf "  %-21s", "fault"
		for (i = 1; i <= nd; i++) printf " %-20s", ds[i]
		printf "\n"
	}
	{
		printf "  %-21s", $1
		for (i = 1; i <= nd; i++) {
			k = ds[i] "|" $1 "|"
			s = cell[k "error"]
			if ((k "fallback") in cell) s = s "/" cell[k "fallback"]
			if ((k "retry") in cell) s = s "/" cell[k "retry"]
			s = s ";" cell[k "batch"]
			if ((k "batch_fallback") in cell) s = s "/" cell[k "batch_fallback"]
			printf " %-20s", s
		}
		printf "\n"
	}
' "$work/verdicts" -
ncells=$(wc -l <"$work/verdicts")
bad=$(awk -F'|' '$5 != $6' "$work/verdicts" | wc -l)
awk -F'|' '$5 != $6 {printf "  MISMATCH pass %s %s %s (%s): got \"%s\", expected \"%s\"\n", $1, $2, $3, $4, $6, $5}' \
	"$work/verdicts" | head -40 >&2
[ "$bad" = 0 ] || fail "$bad of $ncells cells did not end as expected"
pass "$ncells cells over $PASSES passes: every outcome as expected, no key or invalid UTF-8 in any text"

# ---- no crash, no leak, no growth
endpid=$(grep '^pid=' "$work/out" | tail -1 | sed 's/^pid=//')
[ "$endpid" = "$bpid" ] || fail "backend changed from $bpid to $endpid"
if [ -n "${AIG_SERVER_LOG:-}" ] && [ -f "$AIG_SERVER_LOG" ]; then
	if tail -c +"$((log_start + 1))" "$AIG_SERVER_LOG" | grep -E "terminated by signal|PANIC|TRAP:"; then
		fail "the server log shows a crash"
	fi
	pass "one backend ($bpid) for the whole matrix; no crash in the server log"
else
	pass "one backend ($bpid) for the whole matrix (no server log to check)"
fi
for p in $(seq 1 "$PASSES"); do
	# what stays open at the mock is the backend's keep-alive cache, not one per cell
	[ "${MOCKOPEN[p]}" -le 4 ] || fail "pass $p left ${MOCKOPEN[p]} connections open at the mock"
	[ "${SOCK[p]}" -le $((SOCK[1] + 2)) ] || fail "backend sockets grew: ${SOCK[*]}"
done
pass "connections: open at the mock after each pass ${MOCKOPEN[*]}, backend sockets ${SOCK[*]}"
growth=$((RSS[PASSES] - RSS[1]))
echo "  RssAnon after each pass: ${RSS[*]} kB (growth after the warm-up pass: $growth kB)"
[ "$growth" -lt 1024 ] || fail "backend memory grew by $growth kB over $((PASSES - 1)) passes"
pass "backend memory flat over the repeated matrix"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
