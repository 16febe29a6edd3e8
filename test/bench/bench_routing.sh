#!/usr/bin/env bash
# test/bench/bench_routing.sh — the cost of choosing a target.
#
# For each strategy, a route of 10 targets (all with prices, so cheapest
# sorts for real; fastest reads 10 shared latency figures; round_robin takes
# the shared counter) is asked for a routing decision many times inside one
# backend with ai_gateway.bench_routing(model, n): resolve the model string,
# order the targets, ask the first target's circuit breaker and record a
# success on it — the whole per-call routing path, without the HTTP
# exchange.  The baseline is a route with one target, measured in the same
# run; "added" is the difference.  Target: added <= 2 µs (2000 ns) per call.
#
#   test/bench/bench_routing.sh          (BENCH_ITER=200000 by default)
#
# Needs the extension installed (make install) and pg_config on PATH.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ITER=${BENCH_ITER:-200000}
work=$(mktemp -d /tmp/aig_bench_routing.XXXXXX)
chmod 755 "$work"
trap 'aig_cleanup; rm -rf "$work"' EXIT
port=$(aig_free_port)
aig_start_cluster "$work/cluster" "$port"
aig_psql "$port" -d postgres -At >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
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
SQL
echo "routing cost per call, $ITER decisions each, one backend (no HTTP)"
aig_psql "$port" -d postgres -At -F ' ' <<SQL | awk '
	NR == 1 { base = $2; printf "  %-28s %8.0f ns  (baseline: 1-target route)\n", $1, $2; next }
	{ added = $2 - base; worst = added > worst ? added : worst;
	  printf "  %-28s %8.0f ns  added %6.0f ns\n", $1, $2, added }
	END { printf "  worst added %.0f ns per call (target <= 2000 ns): %s\n", worst, worst <= 2000 ? "PASS" : "OVER TARGET" }'
SELECT 1 WHERE ai_gateway.bench_routing('r1', 20000) < 0;   -- warm-up, no row
SELECT m, ai_gateway.bench_routing(m, $ITER)
FROM unnest(array['r1', 'r10_fallback', 'r10_weighted', 'r10_cheapest', 'r10_fastest', 'r10_round_robin']) m;
SQL
