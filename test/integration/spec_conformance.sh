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
for p in cohere gemini; do
	check "$p embeddings" "ai_embed(array['one', 'two'], '$p/emb', '{\"input_type\": \"query\", \"dimensions\": 8}')"
done
# OpenAI and Azure embeddings are asked for as base64 (encoding_format, which both documents
# list), but the documents describe only float vectors in the answer (Embedding.embedding is an
# array of numbers; the real API answers base64 as a string: test/samples/
# openai_embeddings_base64.json). So Prism refuses the answer; the request is what is checked
# here: Prism forwarded it (it refuses a request that breaks the document with 422 before
# forwarding it), and the mock's base64 answer is read by the dialect (fault_matrix, embeddings).
for p in openai azure; do
	spec=$p
	before=$(grep -c "has returned 200" "${log[$spec]}" || true)
	r=$(outcome "ai_embed(array['one', 'two'], '$p/emb', '{\"input_type\": \"query\", \"dimensions\": 8}')")
	after=$(grep -c "has returned 200" "${log[$spec]}" || true)
	echo "  $p embeddings (base64): $r"
	case "$r" in
	ok) ;;
	*"HTTP 500"*) [ "$after" -gt "$before" ] ||
		fail "$p embeddings: Prism did not forward the base64 request (it breaks the document): $r" ;;
	*) fail "$p embeddings: $r" ;;
	esac
done
# gemini (section tools_gemini): a tool call, its result going back, a translated
# response schema and an image, against Gemini's document
gtools='"tools": [{"name": "get_weather", "description": "weather", "parameters": {"type": "object", "additionalProperties": false, "properties": {"city": {"type": "string"}, "days": {"type": ["integer", "null"]}}, "required": ["city"]}}]'
check "gemini tool call" "ai_chat('[{\"role\":\"user\",\"content\":\"weather in Oslo\"}]', 'gemini/m', '{$gtools, \"tool_choice\": \"required\"}')"
check "gemini tool result" "ai_chat('[{\"role\":\"user\",\"content\":\"weather in Oslo\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp\\\": 21}\"}]', 'gemini/m', '{$gtools}')"
check "gemini schema" "ai_chat('[{\"role\":\"user\",\"content\":\"hi\"}]', 'gemini/m', '{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"p\", \"schema\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {\"n\": {\"type\": \"integer\", \"minimum\": 0}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"maxItems\": 2}}, \"required\": [\"n\"]}}}}')"
check "gemini image" "ai_chat('[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this\"},{\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgoAAAANSUhEUg==\"},{\"type\":\"image\",\"url\":\"https://example.com/cat.jpg\"}]}]', 'gemini/m')"
# tools, tool results and image/PDF parts (tools_openai): OpenAI's and Azure's shapes
tools='{"tools": [{"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}], "tool_choice": "required", "parallel_tool_calls": false}'
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
for p in openai azure; do
	check "$p tool call" "ai_chat('[{\"role\":\"user\",\"content\":\"Weather in Oslo?\"}]', '$p/m', '$tools')"
	check "$p tool result" "ai_chat('[{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"12C\"}]', '$p/m', '$tools')"
	check "$p image" "ai_chat('[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image\",\"data\":\"$png\",\"media_type\":\"image/png\"},{\"type\":\"image\",\"url\":\"https://example.com/cat.png\"}]}]', '$p/m')"
done
check "openai pdf" "ai_chat('[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Summarize\"},{\"type\":\"document\",\"data\":\"JVBERi0xLjQ=\",\"media_type\":\"application/pdf\"}]}]', 'openai/m')"
# tools, tool results, images and PDFs, the forced structured-output tool (anthropic, cohere):
# the requests the dialects build and the mock's tool-call answers, checked both ways
tools='{"tools": [{"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}], "tool_choice": "required", "parallel_tool_calls": false}'
ask='[{"role": "user", "content": "Weather in Paris?"}]'
round2='[{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Looking it up.", "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]}, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]'
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==
image='[{"role": "user", "content": [{"type": "text", "text": "What is it?"}, {"type": "image", "media_type": "image/png", "data": "'$png'"}, {"type": "image", "url": "https://example.com/cat.png"}]}]'
for p in anthropic cohere; do
	check "$p tools" "ai_chat('$ask', '$p/m', '$tools')"
	check "$p tool results" "ai_chat('$round2', '$p/m', '$tools')"
	check "$p image" "ai_chat('$image', '$p/m')"
done
check "anthropic pdf" "ai_chat('[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Summarize\"}, {\"type\": \"document\", \"media_type\": \"application/pdf\", \"data\": \"JVBERi0xLjQKJSVFT0Y=\"}]}]', 'anthropic/m')"
check "anthropic json" "ai_chat('[{\"role\":\"user\",\"content\":\"hi\"}]', 'anthropic/m', '{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"answer\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}, \"required\": [\"a\"]}}}}')"
# (no cohere json: its document's ResponseFormatV2 is a oneOf whose text branch also matches
# {"type": "json_object", ...}, so Prism refuses every response_format as matching both)

pass "every dialect's requests, and the mock's answers, conform to the provider's document"

