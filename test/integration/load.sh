#!/usr/bin/env bash
# load.sh — pgbench load through a route whose upstream (the mock) answers
# after 50 ms, in a throwaway cluster of its own (workers in "postgres", so
# every call is audited) with a mock of its own:
#  1. 16 clients for LOAD_SECONDS (default 60) calling ai_complete: no
#     pgbench error, every call reached the upstream once and has its audit
#     row (none dropped), the upstream saw about one TCP connection per
#     backend (kept alive, not one per call), and the backends' RssAnon stays
#     flat between a third of the run and its end.  Prints requests/s and
#     p50/p95 latency.
#  2. a quota of max_requests = 250 under 16 clients x 25 calls: exactly 250
#     calls pass and reach the upstream, the other 150 get SQLSTATE 53400.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT

SECONDS_RUN=${LOAD_SECONDS:-60}
CLIENTS=16
MODEL='gpt+latency=50'
base="${WORK:-$(mktemp -d /tmp/aig_load.XXXXXX)}/load"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
aig_start_mock MOCK
PORT=$(aig_free_port)
aig_start_cluster "$base/cluster" "$PORT" "max_connections = 40"
q() { aig_psql "$PORT" -d postgres -At "$@"; }
q -v mock="http://127.0.0.1:$MOCK/v1" -v model="$MODEL" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key)
VALUES ('openai', 'openai', :'mock', 'sk-load-0123456789');
INSERT INTO ai_gateway.routes (name) VALUES ('load');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('load', 'openai', :'model');
CREATE ROLE load_user LOGIN;
SELECT ai_gateway.grant_route('load', 'load_user');
-- phase 2: a call that reports a quota refusal instead of failing the transaction
CREATE TABLE load_outcome (outcome text NOT NULL);
GRANT INSERT ON load_outcome TO load_user;
CREATE FUNCTION load_try() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ai_complete('quota', 'load');
    RETURN 'ok';
EXCEPTION WHEN configuration_limit_exceeded THEN   -- 53400 only; anything else fails pgbench
    RETURN 'refused';
END $$;
SQL
echo "SELECT ai_complete('load ' || :client_id, 'load');" >"$base/call.sql"
echo "INSERT INTO load_outcome SELECT load_try();" >"$base/quota.sql"
# warm the mock's path (first request of each kind), then count from zero
q -c "SELECT ai_complete('warm', 'load')" >/dev/null
q -c "SELECT ai_gateway.audit_flush()" -c "DELETE FROM ai_gateway.audit_log" >/dev/null
aig_mock_reset "$MOCK"

# ---------------------------------------------------------------------------
# 1. throughput run
echo "  -- 1. $CLIENTS clients for $SECONDS_RUN s, upstream latency 50 ms"
"$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$SECONDS_RUN" \
	-f "$base/call.sql" -l --log-prefix="$base/txlog" postgres >"$base/pgbench.out" 2>&1 &
bench=$!

