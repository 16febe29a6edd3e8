#!/usr/bin/env bash
# shadow_share.sh — one role's burst of shadowed calls cannot crowd another
# role's shadow copies out of the shared queue (issue 13, a sibling of
# defect 15): a role holds at most a quarter of its slots, so after role A's
# 40 calls, role B's one copy is still queued and reaches its shadow target.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
cleanup_roles() {
	q -v ON_ERROR_STOP=0 <<'SQL' >/dev/null 2>&1 || true
DELETE FROM ai_gateway.route_grants WHERE route IN ('sh_a', 'sh_b');
DELETE FROM ai_gateway.route_targets WHERE route IN ('sh_a', 'sh_b');
DELETE FROM ai_gateway.routes WHERE name IN ('sh_a', 'sh_b');
DROP ROLE IF EXISTS aig_sh_a;
DROP ROLE IF EXISTS aig_sh_b;
SQL
}
trap cleanup_roles EXIT
cleanup_roles
q <<'SQL' >/dev/null
CREATE ROLE aig_sh_a;
CREATE ROLE aig_sh_b;
INSERT INTO ai_gateway.routes (name) VALUES ('sh_a'), ('sh_b');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, shadow) VALUES
    ('sh_a', 'ollama', 'sh-primary', 1, false), ('sh_a', 'ollama', 'sh-a+latency=300', 2, true),
    ('sh_b', 'ollama', 'sh-primary', 1, false), ('sh_b', 'ollama', 'sh-b', 2, true);
SELECT ai_gateway.grant_route('sh_a', 'aig_sh_a'), ai_gateway.grant_route('sh_b', 'aig_sh_b');
SQL
aig_mock_reset "$MOCK_PORT"
q -c "SET ROLE aig_sh_a" \
	-c "SELECT count(*) FROM ai_complete_batch(array(SELECT 'burst ' || g FROM generate_series(1, 40) g), 'sh_a')" >/dev/null
q -c "SET ROLE aig_sh_b" -c "SELECT ai_complete('mine too', 'sh_b')" >/dev/null
got=0
for _ in $(seq 1 100); do
	got=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('sh-b', 0)")
	[ "$got" = 1 ] && break
	sleep 0.1
done
[ "$got" = 1 ] || fail "role B's shadow copy was dropped behind role A's burst"
a=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('sh-a+latency=300', 0)")
[ "$a" -le 16 ] || fail "role A's burst had $a shadow copies sent, far more than its share of the queue (8 slots)"
pass "role B's shadow copy is sent after role A's burst of 40 ($a of A's copies sent)"
