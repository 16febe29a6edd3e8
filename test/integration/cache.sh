#!/usr/bin/env bash
# cache.sh — the response cache seen from the upstream (the mock's counters):
#  1. 200 calls of one prompt from 4 concurrent sessions reach the upstream
#     at most 4 times (each session may miss once before the first answer
#     is committed), and every other call is an audited hit;
#  2. another session gets the answer without a request;
#  3. cache_clear() in one session empties a connected session's front;
#  4. entries survive a server restart (an UNLOGGED table: kept by a clean
#     shutdown) and are served by a new backend without a request;
#  5. expiry and scope: a 1 s entry is requested again after it expires; two
#     roles send two requests through a role-scoped route, one through a
#     global one.
# Runs in aig_regression (audited) after the regression suite.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression	# the workers' database: calls there are audited
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
run=$$
model="cache-$run"
upstream() { aig_mock_stats "$MOCK_PORT" "s['by_model'].get('$1', 0)"; }

q >/dev/null <<SQL
DELETE FROM ai_gateway.route_targets WHERE route = 'cached';
DELETE FROM ai_gateway.routes WHERE name = 'cached';
INSERT INTO ai_gateway.routes (name, options) VALUES ('cached', '{"cache_ttl_s": 600}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('cached', 'openai', '$model');
SQL

# 1. four sessions, 50 calls each
pids=()
for s in 1 2 3 4; do
	q -c "SELECT count(ai_complete('same prompt', 'cached')) FROM generate_series(1, 50)" >"$WORK/cache_$s.out" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for s in 1 2 3 4; do [ "$(cat "$WORK/cache_$s.out")" = 50 ] || fail "session $s: $(cat "$WORK/cache_$s.out")"; done
sent=$(upstream "$model")
[ "$sent" -ge 1 ] && [ "$sent" -le 4 ] || fail "200 cached calls sent $sent requests upstream (want 1..4)"
q -c "SELECT ai_gateway.audit_flush()" >/dev/null
hits=$(q -c "SELECT count(*) FILTER (WHERE cache_hit) || '/' || count(*) FROM ai_gateway.audit_log WHERE model = '$model'")
[ "$hits" = "$((200 - sent))/200" ] || fail "audit shows $hits hits/calls, want $((200 - sent))/200"
pass "200 calls from 4 sessions: $sent upstream requests, $hits audited as hits"

# 2. a new session: a hit from the table, no request
before=$(upstream "$model")
r=$(q -c "SELECT ai_chat('[{\"role\":\"user\",\"content\":\"same prompt\"}]', 'cached')->>'cached'")
[ "$r" = true ] && [ "$(upstream "$model")" = "$before" ] || fail "a new session missed ($r)"
pass "a new session is answered from the shared table without a request"

# 3. clear from another session while this one stays connected
res=$(q <<SQL
SELECT ai_chat('[{"role":"user","content":"same prompt"}]', 'cached')->>'cached';
\! "$PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p $PGPORT -U postgres -d $DB -c "SELECT ai_gateway.cache_clear(route => 'cached')"
SELECT ai_chat('[{"role":"user","content":"same prompt"}]', 'cached')->>'cached';
SELECT ai_chat('[{"role":"user","content":"same prompt"}]', 'cached')->>'cached';
SQL
)
[ "$(echo "$res" | tr '\n' ' ')" = "true 1 false true " ] || fail "after cache_clear in another session: $(echo "$res" | tr '\n' ' ')"
[ "$(upstream "$model")" = "$((before + 1))" ] || fail "the call after the clear did not reach the upstream"
pass "cache_clear() in another session: the next call misses, the one after hits"

# 5. expiry and scope, counted at the upstream
m2="cache-ttl-$run"
before=$(upstream "$m2")
q >/dev/null <<SQL
SELECT ai_complete('ttl', 'openai/$m2', NULL, '{"cache": 1}');
SELECT ai_complete('ttl', 'openai/$m2', NULL, '{"cache": 1}');
SELECT pg_sleep(1.2);
SELECT ai_complete('ttl', 'openai/$m2', NULL, '{"cache": 1}');
SQL
[ "$(upstream "$m2")" = "$((before + 2))" ] || fail "TTL: $(($(upstream "$m2") - before)) requests for miss, hit, expired (want 2)"
pass "a 1 s entry: miss, hit, then after expiry one more request"
m3="cache-scope-$run"
q >/dev/null <<SQL
SET client_min_messages = warning;
DROP ROLE IF EXISTS cache_r1; DROP ROLE IF EXISTS cache_r2;
RESET client_min_messages;
CREATE ROLE cache_r1; CREATE ROLE cache_r2;
INSERT INTO ai_gateway.routes (name, options) VALUES
    ('cache_role_$run', '{"cache_ttl_s": 600}'),
    ('cache_global_$run', '{"cache_ttl_s": 600, "cache_scope": "global"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES
    ('cache_role_$run', 'openai', '$m3-role'), ('cache_global_$run', 'openai', '$m3-global');
SELECT ai_gateway.grant_route('cache_role_$run', 'public'), ai_gateway.grant_route('cache_global_$run', 'public');
SET ROLE cache_r1;
SELECT ai_complete('scope', 'cache_role_$run'), ai_complete('scope', 'cache_global_$run');
SET ROLE cache_r2;
SELECT ai_complete('scope', 'cache_role_$run'), ai_complete('scope', 'cache_global_$run');
SELECT ai_complete('scope', 'cache_role_$run'), ai_complete('scope', 'cache_global_$run');
SQL
r=$(upstream "$m3-role")/$(upstream "$m3-global")
[ "$r" = "2/1" ] || fail "scope: upstream requests role/global = $r (want 2/1)"
pass "scope: two roles sent 2 requests through a role-scoped route, 1 through a global one"
q >/dev/null <<SQL
SELECT ai_gateway.cache_clear(route => 'cache_role_$run'), ai_gateway.cache_clear(route => 'cache_global_$run');
DELETE FROM ai_gateway.route_grants WHERE route IN ('cache_role_$run', 'cache_global_$run');
DELETE FROM ai_gateway.route_targets WHERE route IN ('cache_role_$run', 'cache_global_$run');
DELETE FROM ai_gateway.routes WHERE name IN ('cache_role_$run', 'cache_global_$run');
DROP ROLE cache_r1; DROP ROLE cache_r2;
SQL

# 4. restart
before=$(upstream "$model")
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/cluster/data" -m fast -w restart -l "$WORK/cluster/server.log" >/dev/null
for _ in $(seq 1 50); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
r=$(q -c "SELECT ai_chat('[{\"role\":\"user\",\"content\":\"same prompt\"}]', 'cached')->>'cached'")
[ "$r" = true ] && [ "$(upstream "$model")" = "$before" ] || fail "after a restart the entry was not served ($r)"
pass "an entry survives a clean restart"

q >/dev/null <<SQL
SELECT ai_gateway.cache_clear(route => 'cached');
DELETE FROM ai_gateway.route_targets WHERE route = 'cached';
DELETE FROM ai_gateway.routes WHERE name = 'cached';
SQL
