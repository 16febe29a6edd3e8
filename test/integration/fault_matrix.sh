#!/usr/bin/env bash
# fault_matrix.sh — every dialect against every upstream fault, in one backend.
#
# For each dialect (openai, openai_compatible, anthropic, cohere, ollama, gemini,
# azure_openai, mistral: the preset whose error bodies have a reader of their own, and bedrock)
# and each fault of FAULTS below, these cells:
#   error     ai_chat on provider/model, max_retries 0: a clean error with the README's
#             SQLSTATE (or success where the fault is harmless: a slow answer inside
#             the timeout, JSON labelled text/plain);
#   fallback  a route whose first target has the fault and whose second is healthy:
#             success from the second target after exactly 2 attempts;
#   retry     (HTTP status faults) fail_first=1, max_retries 1: success on the retry
#             of the same target after exactly 2 attempts;
#   batch     ai_complete_batch of 2 prompts on the faulty target (each row carries the
#             error text the single call raised, or a completion) and on a fallback
#             route (both rows answered): the concurrent path of http.c and batch.c;
#   embed     ai_embed on provider/model, max_retries 0: its SQLSTATE, or a vector.
# Every cell checks the texts it gets for the provider keys and for invalid UTF-8.
# The matrix runs AIG_FAULT_PASSES times (default 3) in one session; after each pass:
#   - the mock counted exactly the requests the cells imply (no hidden retry or
#     duplicate send; see the reset note below) and holds no leaked connection;
#   - the backend's sockets (/proc/PID/fd) do not grow with the number of cells;
#   - the backend's RssAnon stays flat after the first (warm-up) pass;
#   - no target's last error in ai_gateway.health() is invalid UTF-8;
# and at the end the backend PID is the one the matrix started with and the server
# log has no crash (signal, PANIC, assertion).  Each cell is bounded by its timeout_ms;
# statement_timeout (30 s) is the safety net (a cell cut by it shows up as 57014).
# Prints the matrix: fault x dialect -> outcome of each cell.
# Decisions the expectations encode: a body that parses is accepted whatever its
# Content-Type; a 200 that is not the API's JSON (HTML, empty, truncated, wrong shape
# or types, invalid UTF-8 in the text) is UP004; provider text inside an error message
# is cut to valid UTF-8 (invalid bytes become '?'); a body over
# ai_gateway.max_response_bytes is 54000 even when it is an error page.
# Uses its own mock provider (its counters are this test's alone) and database.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_faults
PASSES=${AIG_FAULT_PASSES:-3}
work=$(mktemp -d)
psql_pid=
trap '[ -z "$psql_pid" ] || kill "$psql_pid" 2>/dev/null || true; aig_cleanup; rm -rf "$work"' EXIT

aig_start_mock FM_MOCK
dead_port=$(aig_free_port)		# nothing listens there: connection refused
PGOPTIONS="-c client_min_messages=warning" aig_make_db "$PGPORT" "$DB" "$FM_MOCK"
log_start=0
if [ -n "${AIG_SERVER_LOG:-}" ] && [ -f "$AIG_SERVER_LOG" ]; then
	log_start=$(stat -c %s "$AIG_SERVER_LOG")
fi

# dialect (providers.kind) -> its provider on the mock
declare -A PROV=([openai]=openai [openai_compatible]=compat [anthropic]=anthropic
	[cohere]=cohere [ollama]=ollama [gemini]=gemini [azure_openai]=azure [mistral]=mistral
	[bedrock]=bedrock)
DIALECTS=(openai openai_compatible anthropic cohere ollama gemini azure_openai mistral bedrock)

# name | mock directives | provider: main, slow (300 ms per attempt), dead (refused)
#      | outcome of the error cell | 1 = has a retry cell | outcome of ai_embed
# (ai_embed reads only numbers: invalid UTF-8 in a field it ignores is harmless;
# anthropic has no embeddings API: 0A000 whatever the fault, and no request)
FAULTS=(
	"429_retry_after|status=429+retry_after=1|main|53000|1|53000"
	"429|status=429|main|53000|1|53000"
	"500|status=500|main|58000|1|58000"
	"502|status=502|main|58000|1|58000"
	"503|status=503|main|58000|1|58000"
	"504|status=504|main|58000|1|58000"
	"conn_refused||dead|UP001|0|UP001"
	"reset_at_once|reset|main|UP003|0|UP003"
	"reset_mid_body|reset_mid|main|UP003|0|UP003"
	"hang|hang|slow|UP002|0|UP002"
	"trickle_past_timeout|trickle=100+chunk=16|slow|UP002|0|UP002"
	"trickle_in_time|trickle=40+chunk=128|main|ok|0|ok"
	"malformed_json|malformed|main|UP004|0|UP004"
	"truncated_json|truncated|main|UP004|0|UP004"
	"empty_200|empty|main|UP004|0|UP004"
	"empty_502|empty+status=502|main|58000|0|58000"
	"html_502|html|main|58000|0|58000"
	"html_200|html200|main|UP004|0|UP004"
	"json_as_text_plain|wrong_ctype|main|ok|0|ok"
	"over_size_cap|oversized=200000|main|54000|0|54000"
	"over_cap_error_body|status=500+oversized=200000|main|54000|0|54000"
	"invalid_utf8|invalid_utf8|main|UP004|0|ok"
	"invalid_utf8_error|status=500+invalid_utf8|main|58000|0|58000"
	"invalid_utf8_finish|null_content+invalid_utf8|main|UP004|0|UP004"
	"non_ascii_error|status=500+intl_error|main|58000|0|58000"
	"wrong_shape|wrong_shape|main|UP004|0|UP004"
	"wrong_types|wrong_type|main|UP004|0|UP004"
)