backends() { q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND backend_type = 'client backend' ORDER BY pid"; }
rss_of() { for p in "$@"; do awk -v p="$p" '/^RssAnon:/ {print p, $2}' "/proc/$p/status" 2>/dev/null || true; done; }
# RssAnon samples: at a third of the run, then every second while all the
# backends live (they exit with pgbench): the last full one is the end
sleep $((SECONDS_RUN / 3))
mapfile -t pids < <(backends)
[ "${#pids[@]}" = "$CLIENTS" ] || fail "${#pids[@]} pgbench backends at a third of the run"
rss_of "${pids[@]}" >"$base/rss1"
cp "$base/rss1" "$base/rss2"
for _ in $(seq 1 $((SECONDS_RUN * 3))); do
	kill -0 "$bench" 2>/dev/null || break
	rss_of "${pids[@]}" >"$base/rss.tmp"
	[ "$(wc -l <"$base/rss.tmp")" = "$CLIENTS" ] && mv "$base/rss.tmp" "$base/rss2"
	sleep 1
done
status=0
wait "$bench" || status=$?
cat "$base/pgbench.out" | sed -n '/^transaction type/,$p' | sed 's/^/    /'
[ "$status" = 0 ] || { cat "$base/pgbench.out"; fail "pgbench exited with $status"; }
grep -Eq "aborted|ERROR" "$base/pgbench.out" && { cat "$base/pgbench.out"; fail "pgbench reported errors"; }
grep -q "number of failed transactions: 0 " "$base/pgbench.out" || fail "failed transactions"
done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$base/pgbench.out")
[ -n "$done_tx" ] && [ "$done_tx" -gt 0 ] || fail "no transactions"

# requests/s and latency percentiles from the per-transaction log
python3 - "$SECONDS_RUN" "$base"/txlog.* <<'PY'
import sys
secs = float(sys.argv[1])
lat = []
for path in sys.argv[2:]:
    with open(path) as f:
        for line in f:
            parts = line.split()
            lat.append(int(parts[2]) / 1000.0)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
print(f"  {len(lat)} calls in {secs:.0f} s: {len(lat) / secs:.1f} requests/s; latency p50 {pct(50):.1f} ms, "
      f"p95 {pct(95):.1f} ms, max {lat[-1]:.1f} ms (upstream 50 ms)")
PY

sent=$(aig_mock_stats "$MOCK" "s['by_model'].get('$MODEL', 0)")
conns=$(aig_mock_stats "$MOCK" "s['connections']")
q -c "SELECT ai_gateway.audit_flush()" >/dev/null
audit=$(q -c "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status <> 'ok') FROM ai_gateway.audit_log")
dropped=$(q -c "SELECT dropped_full + dropped_other_db FROM ai_gateway.audit_stats()")
echo "  $done_tx transactions; upstream: $sent requests over $conns TCP connections; audit rows ok|other: $audit, dropped $dropped"
[ "$sent" = "$done_tx" ] || fail "$done_tx calls but $sent requests at the upstream"
[ "$audit" = "$done_tx|0" ] || fail "audit rows $audit for $done_tx calls"
[ "$dropped" = 0 ] || fail "$dropped audit records dropped"
[ "$conns" -le "$CLIENTS" ] || fail "$conns upstream connections for $CLIENTS backends (not reused)"
pass "$done_tx calls without an error, each sent once and audited, over $conns upstream connections"

# RssAnon: each backend's growth from a third of the run to its end
python3 - "$base/rss1" "$base/rss2" <<'PY' || fail "backend memory grew"
import sys
a = dict(l.split() for l in open(sys.argv[1]))
b = dict(l.split() for l in open(sys.argv[2]))
growth = sorted(int(b[p]) - int(a[p]) for p in a if p in b)
if len(growth) != len(a):
    sys.exit(f"backends gone before the second sample: {len(a) - len(growth)}")
print(f"  RssAnon of the {len(a)} backends at 1/3: {min(map(int, a.values()))}..{max(map(int, a.values()))} kB; "
      f"growth to the end: median {growth[len(growth) // 2]} kB, max {growth[-1]} kB")
sys.exit(0 if growth[-1] < 1024 else 1)
PY
pass "backend RssAnon flat under load (growth < 1 MB each)"

# ---------------------------------------------------------------------------
# 2. exact quota under load
echo "  -- 2. max_requests = 250 against $CLIENTS clients x 25 calls"
q -c "INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('load_user', 'day', 250)" >/dev/null
aig_mock_reset "$MOCK"
status=0
"$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$PORT" -U load_user -n -c "$CLIENTS" -j 2 -t 25 \
	-f "$base/quota.sql" postgres >"$base/pgbench2.out" 2>&1 || status=$?
[ "$status" = 0 ] || { cat "$base/pgbench2.out"; fail "pgbench (quota run) exited with $status"; }
res=$(q -c "SELECT count(*) FILTER (WHERE outcome = 'ok'), count(*) FILTER (WHERE outcome = 'refused'), count(*) FROM load_outcome")
sent=$(aig_mock_stats "$MOCK" "s['by_model'].get('$MODEL', 0)")
used=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'load_user'")
echo "  400 calls: ok|refused (53400)|all = $res; $sent reached the upstream; usage $used"
[ "$res" = "250|150|400" ] || fail "quota under load: $res"
[ "$sent" = 250 ] || fail "$sent requests reached the upstream, quota 250"
[ "$used" = 250 ] || fail "usage $used"
pass "quota exact under $CLIENTS concurrent clients: 250 passed, 150 refused with 53400"
