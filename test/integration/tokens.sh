#!/usr/bin/env bash
# tokens.sh — providers reached with OAuth access tokens (issue 15): Google
# Vertex AI (a service-account key: an RS256 JWT exchanged for a token) and
# Azure OpenAI with Entra ID (client credentials), against the mock's token
# endpoints.  The test RSA key is generated here (openssl genpkey); the mock
# checks the JWT's signature against its public key.  Asserts:
#  1. a tokened call works (Vertex URL + Bearer; Entra Bearer, no api-key);
#  2. the token is cached: two calls, one token issued;
#  3. a token near its expiry (expires_in=2) is refreshed;
#  4. an upstream 401 to a cached token: exactly one refresh and one retry,
#     and the call succeeds; a 401 every time: one refresh, one retry, error;
#  5. a bad key / secret: a clear error that holds no secret;
#  6. attack: a non-superuser gateway admin who changes the token URL, the
#     tenant or auth, or copies the sealed secret to a provider of their own,
#     gets no secret sent anywhere new;
#  7. four backends at once with no token: one token fetch;
#  8. batches, async jobs and embeddings get tokens too.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
MOCK="http://127.0.0.1:$MOCK_PORT"
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
stat() { aig_mock_stats "$MOCK_PORT" "$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the test service account (generated, never committed) ------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/sa.pem" 2>/dev/null
openssl pkey -in "$tmp/sa.pem" -pubout -out "$tmp/sa.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/other.pem" 2>/dev/null
python3 -c "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request('$MOCK/_mock/jwt_key', data=open(sys.argv[1],'rb').read(), method='POST')).read()" "$tmp/sa.pub"
# sa_key PEM TOKEN_URI: a service-account JSON key
sa_key() {
	python3 - "$1" "$2" <<'PY'
import json, sys
print(json.dumps({"type": "service_account", "project_id": "tok-project",
                  "private_key_id": "0123456789abcdef", "private_key": open(sys.argv[1]).read(),
                  "client_email": "gateway@tok-project.iam.gserviceaccount.com",
                  "client_id": "1234567890", "token_uri": sys.argv[2]}))
PY
}
sa_key "$tmp/sa.pem" "$MOCK/token" >"$tmp/key.json"
sa_key "$tmp/sa.pem" "$MOCK/token?expires_in=2" >"$tmp/short.json"
sa_key "$tmp/sa.pem" "$MOCK/token?latency=1500" >"$tmp/slow.json"
sa_key "$tmp/other.pem" "$MOCK/token?echo_secret=1" >"$tmp/wrong.json"
pem_line=$(sed -n 2p "$tmp/other.pem")

ENTRA="$MOCK/tenant-1/oauth2/v2.0/token"
q -v key="$(cat "$tmp/key.json")" -v short="$(cat "$tmp/short.json")" \
	-v slow="$(cat "$tmp/slow.json")" -v wrong="$(cat "$tmp/wrong.json")" \
	-v mock="$MOCK" -v entra="$ENTRA" <<'SQL'
DELETE FROM ai_gateway.providers WHERE name LIKE 'tok\_%';
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('tok_vertex', 'vertex_ai', :'mock', :'key', '{"location": "europe-west4"}'),
    ('tok_short', 'vertex_ai', :'mock', :'short', '{}'),
    ('tok_slow', 'vertex_ai', :'mock', :'slow', '{"project_id": "other-project"}'),
    ('tok_wrong', 'vertex_ai', :'mock', :'wrong', '{}'),
    ('tok_notjson', 'vertex_ai', :'mock', 'garbage-key-0123456789', '{}'),
    ('tok_entra', 'azure_openai', :'mock', 'entra-secret-0123456789abcdef',
     jsonb_build_object('auth', 'entra_id', 'tenant_id', 'tenant-1', 'client_id', 'client-1',
                        'token_url', :'entra')),
    ('tok_entra_bad', 'azure_openai', :'mock', 'bad-entra-secret-0123456789',
     jsonb_build_object('auth', 'entra_id', 'tenant_id', 'tenant-1', 'client_id', 'client-1',
                        'token_url', :'entra' || '?echo_secret=1'));
SQL
aig_mock_reset "$MOCK_PORT"

# ---- 1, 2: a tokened call, and the token cached -----------------------------
r=$(q -c "SELECT ai_complete('hello', 'tok_vertex/gemini-2.0-flash')")
[ "$r" = "mock reply from vertex gemini-2.0-flash: hello" ] || fail "vertex call: $r"
r=$(q -c "SELECT ai_complete('x', 'tok_vertex/echo')::jsonb #>> '{path}'")
[ "$r" = "/v1/projects/tok-project/locations/europe-west4/publishers/google/models/echo:generateContent" ] ||
	fail "vertex path $r"
r=$(q -c "SELECT ai_complete('x', 'tok_vertex/echo')::jsonb -> 'headers'")
[[ "$r" == *'"authorization": "Bearer ya29.mock-jwt_be-1-'* ]] || fail "vertex headers $r"
[[ "$r" != *x-goog-api-key* ]] || fail "vertex sent x-goog-api-key: $r"
[ "$(stat 's["tokens_issued"]')" = 1 ] || fail "vertex: $(stat 's["tokens_issued"]') tokens for 3 calls"
pass "vertex_ai: the Vertex URL, a Bearer token from the JWT grant, cached (3 calls, 1 token)"
# Gemini's bodies through Vertex: a tool call round trip's first half
r=$(q 2>&1 <<'SQL' || true
SELECT ai_chat('[{"role": "user", "content": "weather in \"Paris\""}]', 'tok_vertex/m',
               '{"tools": [{"name": "get_weather", "parameters": {"type": "object",
                 "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}')
       #>> '{tool_calls,0,arguments,city}';
SQL
)
[ "$r" = "Paris" ] || fail "vertex tool call: $r"
pass "vertex_ai: Gemini's tool calling through Vertex"
# what issue 15 asks of every dialect, through Vertex: the SQL-function tool loop
# answering from a table, an extraction, an image from bytea
r=$(q <<'SQL'
CREATE TEMP TABLE tok_items (name text PRIMARY KEY, price numeric);
INSERT INTO tok_items VALUES ('widget', 9.5);
CREATE FUNCTION pg_temp.tok_price(item text) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM tok_items WHERE name = item $$;
SELECT ai_complete_tools('What does a "widget" cost?', ARRAY['pg_temp.tok_price(text)']::regprocedure[], 'tok_vertex/m')
    || ' | ' || (ai_extract('Customer "Ada"', '{"type":"object","properties":{"customer":{"type":"string"}},"required":["customer"]}', 'tok_vertex/m') ->> 'customer')
    || ' | ' || ai_complete('Describe', decode('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
          '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex'), 'tok_vertex/m');
SQL
)
[ "$r" = "tool results: tok_price=9.5 | Ada | mock reply from vertex m: Describe [image/png 67 bytes]" ] ||
	fail "vertex tool loop / extraction / image: $r"
pass "vertex_ai: the SQL-function tool loop answers from a table, ai_extract, an image from bytea"

r=$(q -c "SELECT ai_complete('hello', 'tok_entra/gpt-4o')")
[ "$r" = "mock reply from azure gpt-4o: hello" ] || fail "entra call: $r"
r=$(q -c "SELECT ai_complete('x', 'tok_entra/echo')::jsonb -> 'headers'")
[[ "$r" == *'"authorization": "Bearer ya29.mock-client-2-'* ]] || fail "entra headers $r"
[[ "$r" != *api-key* ]] || fail "entra sent api-key: $r"
[ "$(stat 's["tokens_by_grant"]["client_credentials"]')" = 1 ] || fail "entra: not one token"
pass "azure_openai entra_id: Bearer token from the client credentials grant, cached"

# ---- 3: expiry --------------------------------------------------------------
aig_mock_reset "$MOCK_PORT"
q -c "SELECT ai_complete('a', 'tok_short/m')" >/dev/null
q -c "SELECT ai_complete('b', 'tok_short/m')" >/dev/null
[ "$(stat 's["tokens_issued"]')" = 1 ] || fail "short token not reused while valid"
sleep 2.2
r=$(q -c "SELECT ai_complete('c', 'tok_short/m')")
[ "$r" = "mock reply from vertex m: c" ] || fail "after expiry: $r"
[ "$(stat 's["tokens_issued"]')" = 2 ] || fail "expired token not refreshed: $(stat 's["tokens_issued"]')"
pass "a token is refreshed before it expires (expires_in=2)"

# ---- 4: an upstream 401 to a cached token ------------------------------------
aig_mock_reset "$MOCK_PORT"
q -c "SELECT ai_complete('warm', 'tok_vertex/m')" >/dev/null
before=$(stat 's["tokens_issued"]')
r=$(q -c "SELECT ai_complete('again', 'tok_vertex/m+unauth_once')")
[ "$r" = "mock reply from vertex m+unauth_once: again" ] || fail "401 once: $r"
[ "$(stat 's["tokens_issued"]')" = $((before + 1)) ] || fail "401 once: not exactly one refresh"
[ "$(stat 's["by_model"]["m+unauth_once"]')" = 2 ] || fail "401 once: not exactly one retry"
pass "an upstream 401 to a cached token: one refresh, one retry, the call succeeds"
before=$(stat 's["tokens_issued"]')
r=$(q -c "SELECT ai_complete('x', 'tok_vertex/m+status=401', options => '{\"max_retries\": 3}')" 2>&1 || true)
[[ "$r" == *"HTTP 401"* ]] || fail "401 always: $r"
[ "$(stat 's["tokens_issued"]')" = $((before + 1)) ] || fail "401 always: not one refresh"
[ "$(stat 's["by_model"]["m+status=401"]')" = 2 ] || fail "401 always: $(stat 's["by_model"]["m+status=401"]') requests"
pass "a 401 every time: one refresh, one retry, then the 401 (28000)"
aig_mock_reset "$MOCK_PORT"
r=$(q -c "SELECT count(*) FILTER (WHERE error IS NULL) FROM ai_complete_batch(ARRAY['a','b','c'], 'tok_entra/m+unauth_once')")
[ "$r" = 3 ] || fail "batch with a revoked token: $r of 3"
# the cached token (revoked by the first request), then exactly one new one
[ "$(stat 's["tokens_issued"]')" = 1 ] || fail "batch: $(stat 's["tokens_issued"]') tokens"
pass "a batch: a token revoked in flight is refreshed once and its requests retried"

# ---- 5: bad keys: clear errors, no secret -----------------------------------
r=$(q -c "SELECT ai_complete('x', 'tok_wrong/m')" 2>&1 || true)
[[ "$r" == *"no access token"*"Invalid JWT Signature"* ]] || fail "wrong key: $r"
[[ "$r" != *"$pem_line"* && "$r" != *"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."* ]] || fail "wrong key leaked: $r"
r=$(q -c "SELECT ai_complete('x', 'tok_notjson/m')" 2>&1 || true)
[[ "$r" == *"its api_key is not a service-account key"* ]] || fail "not json: $r"
[[ "$r" != *"garbage-key-0123456789"* ]] || fail "not json leaked: $r"
r=$(q -c "SELECT ai_complete('x', 'tok_entra_bad/m')" 2>&1 || true)
[[ "$r" == *"AADSTS7000215"* ]] || fail "bad secret: $r"
[[ "$r" != *"bad-entra-secret-0123456789"* ]] || fail "bad secret leaked: $r"
[[ "$r" == *"28000"* || "$r" == *"no access token"* ]] || fail "bad secret: $r"
log=${AIG_SERVER_LOG:-$WORK/cluster/server.log}
if [ -s "$log" ] && grep -q -e "bad-entra-secret-0123456789" -e "entra-secret-0123456789abcdef" -e "$pem_line" "$log"; then
	fail "a secret in the server log"
fi
pass "a bad key or secret: a clear error naming the cause, no secret (in errors or the log)"

# ---- 6: the attack: a gateway admin redirects the secret --------------------
aig_mock_reset "$MOCK_PORT"
evil="$MOCK/evil/oauth2/v2.0/token"
sealed=$(q -c "SELECT api_key_encrypted FROM ai_gateway.providers WHERE name = 'tok_entra'")
out=$(q -v evil="$evil" -v sealed="$sealed" 2>&1 <<'SQL' || true
DROP ROLE IF EXISTS tok_ops;
CREATE ROLE tok_ops IN ROLE ai_gateway_admin;
SET ROLE tok_ops;
\set ON_ERROR_STOP 0
UPDATE ai_gateway.providers SET options = options || jsonb_build_object('token_url', :'evil') WHERE name = 'tok_entra';
UPDATE ai_gateway.providers SET options = options - 'token_url' || '{"tenant_id": "evil-tenant"}' WHERE name = 'tok_entra';
UPDATE ai_gateway.providers SET options = options - 'token_url' WHERE name = 'tok_entra';
UPDATE ai_gateway.providers SET options = '{}' WHERE name = 'tok_entra';
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted, options)
SELECT 'tok_copy', kind, base_url, api_key, :'sealed',
       options || jsonb_build_object('token_url', :'evil')
FROM ai_gateway.providers WHERE name = 'tok_entra';
RESET ROLE;
SELECT 'copy: ' || ai_complete('x', 'tok_copy/m');
SELECT 'still: ' || ai_complete('x', 'tok_entra/m');
SQL
)
n=$(echo "$out" | grep -c "needs its api_key written again" || true)
[ "$n" = 4 ] || { echo "$out"; fail "the admin's endpoint changes: $n of 4 refused"; }
echo "$out" | grep -q "cannot be decrypted" || { echo "$out"; fail "the copied secret opened"; }
echo "$out" | grep -q "still: mock reply from azure m: x" || { echo "$out"; fail "tok_entra broken"; }
[ "$(stat 's["by_path"].get("/evil/oauth2/v2.0/token", 0)')" = 0 ] || fail "the secret went to the admin's token URL"
[[ "$out" != *"entra-secret-0123456789abcdef"* ]] || fail "the secret in the attack's output"
pass "a gateway admin cannot send the client secret to a token URL, tenant or auth of their choosing"
q -c "DELETE FROM ai_gateway.providers WHERE name = 'tok_copy'" -c "DROP ROLE tok_ops" >/dev/null

# ---- 7: several backends at once, one fetch ---------------------------------
aig_mock_reset "$MOCK_PORT"
pids=()
for i in 1 2 3 4; do
	q -c "SELECT ai_complete('c$i', 'tok_slow/m')" >"$tmp/c$i.out" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for i in 1 2 3 4; do
	[ "$(cat "$tmp/c$i.out")" = "mock reply from vertex m: c$i" ] || fail "concurrent call $i: $(cat "$tmp/c$i.out")"
done
[ "$(stat 's["tokens_issued"]')" = 1 ] || fail "4 backends: $(stat 's["tokens_issued"]') token fetches"
pass "4 backends at once with no token (a slow token endpoint): one fetch, all served"

# ---- 8: async jobs and embeddings -------------------------------------------
aig_mock_reset "$MOCK_PORT"
r=$(q <<'SQL'
SELECT ai_complete_async('job', 'tok_entra/m') AS id \gset
SELECT (ai_result(:id, 20000)) #>> '{result,content}';
SQL
)
[[ "$r" == *"mock reply from azure m: job"* ]] || fail "async job: $r"
pass "an async job (the job worker) gets its token"
r=$(q -c "SELECT array_length(ai_embed('x', 'tok_entra/text-embedding-3-small'), 1)")
[ "$r" = 8 ] || fail "entra embeddings: $r"
pass "embeddings (Azure with Entra ID) get their token"

q -c "DELETE FROM ai_gateway.providers WHERE name LIKE 'tok\_%'" >/dev/null
