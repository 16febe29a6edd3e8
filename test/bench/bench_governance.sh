#!/usr/bin/env bash
# test/bench/bench_governance.sh — what governance costs a call: quotas,
# rate limits and the audit log, each on vs off.
#
# 1. Per call, no HTTP: ai_gateway.bench_governance(route, n) runs, n times
#    in one backend, what governance adds to a call: the route grant check,
#    the caller's rate limit (a role bucket), two quota reservations and
#    settlements (a group quota and the role's own), and one audit record
#    queued — with no request sent.  Baseline: the same loop with no quota,
#    no rate limit (grant check and audit only).  Target: <= 5 µs per call,
#    all on.  Then the n queued records are timed into audit_log.
# 2. Per call, on vs off, real ai_complete() calls against the canned-body
#    nginx of bench_overhead.sh, N calls per statement, alternating over
#    rounds (bench_compare in common.sh), all as non-admin roles with a
#    provider grant:
#      off        role without quota or rate limit, in database bench_na
#                 (not ai_gateway.database: calls there are not audited)
#      quota      a role under two quotas (its group's and its own)
#      rate limit a role with a requests_per_minute bucket
#      audit      the "off" role in database postgres (audited)
#      all on     two quotas + rate limit + audit
#    Compared by the calling backend's CPU per call (what the call costs
#    its session; wall time on a shared machine moves by more than these
#    costs, it is printed too).  RESULT lines: medians, and the median over
#    rounds of on / off within a round (paired), target
#    <= 1.05 each (all on: <= 1.10).  The audit row itself is written by the
#    "ai_gateway worker", off the caller's path: its CPU per audited call is
#    printed here, and bench_audit.sh measures what it costs at peak rate.
#    The run checks that the quota really counted the calls and that the
#    audited calls have their rows.
#
#   test/bench/bench_governance.sh
#   (BENCH_ITER=20000; BENCH_GOV_N=500 calls x BENCH_GOV_ROUNDS=21)
set -euo pipefail
BENCH_NAME=bench_governance
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ITER=${BENCH_ITER:-20000}
N=${BENCH_GOV_N:-500}
ROUNDS=${BENCH_GOV_ROUNDS:-21}
WARM=50
bench_check_int BENCH_ITER "$ITER" 1 10000000
bench_check_int BENCH_GOV_N "$N" 1 1000000
bench_check_int BENCH_GOV_ROUNDS "$ROUNDS" 1 101

bench_require_extension
bench_start_nginx
bench_start_cluster "ai_gateway.database = 'postgres'"
aig_psql "$PG_PORT" -d postgres -At -c "CREATE DATABASE bench_na" >/dev/null
bench_setup_db postgres
bench_setup_db bench_na

# --- 1. no HTTP ----------------------------------------------------------------
aig_psql "$PG_PORT" -d postgres -At >/dev/null <<'SQL'
CREATE ROLE bench_team;
CREATE ROLE bench_user IN ROLE bench_team;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p', 'ollama', 'http://127.0.0.1:9');
INSERT INTO ai_gateway.routes (name) VALUES ('r');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r', 'p', 'm');
SELECT ai_gateway.grant_route('r', 'bench_team');
GRANT EXECUTE ON FUNCTION ai_gateway.bench_governance(text, int) TO bench_user;
SQL
run() {
	aig_psql "$PG_PORT" -d postgres -At -c "SET ROLE bench_user" \
		-c "SELECT ai_gateway.bench_governance('r', $1)" | tail -1
}
flush() { aig_psql "$PG_PORT" -d postgres -At -c "SELECT ai_gateway.audit_flush(60000)" >/dev/null; }
run 2000 >/dev/null
flush
off=$(run "$ITER")
flush
aig_psql "$PG_PORT" -d postgres -At >/dev/null <<'SQL'
INSERT INTO ai_gateway.quotas (role, period, max_requests, max_tokens) VALUES
    ('bench_team', 'day', 1000000000, 1000000000000), ('bench_user', 'month', 1000000000, NULL);
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('bench_user', 1000000000);
SQL
on=$(run "$ITER")
t0=$(date +%s%N)
flush
t1=$(date +%s%N)
rows=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT count(*) FROM ai_gateway.audit_log")
dropped=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT dropped_full FROM ai_gateway.audit_stats()")
python3 - "$off" "$on" "$ITER" "$t0" "$t1" "$rows" "$dropped" <<'PY'
import sys
off, on, n, t0, t1, rows, dropped = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print(f"governance cost per call, {n} calls in one backend (no HTTP)")
print(f"  grant check + audit enqueue               {off/1000:7.2f} µs")
print(f"  + rate limit + 2 quotas (all on)          {on/1000:7.2f} µs   (target <= 5 µs: {'PASS' if on <= 5000 else 'OVER TARGET'})")
drain_s = max((t1 - t0) / 1e9, 1e-6)
print(f"  audit writer: {n} records queued at {1e9 / on:,.0f}/s; all written {drain_s*1000:.0f} ms after the loop;"
      f" rows in audit_log {rows}, dropped {dropped}")
