#!/usr/bin/env bash
# governance.sh — what pg_regress cannot show (runs in aig_regression, the
# database the worker serves, after the regression suite):
#  1. a quota is exact under concurrency: 8 sessions race for 50 requests;
#  2. audit rows survive a ROLLBACK and a backend terminated mid-call, and
#     the quota charge stays;
#  3. quota usage survives a server restart (saved by the worker).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }

q >/dev/null <<'SQL'
DROP ROLE IF EXISTS gov_team_member;
DROP ROLE IF EXISTS gov_team;
CREATE ROLE gov_team;
CREATE ROLE gov_team_member LOGIN IN ROLE gov_team;
GRANT USAGE ON SCHEMA public TO gov_team_member;
DELETE FROM ai_gateway.quotas;
INSERT INTO ai_gateway.routes (name) VALUES ('gov') ON CONFLICT DO NOTHING;
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('gov', 'ollama', 'gov-model')
    ON CONFLICT DO NOTHING;
SELECT ai_gateway.grant_route('gov', 'gov_team');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('gov_team', 'hour', 50);
SQL

# 1. 8 sessions x 20 calls against 50 requests an hour
aig_mock_reset "$MOCK_PORT"
out=$(mktemp -d)
pids=()
for i in $(seq 1 8); do
	aig_psql "$PGPORT" -d "$DB" -At -U gov_team_member >"$out/$i" 2>/dev/null <<'SQL' &
DO $$
DECLARE ok int := 0; refused int := 0;
BEGIN
    FOR i IN 1..20 LOOP
        BEGIN
            PERFORM ai_complete('x', 'gov');
            ok := ok + 1;
        EXCEPTION WHEN configuration_limit_exceeded THEN
            refused := refused + 1;
        END;
    END LOOP;
    RAISE NOTICE 'ok=% refused=%', ok, refused;
END $$;
SQL
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
sent=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('gov-model', 0)")
used=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'gov_team' AND period = 'hour'")
echo "  160 calls from 8 sessions against max_requests 50: $sent reached the provider, usage $used"
[ "$sent" = 50 ] || fail "quota let $sent requests through"
[ "$used" = 50 ] || fail "usage shows $used"
pass "quota exact under concurrency"
rm -rf "$out"

# 2. audit rows after ROLLBACK and after pg_terminate_backend mid-call
q -c "DELETE FROM ai_gateway.quotas" -c "SELECT ai_gateway.audit_flush()" >/dev/null
q -c "BEGIN" -c "SELECT ai_complete('x', 'ollama/gov-rollback')" -c "ROLLBACK" >/dev/null
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'gov_kill'" \
	-c "SELECT ai_complete('x', 'ollama/gov-killed+hang')" >/dev/null 2>&1 || true ) &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'gov_kill' AND state = 'active' AND query LIKE '%ai_complete%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the call to kill never showed up"
sleep 0.3
q -c "SELECT pg_terminate_backend($pid)" >/dev/null
wait "$bg"
sleep 0.2
q -c "SELECT ai_gateway.audit_flush()" >/dev/null
rows=$(q -c "SELECT model || ':' || status FROM ai_gateway.audit_log WHERE model LIKE 'gov-%' ORDER BY id")
echo "$rows" | grep -qx "gov-rollback:ok" || { echo "$rows"; fail "no audit row after ROLLBACK"; }
echo "$rows" | grep -qx "gov-killed+hang:canceled" || { echo "$rows"; fail "no audit row for the terminated backend"; }
pass "audit rows survive ROLLBACK and a terminated backend"

# 3. usage survives a restart
q >/dev/null <<'SQL'
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('gov_team', 'day', 1000);
SQL
aig_psql "$PGPORT" -d "$DB" -At -U gov_team_member -c "SELECT count(ai_complete('x', 'gov')) FROM generate_series(1, 7)" >/dev/null
before=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'gov_team' AND period = 'day'")
sleep 1.5   # ai_gateway.quota_persist_ms = 500 in the test cluster
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/cluster/data" -m fast -w restart -l "$WORK/cluster/server.log" >/dev/null
for _ in $(seq 1 100); do
	q -c "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.1
done
after=""
for _ in $(seq 1 100); do   # the worker loads saved usage when it starts
	after=$(q -c "SELECT requests FROM ai_gateway.usage WHERE role = 'gov_team' AND period = 'day'")
	[ "$after" = "$before" ] && break
	sleep 0.1
done
echo "  day usage before restart $before, after $after"
[ "$after" = "$before" ] || fail "usage reset by the restart ($before -> $after)"
pass "quota usage survives a restart"

q >/dev/null <<'SQL'
DELETE FROM ai_gateway.quotas;
DELETE FROM ai_gateway.route_grants WHERE route = 'gov';
REVOKE USAGE ON SCHEMA public FROM gov_team_member;
DROP ROLE gov_team_member;
DROP ROLE gov_team;
SQL