provider_for() {	# dialect set
	case "$2" in
	main) echo "${PROV[$1]}" ;;
	slow) echo "slow_${PROV[$1]}" ;;
	dead) echo "dead_${PROV[$1]}" ;;
	esac
}
model_of() { if [ -n "$2" ]; then echo "$1+$2"; else echo "$1"; fi; }

# Target and route names of a fault's cells.  Each provider/model target and each route
# takes an entry in the shared target state (ai_gateway.max_targets), so the cells of a
# fault share one target ("m+<directives>") and one fallback route.  Only a fault whose
# Retry-After opens the breaker (for 1 s: the rest of the pass) gives each cell a target
# of its own: m (error), b (batch), e (embed), and two routes with the targets fb and
# bfb; and since the next pass finds these breakers open (expired), where one probe
# goes through and a batch's second prompt would be refused, the batch cells' targets
# are new in every pass (b1, b2, ...; bfb1, bfb2, ...).
# Sets M B E (models), FB BFB (routes) and FBM BFBM (their faulty targets' models).
cell_names() {	# dialect name dir pass
	if [[ $3 == *retry_after* ]]; then
		M=$(model_of m "$3") B=$(model_of "b$4" "$3") E=$(model_of e "$3")
		FB=fb_$1_$2 BFB=bfb_$1_$2_$4 FBM=$(model_of fb "$3") BFBM=$(model_of "bfb$4" "$3")
	else
		M=$(model_of m "$3") B=$M E=$M FB=fb_$1_$2 BFB=$FB FBM=$M BFBM=$M
	fi
}

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
    ('compat', 'openai_compatible', 'http://127.0.0.1:$FM_MOCK/v1', 'compat-integration-0123456789'),
    ('mistral', 'mistral', 'http://127.0.0.1:$FM_MOCK/mistral/v1', 'mistral-integration-0123456789');
-- Bedrock: SigV4 with AWS's documented example key pair, which the mock verifies
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('bedrock', 'bedrock', 'http://127.0.0.1:$FM_MOCK',
     '{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}',
     '{"region": "us-east-1"}');
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options)
SELECT pre || name, kind, base || path, key,
       opts || CASE WHEN kind = 'bedrock' THEN '{"region": "us-east-1"}'::jsonb ELSE '{}' END
FROM (VALUES ('openai', 'openai', '/v1', 'sk-integration-openai-0123456789'),
             ('compat', 'openai_compatible', '/v1', 'compat-integration-0123456789'),
             ('anthropic', 'anthropic', '', 'sk-ant-integration-0123456789'),
             ('cohere', 'cohere', '', 'co-integration-0123456789'),
             ('ollama', 'ollama', '', NULL),
             ('gemini', 'gemini', '', 'AIza-integration-0123456789'),
             ('azure', 'azure_openai', '', 'az-integration-0123456789'),
             ('mistral', 'mistral', '/mistral/v1', 'mistral-integration-0123456789'),
             ('bedrock', 'bedrock', '',
              '{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}')) p(name, kind, path, key),
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
-- error the single call on single_model raised, with this model), or what went wrong
CREATE FUNCTION fm_batch(model text, single_model text, opts jsonb) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE r record; want text; res text; this text; n int := 0; st text;
BEGIN
    want := replace(current_setting('fm.last_error'),
                    format('model "%s"', split_part(single_model, '/', 2)),
                    format('model "%s"', split_part(model, '/', 2)));
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

-- one embedding: 'ok' (a vector) or the SQLSTATE
CREATE FUNCTION fm_embed(model text, opts jsonb) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE v real[]; st text; msg text; det text; hnt text;
BEGIN
    v := ai_embed('hello', model, opts);
    RETURN CASE WHEN cardinality(v) > 0 THEN 'ok' ELSE 'no vector' END;
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
    RETURN st;
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
			IFS='|' read -r name dir set want retry ewant <<<"$f"
			[ "$want" = ok ] && continue
			routes=()
			for p in $(seq 1 "$PASSES"); do
				cell_names "$d" "$name" "$dir" "$p"
				[ "$p" = 1 ] && routes+=("$FB|$FBM")
				[ "$BFB" = "$FB" ] || routes+=("$BFB|$BFBM")
			done
			for r in "${routes[@]}"; do
				echo "INSERT INTO ai_gateway.routes (name, options) VALUES ('${r%%|*}', '{\"max_retries\": 0, \"timeout_ms\": 5000}');"
				echo "INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES" \
					"('${r%%|*}', '$(provider_for "$d" "$set")', '${r#*|}', 1)," \
					"('${r%%|*}', '${PROV[$d]}', 'healthy', 2);"
			done
		done
	done
} | { echo "BEGIN;"; cat; echo "COMMIT;"; } | aig_psql "$PGPORT" -d "$DB" >/dev/null