PY

# --- 2. per call, on vs off ---------------------------------------------------------
for db in postgres bench_na; do
	aig_psql "$PG_PORT" -d "$db" -At >/dev/null <<'SQL'
SET client_min_messages = error;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_callers') THEN
        CREATE ROLE bench_callers;
        CREATE ROLE bench_qteam;
        CREATE ROLE bench_free IN ROLE bench_callers;
        CREATE ROLE bench_q IN ROLE bench_callers, bench_qteam;
        CREATE ROLE bench_rl IN ROLE bench_callers;
        CREATE ROLE bench_all IN ROLE bench_callers, bench_qteam;
    END IF;
END $$;
SELECT ai_gateway.grant_provider('bench', 'bench_callers');
INSERT INTO ai_gateway.quotas (role, period, max_requests, max_tokens) VALUES
    ('bench_qteam', 'day', 1000000000, 1000000000000),
    ('bench_q', 'month', 1000000000, NULL), ('bench_all', 'month', 1000000000, NULL);
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES
    ('bench_rl', 1000000000), ('bench_all', 1000000000);
SQL
done
worker=$(aig_psql "$PG_PORT" -d postgres -At -c \
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'ai_gateway worker'")
[[ $worker =~ ^[0-9]+$ ]] || bench_die "no single 'ai_gateway worker' process (got '$worker')"
flush
audit0=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT count(*) FROM ai_gateway.audit_log WHERE role = 'bench_free'")

echo "governance cost per call: ai_complete, N=$N x $ROUNDS rounds, nginx canned upstream"
bench_session na bench_na
bench_session au postgres
bench_q na "SELECT bench_calls(10);"
bench_q au "SELECT bench_calls(10);"
w0=$(bench_pids_cpu_ns "$worker")
bench_compare "$ROUNDS" "$N" "$WARM" \
	"off|na|bench_free|bench/gpt-4o-mini" \
	"quota|na|bench_q|bench/gpt-4o-mini" \
	"ratelimit|na|bench_rl|bench/gpt-4o-mini" \
	"audit|au|bench_free|bench/gpt-4o-mini" \
	"all|au|bench_all|bench/gpt-4o-mini"

# the features were really on
calls=$((ROUNDS * (N + WARM)))
used=$(aig_psql "$PG_PORT" -d bench_na -At -c "SELECT requests FROM ai_gateway.usage WHERE role = 'bench_q'")
[ "$used" = "$calls" ] || bench_die "quota of bench_q counted '$used' requests, expected $calls"
flush
w1=$(bench_pids_cpu_ns "$worker")
audit1=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT count(*) FROM ai_gateway.audit_log WHERE role = 'bench_free'")
[ $((audit1 - audit0)) = "$calls" ] ||
	bench_die "audited role has $((audit1 - audit0)) new audit rows, expected $calls"
unaudited=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT dropped_other_db FROM ai_gateway.audit_stats()")
echo "  checked: quota counted $used requests; $calls audit rows; $unaudited calls in bench_na not audited"
[ -z "$w0" ] || [ -z "$w1" ] ||
	bench_calc "  audit writer CPU: %.1f µs per audited call (off the caller's path)\n" \
		"(w1 - w0) / 1000 / c" w0="$w0" w1="$w1" c=$((2 * calls))

bench_onoff_result "quota on/off: 2 quotas (group + own)" quota off "<= 1.05"
bench_onoff_result "rate limit on/off: role bucket" ratelimit off "<= 1.05"
bench_onoff_result "audit on/off: record queued per call" audit off "<= 1.05"
bench_onoff_result "governance on/off: 2 quotas + rate limit + audit" all off "<= 1.10"
