#!/usr/bin/env bash
# test/bench/bench_routing.sh — the cost of choosing a target.
#
# 1. Per decision, no HTTP: for each strategy, a route of 10 targets (all
#    with prices, so cheapest sorts for real; fastest reads 10 shared
#    latency figures; round_robin takes the shared counter) is asked for a
#    routing decision many times inside one backend with
#    ai_gateway.bench_routing(model, n): resolve the model string, order the
#    targets, ask the first target's circuit breaker and record a success on
#    it — the whole per-call routing path, without the HTTP exchange.  The
#    baseline is a route with one target, measured in the same run; "added"
#    is the difference.  Target: added <= 2 µs (2000 ns) per call.
# 2. Per call, routing on vs off: ai_complete() through the 10-target route
#    (strategy BENCH_ROUTE_STRATEGY, default cheapest; every target is the
#    canned-body nginx of bench_overhead.sh) vs the same call addressed
#    directly as 'provider/model', in one backend, alternating over rounds
#    (bench_compare in common.sh).  Compared by the backend's CPU per
#    call; RESULT: the median over rounds of on / off within a round
#    (paired), target <= 1.05.
#
#   test/bench/bench_routing.sh
#   (BENCH_ITER=200000 decisions; BENCH_ROUTING_N=500 calls x BENCH_ROUTING_ROUNDS=21)
#
# Needs the extension installed (make install), pg_config on PATH, nginx.
set -euo pipefail
BENCH_NAME=bench_routing
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ITER=${BENCH_ITER:-200000}
N=${BENCH_ROUTING_N:-500}
ROUNDS=${BENCH_ROUTING_ROUNDS:-21}
STRATEGY=${BENCH_ROUTE_STRATEGY:-cheapest}
bench_check_int BENCH_ITER "$ITER" 1 10000000
bench_check_int BENCH_ROUTING_N "$N" 1 1000000
bench_check_int BENCH_ROUTING_ROUNDS "$ROUNDS" 1 101
case $STRATEGY in fallback | weighted | cheapest | fastest | round_robin) ;;
*) bench_die "BENCH_ROUTE_STRATEGY must be fallback, weighted, cheapest, fastest or round_robin" ;;
esac

bench_require_extension
bench_start_nginx
bench_start_cluster
bench_setup_db postgres
aig_psql "$PG_PORT" -d postgres -At -v strategy="$STRATEGY" >/dev/null <<'SQL'
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p', 'ollama', 'http://127.0.0.1:9');
INSERT INTO ai_gateway.routes (name, strategy)
SELECT 'r10_' || s, s FROM unnest(array['fallback','weighted','cheapest','fastest','round_robin']) s;
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight)
SELECT 'r10_' || s, 'p', 'm' || g, g, g
FROM unnest(array['fallback','weighted','cheapest','fastest','round_robin']) s, generate_series(1, 10) g;
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
SELECT 'p', 'm' || g, g, 2 * g FROM generate_series(1, 10) g;
INSERT INTO ai_gateway.routes (name) VALUES ('r1');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r1', 'p', 'm1');
-- the per-call comparison: 10 targets on the nginx provider, priced
INSERT INTO ai_gateway.routes (name, strategy) VALUES ('call10', :'strategy');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight)
SELECT 'call10', 'bench', 'gpt-4o-mini-' || g, g, g FROM generate_series(1, 10) g;
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
SELECT 'bench', 'gpt-4o-mini-' || g, g, 2 * g FROM generate_series(1, 10) g;
SQL

echo "routing cost per decision, $ITER decisions each, one backend (no HTTP)"
aig_psql "$PG_PORT" -d postgres -At -F ' ' <<SQL | awk '
	NR == 1 { base = $2; printf "  %-28s %8.0f ns  (baseline: 1-target route)\n", $1, $2; next }
	{ added = $2 - base; worst = added > worst ? added : worst;
	  printf "  %-28s %8.0f ns  added %6.0f ns\n", $1, $2, added }
	END { printf "  worst added %.0f ns per decision (target <= 2000 ns): %s\n", worst, worst <= 2000 ? "PASS" : "OVER TARGET" }'
SELECT 1 WHERE ai_gateway.bench_routing('r1', 20000) < 0;   -- warm-up, no row
SELECT m, ai_gateway.bench_routing(m, $ITER)
FROM unnest(array['r1', 'r10_fallback', 'r10_weighted', 'r10_cheapest', 'r10_fastest', 'r10_round_robin']) m;
SQL

echo "routing cost per call: ai_complete via a 10-target '$STRATEGY' route vs 'provider/model'," \
	"N=$N x $ROUNDS rounds, nginx canned upstream"
bench_session s postgres
bench_q s "SELECT bench_calls(200, 'call10');"
bench_compare "$ROUNDS" "$N" 50 "direct|s||bench/gpt-4o-mini" "route10|s||call10"
bench_onoff_result "routing on/off: 10-target $STRATEGY route vs provider/model" \
	route10 direct "<= 1.05"
