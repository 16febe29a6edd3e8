#!/usr/bin/env bash
# connection_reuse.sh — one backend makes thousands of calls over one TCP
# connection to the upstream (counted by the mock provider), across
# dialects sharing that host, and after an upstream error.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_reuse
N=${AIG_REUSE_N:-3000}
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
aig_mock_reset "$MOCK_PORT"
aig_psql "$PGPORT" -d "$DB" -At >/dev/null <<SQL
SELECT count(ai_complete('hi ' || g, 'openai/gpt-4o-mini')) FROM generate_series(1, $N) g;
SELECT count(ai_complete('hi', p || '/m')) FROM unnest(array['anthropic','cohere','ollama','gemini','azure']) p, generate_series(1, 20);
SELECT count(ai_complete('after error', 'openai/m')) FROM generate_series(1, 10);
SQL
req=$(aig_mock_stats "$MOCK_PORT" 's["requests"]')
conns=$(aig_mock_stats "$MOCK_PORT" 's["connections"]')
echo "  $req requests reached the mock over $conns TCP connection(s)"
[ "$req" -ge "$N" ] || fail "only $req requests"
[ "$conns" = 1 ] || fail "expected 1 connection, saw $conns"
pass "$req calls from one backend used one connection"

# embedding chunks go out concurrently: one connection per chunk in flight,
# reused by the next statement
aig_mock_reset "$MOCK_PORT"
aig_psql "$PGPORT" -d "$DB" -At >/dev/null <<SQL
SELECT count(*) FROM ai_embed(array(SELECT 'doc ' || g FROM generate_series(1, 300) g), 'cohere/embed');
SELECT count(*) FROM ai_embed(array(SELECT 'doc ' || g FROM generate_series(1, 300) g), 'cohere/embed');
SQL
conns=$(aig_mock_stats "$MOCK_PORT" 's["connections"]')
req=$(aig_mock_stats "$MOCK_PORT" 's["requests"]')
echo "  2 x 300 texts in 4 concurrent chunks: $req requests over $conns connections"
[ "$req" = 8 ] || fail "expected 8 embedding requests, saw $req"
[ "$conns" -le 4 ] || fail "expected at most 4 connections (one per concurrent chunk), saw $conns"
pass "concurrent chunks reuse their connections"

# An upstream 500 keeps the connection.  A reset on a reused connection makes
# libcurl retry once on a fresh one (it does so when a reused connection dies
# before any response byte), which the mock resets too; the calls after it
# share one new connection: 3 in all, never one per call.
aig_mock_reset "$MOCK_PORT"
aig_psql "$PGPORT" -d "$DB" -At >/dev/null 2>&1 <<'SQL' || true
SET ai_gateway.max_retries = 0;
SELECT ai_complete('x', 'openai/m');
DO $$ BEGIN PERFORM ai_complete('x', 'openai/m+status=500'); EXCEPTION WHEN OTHERS THEN NULL; END $$;
SELECT ai_complete('x', 'openai/m');
DO $$ BEGIN PERFORM ai_complete('x', 'openai/m+reset'); EXCEPTION WHEN OTHERS THEN NULL; END $$;
SELECT ai_complete('x', 'openai/m');
SELECT ai_complete('x', 'openai/m');
SQL
conns=$(aig_mock_stats "$MOCK_PORT" 's["connections"]')
echo "  6 calls with a 500 and a reset among them: $conns connection(s)"
[ "$conns" = 3 ] || fail "expected 3 connections, saw $conns"
pass "errors do not leak or churn connections"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
