#!/usr/bin/env bash
# routing.sh — routing across sessions, counted at the mock provider:
#  1. a circuit breaker opened by one session is respected by another (the
#     dead target gets no more requests), and after the cooldown exactly one
#     probe goes out even when several sessions call at once;
#  2. concurrent sessions hammering a route whose first target is down do
#     not multiply retries: the dead target sees a bounded number of requests;
#  3. traffic shares: weighted 3:1, round robin, fastest with exploration.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_routing
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
count() { aig_mock_stats "$MOCK_PORT" "s['by_model'].get('$1', 0)"; }

q >/dev/null <<'SQL'
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('cb', '{"breaker_failures": 3, "breaker_cooldown_ms": 1500, "max_retries": 0}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('cb', 'openai', 'dead+status=503', 1), ('cb', 'anthropic', 'alive', 2);
SQL

# 1. session A trips the breaker; session B must not touch the dead target
aig_mock_reset "$MOCK_PORT"
q -c "SELECT count(ai_complete('x', 'cb')) FROM generate_series(1, 3)" >/dev/null
dead=$(count 'dead+status=503')
[ "$dead" = 3 ] || fail "expected 3 requests to the dead target, saw $dead"
state=$(q -c "SELECT breaker FROM ai_gateway.health() WHERE model = 'dead+status=503'")
[ "$state" = open ] || fail "breaker $state after 3 failures"
q -c "SELECT count(ai_complete('x', 'cb')) FROM generate_series(1, 20)" >/dev/null   # another session
dead=$(count 'dead+status=503')
[ "$dead" = 3 ] || fail "another session sent $((dead - 3)) requests to an open target"
pass "breaker opened by one session is respected by another (dead target: $dead requests, then none)"

# half-open: after the cooldown, 6 sessions at once -> one probe
sleep 1.7
pids=()
for i in $(seq 1 6); do
	q -c "SELECT ai_complete('x', 'cb')" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
dead=$(count 'dead+status=503')
[ "$dead" = 4 ] || fail "expected exactly one half-open probe, saw $((dead - 3))"
state=$(q -c "SELECT breaker FROM ai_gateway.health() WHERE model = 'dead+status=503'")
[ "$state" = open ] || fail "failed probe should reopen the breaker, got $state"
pass "after the cooldown one probe among 6 concurrent sessions; its failure reopens"

# 2. no retry storm: 4 sessions x 25 calls, first target down, retries on
q >/dev/null <<'SQL'
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('storm', '{"breaker_failures": 5, "breaker_cooldown_ms": 60000, "max_retries": 2}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('storm', 'gemini', 'down+status=503', 1), ('storm', 'cohere', 'up', 2);
SQL
aig_mock_reset "$MOCK_PORT"
pids=()
for i in $(seq 1 4); do
	q -c "SET ai_gateway.retry_base_ms = 5" -c "SELECT count(ai_complete('x', 'storm')) FROM generate_series(1, 25)" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
down=$(count 'down+status=503')
up=$(count 'up')
echo "  100 calls from 4 sessions: dead target got $down requests, healthy one $up"
[ "$up" = 100 ] || fail "the healthy target answered $up of 100"
# breaker_failures (5) plus what sessions already had in flight, never 100 x 3
[ "$down" -le 12 ] || fail "retry storm: $down requests to the dead target"
pass "retries do not multiply: the dead target saw $down requests for 100 calls"

# 3. shares
q >/dev/null <<'SQL'
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('ab', 'weighted'), ('rr', 'round_robin');
INSERT INTO ai_gateway.routes (name, strategy, options) VALUES ('fast', 'fastest', '{"explore_ratio": 0.1}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight) VALUES
    ('ab', 'openai', 'arm-a', 1, 3), ('ab', 'openai', 'arm-b', 2, 1),
    ('rr', 'ollama', 'rr-1', 1, 1), ('rr', 'ollama', 'rr-2', 2, 1), ('rr', 'ollama', 'rr-3', 3, 1),
    ('fast', 'azure', 'quick', 1, 1), ('fast', 'azure', 'slow+latency=30', 2, 1);
SQL
aig_mock_reset "$MOCK_PORT"
q -c "SELECT count(ai_complete('x', 'ab')) FROM generate_series(1, 2000)" >/dev/null
a=$(count arm-a)
b=$(count arm-b)
share=$(python3 -c "print(round(100 * $a / ($a + $b), 1))")
echo "  weighted 3:1 over 2000 calls: arm-a $a, arm-b $b ($share% vs 75% expected)"
python3 -c "import sys; sys.exit(0 if abs($share - 75) <= 4 else 1)" || fail "weighted share $share% outside 75 +- 4"
pass "weighted split within tolerance"

pids=()
for i in 1 2 3; do
	q -c "SELECT count(ai_complete('x', 'rr')) FROM generate_series(1, 100)" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
r1=$(count rr-1); r2=$(count rr-2); r3=$(count rr-3)
echo "  round robin, 3 sessions x 100 calls: $r1 / $r2 / $r3"
[ "$r1" = 100 ] && [ "$r2" = 100 ] && [ "$r3" = 100 ] || fail "round robin uneven: $r1 $r2 $r3"
pass "round robin shared across sessions: exactly even"

q -c "SELECT count(ai_complete('x', 'fast')) FROM generate_series(1, 600)" >/dev/null
quick=$(count quick)
slow=$(count 'slow+latency=30')
echo "  fastest with explore_ratio 0.1 over 600 calls: quick $quick, slow $slow"
# slow gets its first measurement plus ~10% exploration (60 +- 25)
[ "$slow" -ge 30 ] && [ "$slow" -le 95 ] || fail "exploration share off: $slow of 600"
pass "fastest sends most traffic to the fast target and explores the other"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
