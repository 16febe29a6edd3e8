#!/usr/bin/env bash
# test/bench/bench_governance.sh — what governance costs a call, and whether
# the audit writer keeps up.
#
# 1. ai_gateway.bench_governance(route, n) runs, n times in one backend,
#    what governance adds to a call: the route grant check, the caller's
#    rate limit (a role bucket), two quota reservations and settlements (a
#    group quota and the role's own), and one audit record queued — with no
#    request sent.  Baseline: the same loop with no quota, no rate limit
#    (grant check and audit only).  Target: <= 5 µs per call, all on.
# 2. The audit writer: the records just queued (n of them) are timed until
#    they are in ai_gateway.audit_log (ai_gateway.audit_flush), giving rows
#    per second, compared with the fastest per-backend call rate here (the
#    core benchmark measures ~80 µs a call, i.e. ~12,500 calls/s/backend).
#
#   test/bench/bench_governance.sh     (BENCH_ITER=20000 by default)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ITER=${BENCH_ITER:-20000}
work=$(mktemp -d /tmp/aig_bench_gov.XXXXXX)
chmod 755 "$work"
trap 'aig_cleanup; rm -rf "$work"' EXIT
port=$(aig_free_port)
aig_start_cluster "$work/cluster" "$port" "ai_gateway.database = 'postgres'"
aig_psql "$port" -d postgres -At >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
CREATE ROLE bench_team;
CREATE ROLE bench_user IN ROLE bench_team;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p', 'ollama', 'http://127.0.0.1:9');
INSERT INTO ai_gateway.routes (name) VALUES ('r');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r', 'p', 'm');
SELECT ai_gateway.grant_route('r', 'bench_team');
SQL
run() {
	aig_psql "$port" -d postgres -At -c "SET ROLE bench_user" \
		-c "SELECT ai_gateway.bench_governance('r', $1)" 2>/dev/null | tail -1
}
aig_psql "$port" -d postgres -At -c "GRANT EXECUTE ON FUNCTION ai_gateway.bench_governance(text, int) TO bench_user" >/dev/null
run 2000 >/dev/null
aig_psql "$port" -d postgres -At -c "SELECT ai_gateway.audit_flush(60000)" >/dev/null
off=$(run "$ITER")
aig_psql "$port" -d postgres -At -c "SELECT ai_gateway.audit_flush(60000)" >/dev/null
aig_psql "$port" -d postgres -At >/dev/null <<'SQL'
INSERT INTO ai_gateway.quotas (role, period, max_requests, max_tokens) VALUES
    ('bench_team', 'day', 1000000000, 1000000000000), ('bench_user', 'month', 1000000000, NULL);
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('bench_user', 1000000000);
SQL
on=$(run "$ITER")
t0=$(date +%s%N)
aig_psql "$port" -d postgres -At -c "SELECT ai_gateway.audit_flush(60000)" >/dev/null
t1=$(date +%s%N)
rows=$(aig_psql "$port" -d postgres -At -c "SELECT count(*) FROM ai_gateway.audit_log")
dropped=$(aig_psql "$port" -d postgres -At -c "SELECT dropped_full FROM ai_gateway.audit_stats()")
python3 - "$off" "$on" "$ITER" "$t0" "$t1" "$rows" "$dropped" <<'PY'
import sys
off, on, n, t0, t1, rows, dropped = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print(f"governance cost per call, {n} calls in one backend (no HTTP)")
print(f"  grant check + audit enqueue               {off/1000:7.2f} µs")
print(f"  + rate limit + 2 quotas (all on)          {on/1000:7.2f} µs   (target <= 5 µs: {'PASS' if on <= 5000 else 'OVER TARGET'})")
drain_s = max((t1 - t0) / 1e9, 1e-6)
rate = n / ((on / 1e9) * n)
print(f"audit writer: {n} records queued at {rate:,.0f}/s; written within {drain_s*1000:.0f} ms after the loop")
written_rate = n / max(drain_s + (on / 1e9) * n, 1e-6)
print(f"  end-to-end write rate >= {written_rate:,.0f} rows/s vs ~12,500 calls/s/backend: {'keeps up' if written_rate >= 12500 else 'FALLS BEHIND'}")
print(f"  rows in audit_log {rows}, dropped {dropped}")
PY
