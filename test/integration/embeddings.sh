#!/usr/bin/env bash
# embeddings.sh — ai_embed(text[]) packs inputs into as few requests as each
# provider allows and sends them concurrently; counted at the mock:
# requests = ceil(N / batch limit) per provider, rows in input order.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_embed
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT" 2>/dev/null
q() { aig_psql "$PGPORT" -d "$DB" -At "$@" 2>/dev/null; }
N=10000
for spec in openai:2048 cohere:96 gemini:100 ollama:512 azure:2048; do
	p=${spec%%:*}
	limit=${spec##*:}
	aig_mock_reset "$MOCK_PORT"
	t0=$(aig_now_ms)
	res=$(q -c "SELECT count(*), bool_and(array_length(embedding, 1) = 8),
	                   bool_and(embedding = (SELECT ai_embed('text ' || 1, '$p/emb')) OR ordinality <> 1)
	            FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, $N) g), '$p/emb')")
	t1=$(aig_now_ms)
	sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
	expect=$(( (N + limit - 1) / limit + 1 ))   # + the single ai_embed of the check
	echo "  $p: $N texts -> $((sent - 1)) requests (limit $limit per request), $((t1 - t0)) ms"
	[ "$res" = "$N|t|t" ] || fail "$p: rows/order wrong: $res"
	[ "$sent" = "$expect" ] || fail "$p: $sent requests, expected $expect"
done
pass "embeddings packed into ceil(N / limit) requests per provider, rows in order"

# the per-request token budget splits chunks too: 40 texts of ~1000 tokens
# with a 5100-token budget -> 5 per request -> 8 requests
q -c "UPDATE ai_gateway.providers SET options = '{\"max_embed_tokens\": 5100}' WHERE name = 'openai'" >/dev/null
aig_mock_reset "$MOCK_PORT"
r=$(q -c "SELECT count(*) FROM ai_embed(array(SELECT repeat('word ', 800) || g FROM generate_series(1, 40) g), 'openai/emb')")
sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
echo "  40 texts of ~1000 tokens, budget 5100 tokens a request: $sent requests"
[ "$r" = 40 ] && [ "$sent" = 8 ] || fail "token budget: $r rows, $sent requests"
pass "per-request token budget respected"

# a failing chunk fails the whole call (never a mix), and fails over as a unit
q >/dev/null <<'SQL'
INSERT INTO ai_gateway.routes (name) VALUES ('emb');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('emb', 'cohere', 'e+fail_first=2+seq=embfail', 1), ('emb', 'gemini', 'e', 2);
SQL
aig_mock_reset "$MOCK_PORT"
r=$(q -c "SET ai_gateway.max_retries = 0" -c "SELECT count(*), count(DISTINCT array_length(embedding,1)) FROM ai_embed(array(SELECT 'x' || g FROM generate_series(1, 300) g), 'emb')")
gem=$(aig_mock_stats "$MOCK_PORT" "s['by_model'].get('e', 0)")
echo "  300 texts, first target's chunks failing: $r rows; gemini got $gem requests"
[ "$r" = "300|1" ] || fail "failover result $r"
[ "$gem" = 3 ] || fail "gemini should get all 3 chunks, got $gem"
pass "a failing chunk moves the whole call to the next target"
# answers sized by bytes (issue 16 item 3): 1000 inputs at 1536 dimensions.
# OpenAI is asked for base64 (about 6 answer bytes a dimension), so the
# answer-size estimate puts 844 inputs in a request under 3/4 of
# max_response_bytes: 2 requests; an OpenAI-compatible server answers JSON
# numbers (about 24 bytes a dimension estimated): 5 requests; none fails.
q -c "INSERT INTO ai_gateway.providers (name, kind, base_url, api_key)
      VALUES ('compat', 'openai_compatible', 'http://127.0.0.1:$MOCK_PORT/v1', 'compat-integration-0123')" >/dev/null
for spec in openai:2:base64 compat:5:float; do
	IFS=: read -r p want enc <<<"$spec"
	aig_mock_reset "$MOCK_PORT"
	r=$(q -c "SELECT count(*), bool_and(array_length(embedding, 1) = 1536)
	          FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, 1000) g),
	                        '$p/text-embedding-3-small', '{\"dimensions\": 1536}')")
	sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
	got=$(aig_mock_last "$MOCK_PORT" "b['body']['encoding_format']")
	echo "  $p: 1000 inputs x 1536 dimensions -> $sent requests ($got)"
	[ "$r" = "1000|t" ] || fail "$p 1536-dim batch: $r"
	[ "$sent" = "$want" ] || fail "$p 1536-dim batch: $sent requests, expected $want"
	[ "$got" = "$enc" ] || fail "$p asked for encoding $got, expected $enc"
done
pass "1000 x 1536-dim embeddings: requests sized to the answer, base64 where the API has it, 0 failures"

# an answer larger than estimated is split and retried, not failed: 200
# inputs whose answers carry 30 kB each against a 1 MB max_response_bytes
# -> 5 chunks of <= 42 by the estimate, each too large, each sent again as
# two halves: 15 requests, every row there
aig_mock_reset "$MOCK_PORT"
r=$(q -c "SET ai_gateway.max_response_bytes = '1MB'" \
      -c "SELECT count(*), bool_and(array_length(embedding, 1) = 768)
          FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, 200) g),
                        'ollama/nomic-embed-text+bytes_per_input=30000', '{\"dimensions\": 768}')")
sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
echo "  200 inputs, answers over max_response_bytes: $r rows after $sent requests"
[ "$r" = "200|t" ] || fail "split and retry: $r"
[ "$sent" = 15 ] || fail "split and retry: $sent requests, expected 15"
pass "an embedding answer over max_response_bytes is split in two and retried, not failed"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