# provider batches (issue 16): the requests of async jobs with {"batch": true} — OpenAI's file
# upload (multipart/form-data), batch create, polls and output file download; Anthropic's
# Message Batches create, polls and results — checked against the documents' batch operations.
# Jobs run in aig_regression (the database the job workers serve), on providers of their own.
# The answers are checked too (Batch, OpenAIFile, MessageBatch), but for the downloads of
# results, which the excerpts take as opaque text (test/specs/README.md).
# First, each batch operation refuses a request that breaks it (checking is on for them too).
refused openai /batches '{"input_file_id":"file-abc","endpoint":"/v1/chat/completions","completion_window":"48h"}' \
	-H 'authorization: Bearer k'
# (a file part needs its Content-Type header: without one Prism 5.16's multipart parser,
# parse-multipart-data 1.5.0, crashes; the gateway sends one)
code=$(printf -- '--XX\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nnot-a-purpose\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="b.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{}\n\r\n--XX--\r\n' |
	curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${port[openai]}/files" \
		-H 'authorization: Bearer k' -H 'content-type: multipart/form-data; boundary=XX' --data-binary @- || true)
[ "$code" = 422 ] || fail "openai: an upload breaking the document got HTTP $code, not 422 (is multipart checking on?)"
refused anthropic /v1/messages/batches \
	'{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}}]}' \
	-H 'x-api-key: k' -H 'anthropic-version: 2023-06-01'
pass "the batch operations refuse a request that breaks them (422)"

R() { aig_psql "$PGPORT" -d aig_regression -At "$@"; }
R -c "INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
        ('spec_openai', 'openai', 'http://127.0.0.1:${port[openai]}', 'sk-spec-batch-0123456789'),
        ('spec_anthropic', 'anthropic', 'http://127.0.0.1:${port[anthropic]}', 'sk-ant-spec-batch-0123456789')" \
	-c "ALTER SYSTEM SET ai_gateway.batch_poll_interval = 200" -c "SELECT pg_reload_conf()" >/dev/null
batch_cleanup() {
	R -c "ALTER SYSTEM RESET ai_gateway.batch_poll_interval" -c "SELECT pg_reload_conf()" \
		-c "DELETE FROM ai_gateway.providers WHERE name IN ('spec_openai', 'spec_anthropic')" >/dev/null 2>&1 || true
}
declare -A seen
for p in openai anthropic; do
	before=$(wc -l <"${log[$p]}")
	# two jobs committed together: one provider batch of two requests (a system prompt and options)
	ids=$(R -c "BEGIN" \
		-c "SELECT ai_complete_async('a batch of one', 'spec_$p/m', NULL, '{\"batch\": true}')" \
		-c "SELECT ai_complete_async('a batch of two', 'spec_$p/m', 'Be brief.', '{\"batch\": true, \"temperature\": 0.5, \"max_tokens\": 20}')" \
		-c "COMMIT" | grep -E '^[0-9]+$' | paste -sd, -)
	[ -n "$ids" ] || { batch_cleanup; fail "$p batch: the jobs were not queued"; }
	r=$(R -c "SELECT string_agg(coalesce(r->>'status', '?') || coalesce(': ' || (r->>'error'), ''), '; ' ORDER BY j)
	          FROM unnest(array[$ids]::bigint[]) j, ai_result(j, 30000) r")
	b=$(R -c "SELECT string_agg(status || '/' || coalesce(remote_status, '') || coalesce(' ' || error, ''), '; ')
	          FROM ai_gateway.provider_batches WHERE provider = 'spec_$p'")
	echo "  $p batch: jobs $r; provider batch $b"
	seen[$p]=$(tail -n +"$((before + 1))" "${log[$p]}")
	[ -n "${AIG_SPEC_VERBOSE:-}" ] && echo "${seen[$p]}" >&2
	# every request the worker sent passed Prism's validator: none refused (422), none with
	# violations, and every operation of the batch's life reached the mock
	if echo "${seen[$p]}" | grep -q "UNPROCESSABLE_ENTITY\|Invalid request\|Request .* must\|Request body"; then
		echo "${seen[$p]}" | grep -B2 -A6 "UNPROCESSABLE_ENTITY\|Invalid request\|Request .* must\|Request body" | tail -40 >&2
		batch_cleanup
		fail "$p batch: the provider's document refuses a request the job worker sent"
	fi
	if [ "$p" = openai ]; then
		ops=('"post" request to [^ ]*/v1/files\.' '"post" request to [^ ]*/v1/batches\.'
			'"get" request to [^ ]*/v1/batches/batch_[A-Za-z0-9_-]*\.'
			'"get" request to [^ ]*/v1/files/file-[A-Za-z0-9_-]*/content\.')
	else
		ops=('"post" request to [^ ]*/v1/messages/batches\.'
			'"get" request to [^ ]*/v1/messages/batches/msgbatch_[A-Za-z0-9_-]*\.'
			'"get" request to [^ ]*/v1/messages/batches/msgbatch_[A-Za-z0-9_-]*/results\.')
	fi
	for op in "${ops[@]}"; do
		echo "${seen[$p]}" | grep -q "Forwarding $op" || {
			echo "${seen[$p]}" | tail -30 >&2
			batch_cleanup
			fail "$p batch: Prism forwarded no request matching $op (refused, or never sent)"
		}
	done
	# and the mock's answers passed too (Batch and MessageBatch objects): the jobs were answered
	[ "$r" = "succeeded; succeeded" ] || { batch_cleanup; fail "$p batch: the jobs did not succeed: $r"; }
done
batch_cleanup
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
rm -f "${log[@]}"