# ---- the cells of one pass: SQL on stdout, "dialect|fault|kind|expected" lines in $2,
# and the requests the mock must see for them in $3.
pass_cells() {
	local p=$1 expf=$2 reqf=$3 d f name dir set want retry ewant prov hit n=0
	: >"$expf"
	for d in "${DIALECTS[@]}"; do
		for f in "${FAULTS[@]}"; do
			IFS='|' read -r name dir set want retry ewant <<<"$f"
			prov=$(provider_for "$d" "$set")
			hit=1		# requests one attempt on the faulty target makes
			[ "$set" = dead ] && hit=0
			# the reset targets are counted apart: see the reset note
			[ "$dir" = reset ] && hit=0
			cell_names "$d" "$name" "$dir" "$p"
			echo "SELECT 'R|$p|$d|$name|error|' || fm_cell('$prov/$M', '{\"max_retries\": 0}', 1);"
			echo "$d|$name|error|$want" >>"$expf"
			n=$((n + hit))
			echo "SELECT 'R|$p|$d|$name|batch|' || fm_batch('$prov/$B', '$prov/$M', '{\"max_retries\": 0}');"
			if [ "$want" = ok ]; then echo "$d|$name|batch|ok" >>"$expf"; else echo "$d|$name|batch|same error" >>"$expf"; fi
			n=$((n + 2 * hit))
			if [ "$want" != ok ]; then
				echo "SELECT 'R|$p|$d|$name|fallback|' || fm_cell('$FB', '{}', 2);"
				echo "$d|$name|fallback|ok" >>"$expf"
				echo "SELECT 'R|$p|$d|$name|batch_fallback|' || fm_batch('$BFB', '', '{}');"
				echo "$d|$name|batch_fallback|ok" >>"$expf"
				n=$((n + 3 * (1 + hit)))
			fi
			echo "SELECT 'R|$p|$d|$name|embed|' || fm_embed('$prov/$E', '{\"max_retries\": 0}');"
			if [ "$d" = anthropic ]; then
				echo "$d|$name|embed|0A000" >>"$expf"
			else
				echo "$d|$name|embed|$ewant" >>"$expf"
				n=$((n + hit))
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
	send "$(cat "$work/pass.sql")"
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
	# surviving an idle connection the server closed), so each of the 7 requests the
	# reset cells send to m+reset (6 for anthropic: no ai_embed) reaches the mock once
	# or twice, never more.  Everything else is exact.
	[ "$((total - resets))" = "$want_requests" ] ||
		{ aig_mock_stats "$FM_MOCK" "s['by_model']" >&2; fail "pass $p: the mock saw $((total - resets)) requests, expected $want_requests"; }
	rlo=$((7 * nd - 1))	# anthropic: no embeddings request
	[ "$resets" -ge "$rlo" ] && [ "$resets" -le $((2 * rlo)) ] ||
		fail "pass $p: the $rlo requests of the reset cells reached the mock $resets times"
	# (from another session: health() allocates for every entry, not the matrix's memory)
	badh=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT fm_bad_health()")
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
psql_pid=

# ---- the matrix (pass 1), then the verdicts of every pass
if grep -v -e '^R|' -e '^done=' -e '^pid=' "$work/out" | grep -q .; then
	grep -v -e '^R|' -e '^done=' -e '^pid=' "$work/out" >&2
	fail "unexpected output from the session (an error outside a cell?)"
fi
# table TITLE AWK-EXPRESSION-OF-k (k = "dialect|fault|", cell[k kind] = outcome)
table() {
	echo "  $1"
	printf '%s\n' "${FAULTS[@]}" | cut -d'|' -f1 | awk -F'|' -v dialects="${DIALECTS[*]}" '
		function c(kind, sep) { return ((k kind) in cell) ? sep cell[k kind] : "" }
		NR == FNR {
			if ($1 == 1) cell[$2 "|" $3 "|" $4] = ($6 == "same error") ? "same" : $6
			next
		}
		FNR == 1 {
			nd = split(dialects, ds, " ")
			printf "  %-21s", "fault"
			for (i = 1; i <= nd; i++) printf " %-18s", ds[i]
			printf "\n"
		}
		{
			printf "  %-21s", $1
			for (i = 1; i <= nd; i++) {
				k = ds[i] "|" $1 "|"
				printf " %-18s", '"$2"'
			}
			printf "\n"
		}
	' "$work/verdicts" -
}
table "ai_chat (pass 1): error cell / fallback route / retry (429, 5xx)" \
	'c("error", "") c("fallback", "/") c("retry", "/")'
table "ai_complete_batch / on a fallback route; ai_embed (pass 1)" \
	'c("batch", "") c("batch_fallback", "/") c("embed", "; ")'
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
[ -n "${AIG_FM_KEEP_DB:-}" ] || aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
