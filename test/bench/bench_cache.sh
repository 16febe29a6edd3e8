#!/usr/bin/env bash
# test/bench/bench_cache.sh — what a response-cache hit costs.
#
# 1. pgbench, 8 clients, each transaction one ai_complete() of one of 100
#    prompts already in the cache (a route with cache_ttl_s; every call
#    audited and counted in the statistics, as in production), against the
#    same pgbench script calling md5() of the same text.  Interleaved
#    rounds; the best TPS of each.  Target: cached TPS >= 50% of md5's.
# 2. Inside the function: one backend runs N cached ai_complete() calls and
#    N md5() calls over the same generate_series; the difference per call is
#    what a hit costs beyond a trivial function.  Target: <= 10 µs.
# No request reaches the upstream during the measurement (checked at the
# mock's counters).
#
#   test/bench/bench_cache.sh   (BENCH_SECONDS=10 per pgbench run, BENCH_ROUNDS=2, BENCH_N=20000)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
N=${BENCH_N:-20000}
CLIENTS=${BENCH_CLIENTS:-8}
work=$(mktemp -d /tmp/aig_bench_cache.XXXXXX)
chmod 755 "$work"
trap 'aig_cleanup; rm -rf "$work"' EXIT
aig_start_mock mock
port=$(aig_free_port)
aig_start_cluster "$work/cluster" "$port" "ai_gateway.database = 'postgres'" "max_connections = 50"
aig_psql "$port" -d postgres -At -v mock="http://127.0.0.1:$mock" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('p', 'ollama', :'mock');
INSERT INTO ai_gateway.routes (name, options) VALUES ('cached', '{"cache_ttl_s": 3600}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('cached', 'p', 'bench');
SELECT count(ai_complete('prompt ' || i, 'cached')) FROM generate_series(0, 100) i;
SQL
chown -R postgres: "$work" 2>/dev/null || true
cat >"$work/cached.sql" <<'SQL'
\set i random(0, 100)
SELECT ai_complete('prompt ' || :i, 'cached');
SQL
cat >"$work/md5.sql" <<'SQL'
\set i random(0, 100)
SELECT md5('prompt ' || :i);
SQL
before=$(aig_mock_stats "$mock" "s['requests']")
tps() {
	"$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" \
		-f "$work/$1.sql" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
best_c=0
best_m=0
for r in $(seq 1 "$ROUNDS"); do
	m=$(tps md5)
	c=$(tps cached)
	echo "  round $r: md5 $m tps, cached ai_complete $c tps"
	best_m=$(python3 -c "print(max($best_m, $m))")
	best_c=$(python3 -c "print(max($best_c, $c))")
done
after=$(aig_mock_stats "$mock" "s['requests']")

# per call inside one backend
percall() {
	aig_psql "$port" -d postgres -At <<SQL | tail -1
SELECT count($1) FROM generate_series(1, 1000) i;
SELECT extract(epoch FROM clock_timestamp()) \gset t0_
SELECT count($1) FROM generate_series(1, $N) i;
SELECT (extract(epoch FROM clock_timestamp()) - :t0_extract) * 1e6 / $N;
SQL
}
best_hit=1e9
best_md5=1e9
for r in 1 2 3; do
	h=$(percall "ai_complete('prompt ' || (i % 100), 'cached')")
	m=$(percall "md5('prompt ' || (i % 100))")
	best_hit=$(python3 -c "print(min($best_hit, $h))")
	best_md5=$(python3 -c "print(min($best_md5, $m))")
done
hits=$(aig_psql "$port" -d postgres -At -c "SELECT sum(cache_hits) FROM ai_gateway.stats")

python3 - "$best_c" "$best_m" "$best_hit" "$best_md5" "$before" "$after" "$CLIENTS" "$hits" <<'PY'
import sys
c, m, hit, md5, before, after, clients, hits = (float(x) for x in sys.argv[1:])
ratio = c / m if m else 0
cost = hit - md5
print(f"cached ai_complete vs md5(), pgbench {int(clients)} clients (best of the rounds)")
print(f"  md5()                    {m:10.0f} tps")
print(f"  ai_complete, cached      {c:10.0f} tps   ratio {ratio:.2f} (target >= 0.50: {'PASS' if ratio >= 0.5 else 'UNDER TARGET'})")
print(f"one backend: a hit costs {hit:.2f} µs a call, md5() {md5:.2f} µs: {cost:.2f} µs inside the function (target <= 10 µs: {'PASS' if cost <= 10 else 'OVER TARGET'})")
print(f"upstream requests during the runs: {int(after - before)}; cache hits counted: {int(hits)}")
print(f"RESULT|cached-call pgbench TPS ({int(clients)} clients)|{c:.0f} tps|{m:.0f} tps md5()|{ratio:.2f}|>= 0.50")
# ratio: the hit's own cost (a call minus an md5() call, same run) over the 10 µs budget
print(f"RESULT|cache hit inside the function (call minus md5() call) vs 10 us budget|{cost:.2f} us|{md5:.2f} us md5() call|{cost/10:.2f}|<= 1.00")
if after != before:
    print("FAIL: cached calls reached the upstream", file=sys.stderr)
    sys.exit(1)
PY
