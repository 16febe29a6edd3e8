#!/usr/bin/env bash
# spec_conformance.sh — every dialect's requests checked against the
# provider's published OpenAPI document (test/specs/), and the mock
# provider's answers, which the dialects read in every other test, checked
# against it too: Stoplight Prism runs as a validating proxy in front of the
# mock (--errors: a request that breaks the document is refused with HTTP
# 422, an answer that breaks it becomes HTTP 500 with the violations).  One
# deliberately invalid request per document first proves that checking is on.
#
# Prism comes from the npm registry (@stoplight/prism-cli), installed once
# under /var/cache/ai_gateway/prism (outside the clone) or taken from
# $PRISM.  Without npm the test says "skipped" (.ci/run installs npm).
# Ollama publishes no OpenAPI document; Gemini's is a third-party
# conversion (test/specs/README.md).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT

PRISM_DIR=${PRISM_DIR:-/var/cache/ai_gateway/prism}
PRISM=${PRISM:-$PRISM_DIR/node_modules/.bin/prism}
if [ ! -x "$PRISM" ]; then
	if ! command -v npm >/dev/null; then
		echo "  skipped: npm is not installed (Prism comes from the npm registry)"
		exit 0
	fi
	mkdir -p "$PRISM_DIR"
	(cd "$PRISM_DIR" && npm install --no-audit --no-fund --silent @stoplight/prism-cli@5.16.0 >/dev/null 2>&1) ||
		fail "npm install @stoplight/prism-cli failed"
fi

# one Prism per document, started together (each takes a few seconds)
declare -A port log
for spec in openai azure anthropic cohere gemini; do
	port[$spec]=$(aig_free_port)
	log[$spec]=$(mktemp /tmp/aig_prism_$spec.XXXXXX)
	upstream="http://127.0.0.1:$MOCK_PORT"
	[ "$spec" = openai ] && upstream="$upstream/v1"
	"$PRISM" proxy --errors -h 127.0.0.1 -p "${port[$spec]}" \
		"$AIG_ROOT/test/specs/$spec.json" "$upstream" >"${log[$spec]}" 2>&1 &
	AIG_PIDS+=($!)
done
for spec in "${!port[@]}"; do
	for _ in $(seq 1 300); do
		grep -q "Prism is listening" "${log[$spec]}" && break
		sleep 0.1
	done
	grep -q "Prism is listening" "${log[$spec]}" || { cat "${log[$spec]}"; fail "Prism did not start for $spec"; }
done

# checking is on: a request each document refuses gets 422
refused() { # spec path body [headers...]
	local spec=$1 path=$2 body=$3
	shift 3
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${port[$spec]}$path" \
		-H 'content-type: application/json' "$@" -d "$body")
	[ "$code" = 422 ] || fail "$spec: a request breaking the document got HTTP $code, not 422 (is checking on?)"
}
refused openai /chat/completions '{"model":"m","messages":[],"stop":["1","2","3","4","5"]}' -H 'authorization: Bearer k'
refused azure '/openai/deployments/m/chat/completions?api-version=2024-10-21' '{"messages":"x"}' -H 'api-key: k'
refused anthropic /v1/messages '{"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}' \
	-H 'x-api-key: k' -H 'anthropic-version: 2023-06-01'
refused cohere /v2/chat '{"model":"m","messages":[{"role":"user","content":"x"}],"p":1.0}' -H 'authorization: Bearer k'
refused gemini '/v1beta/models/m:generateContent' '{"contents":"x"}' -H 'x-goog-api-key: k'
pass "each document refuses a request that breaks it (422)"

DB=aig_spec
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT" >/dev/null 2>&1
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
q -c "UPDATE ai_gateway.providers SET base_url = CASE name
        WHEN 'openai' THEN 'http://127.0.0.1:${port[openai]}'
        WHEN 'azure' THEN 'http://127.0.0.1:${port[azure]}'
        WHEN 'anthropic' THEN 'http://127.0.0.1:${port[anthropic]}'
        WHEN 'cohere' THEN 'http://127.0.0.1:${port[cohere]}'
        WHEN 'gemini' THEN 'http://127.0.0.1:${port[gemini]}' ELSE base_url END,
        api_key = name || '-spec-key-0123456789'
      WHERE name IN ('openai', 'azure', 'anthropic', 'cohere', 'gemini')" >/dev/null

# a call's outcome: ok, or the SQLSTATE and message
outcome() {
	q -c "SET ai_gateway.max_retries = 0" -c "DO \$\$ BEGIN PERFORM $1; RAISE NOTICE 'ok'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '% %', SQLSTATE, SQLERRM; END \$\$" 2>&1 |
		sed -n 's/^NOTICE:  //p' | head -1
}
check() { # label call
	local r
	r=$(outcome "$2")
	echo "  $1: $r"
	case "$r" in
	ok) ;;
	*"HTTP 422"* | *"HTTP 400"* | *"HTTP 401"* | *"HTTP 404"*)
		{ grep -h -i -A3 "violation\|request is not valid\|must" "${log[@]}" | tail -20 >&2; } || true
		fail "$1: the provider's document refuses the request: $r" ;;
	*"HTTP 500"*)
		{ grep -h -i -A3 "violation\|request is not valid\|must" "${log[@]}" | tail -20 >&2; } || true
		fail "$1: the mock's answer breaks the provider's document: $r" ;;
	*) fail "$1: $r" ;;
	esac
}

opts='{"temperature": 0.5, "max_tokens": 20, "stop": ["x"], "seed": 3, "top_p": 0.9}'
for p in openai azure anthropic cohere gemini; do
	check "$p chat" "ai_chat('[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},{\"role\":\"user\",\"content\":\"again\"}]', '$p/m', '$opts')"
done
for p in openai azure gemini; do
	check "$p json" "ai_chat('[{\"role\":\"user\",\"content\":\"hi\"}]', '$p/m', '{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"answer\", \"schema\": {\"type\": \"object\"}}}}')"
done
for p in openai azure cohere gemini; do
	check "$p embeddings" "ai_embed(array['one', 'two'], '$p/emb', '{\"input_type\": \"query\", \"dimensions\": 8}')"
done
# tools, tool results and image/PDF parts (tools_openai): OpenAI's and Azure's shapes
tools='{"tools": [{"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}], "tool_choice": "required", "parallel_tool_calls": false}'
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
for p in openai azure; do
	check "$p tool call" "ai_chat('[{\"role\":\"user\",\"content\":\"Weather in Oslo?\"}]', '$p/m', '$tools')"
	check "$p tool result" "ai_chat('[{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"12C\"}]', '$p/m', '$tools')"
	check "$p image" "ai_chat('[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image\",\"data\":\"$png\",\"media_type\":\"image/png\"},{\"type\":\"image\",\"url\":\"https://example.com/cat.png\"}]}]', '$p/m')"
done
check "openai pdf" "ai_chat('[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Summarize\"},{\"type\":\"document\",\"data\":\"JVBERi0xLjQ=\",\"media_type\":\"application/pdf\"}]}]', 'openai/m')"
pass "every dialect's requests, and the mock's answers, conform to the provider's document"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
rm -f "${log[@]}"
