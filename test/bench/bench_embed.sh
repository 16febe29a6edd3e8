#!/usr/bin/env bash
# test/bench/bench_embed.sh — embedding batching: how many requests
# ai_embed(text[]) sends for N inputs.
#
#   test/bench/bench_embed.sh
#   BENCH_EMBED_N=1000 BENCH_EMBED_PROVIDERS="openai cohere gemini ollama" test/bench/bench_embed.sh
#
# For each provider kind, ai_embed(array of N texts) against the bundled
# mock provider (test/mock_provider.py), which counts the requests it gets;
# a second run sends the same N texts one ai_embed(text) per row, the
# unbatched baseline (N requests).  RESULT per provider: requests / inputs
# of the batched call, target ceil(N / batch limit) / N (the fewest requests
# the provider's per-request limit allows: OpenAI/Azure 2048, Cohere 96,
# Gemini 100, Ollama 512).  Times of both are printed.
#
# Then issue 16's figure: 1,000 inputs at 1,536 dimensions (answers that
# would not fit ai_gateway.max_response_bytes as one request), to OpenAI
# (base64 answers) and to an OpenAI-compatible server (JSON numbers):
# requests sent and embeddings that failed (target: 0), against one
# request per input.
set -euo pipefail
BENCH_NAME=bench_embed
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N=${BENCH_EMBED_N:-1000}
PROVIDERS=${BENCH_EMBED_PROVIDERS:-openai cohere}
bench_check_int BENCH_EMBED_N "$N" 1 1000000

bench_require_extension
aig_start_mock MOCK_PORT || bench_die "mock provider did not start"
bench_start_cluster "ai_gateway.database = 'bench'"
aig_make_db "$PG_PORT" bench "$MOCK_PORT" >/dev/null 2>&1 || bench_die "could not create the database"

limit_of() {
	case $1 in
	openai | azure) echo 2048 ;;
	cohere) echo 96 ;;
	gemini) echo 100 ;;
	ollama) echo 512 ;;
	*) bench_die "unknown provider '$1' in BENCH_EMBED_PROVIDERS (openai azure cohere gemini ollama)" ;;
	esac
}
q() { aig_psql "$PG_PORT" -d bench -At -c "$1"; }

echo "embedding batching: $N inputs, mock provider counting requests"
for p in $PROVIDERS; do
	limit=$(limit_of "$p")
	aig_mock_reset "$MOCK_PORT"
	t0=$(aig_now_ms)
	rows=$(q "SELECT count(*) FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, $N) g), '$p/emb')")
	t1=$(aig_now_ms)
	sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
	[ "$rows" = "$N" ] || bench_die "$p: $rows embeddings for $N inputs"
	aig_mock_reset "$MOCK_PORT"
	t2=$(aig_now_ms)
	rows=$(q "SELECT count(ai_embed('text ' || g, '$p/emb')) FROM generate_series(1, $N) g")
	t3=$(aig_now_ms)
	single=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
	[ "$rows" = "$N" ] || bench_die "$p: $rows embeddings for $N single calls"
	ideal=$(((N + limit - 1) / limit))
	printf '  %-7s batched: %5d requests in %6d ms | one per row: %6d requests in %6d ms | fewest possible %d (limit %d)\n' \
		"$p" "$sent" $((t1 - t0)) "$single" $((t3 - t2)) "$ideal" "$limit"
	[ "$single" = "$N" ] || bench_die "$p: $single requests for $N single ai_embed calls"
	bench_result "embedding batching: $p, $N inputs, requests/input" "$sent requests" \
		"$single requests one per row" "$(bench_calc "%.4g" "a / b" a="$sent" b="$N")" \
		"<= $(bench_calc "%.4g" "a / b" a="$ideal" b="$N")"
done

# 1,000 inputs x 1,536 dimensions: requests sized by the answer's bytes, 0 failures
q "INSERT INTO ai_gateway.providers (name, kind, base_url, api_key)
   VALUES ('compat', 'openai_compatible', 'http://127.0.0.1:$MOCK_PORT/v1', 'compat-bench-0123')" >/dev/null
echo "1,000 inputs x 1,536 dimensions (max_response_bytes $(q "SHOW ai_gateway.max_response_bytes"))"
for p in openai compat; do
	aig_mock_reset "$MOCK_PORT"
	t0=$(aig_now_ms)
	r=$(q "SELECT count(*) FILTER (WHERE array_length(embedding, 1) = 1536)
	       FROM ai_embed(array(SELECT 'text ' || g FROM generate_series(1, 1000) g),
	                     '$p/text-embedding-3-small', '{\"dimensions\": 1536}')")
	t1=$(aig_now_ms)
	sent=$(aig_mock_stats "$MOCK_PORT" "s['requests']")
	printf '  %-7s %d requests in %d ms, %d of 1000 embeddings, %d failed\n' "$p" "$sent" $((t1 - t0)) "$r" $((1000 - r))
	[ "$r" = 1000 ] || bench_die "$p: $((1000 - r)) of 1000 embeddings failed at 1536 dimensions"
	bench_result "embedding 1536 dims: $p, 1000 inputs, requests (0 failed)" "$sent requests" \
		"1000 requests one per input" "$(bench_calc "%.4g" "a / b" a="$sent" b=1000)" "<= 0.01"
done
