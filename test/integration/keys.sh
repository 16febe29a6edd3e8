#!/usr/bin/env bash
# keys.sh — provider keys never leave the database in plain text: not in a
# pg_dump, not in the server log (errors included); the master key file is
# 0600; a dump restored into another database of the same cluster keeps
# working keys and secret headers.  An update from 0.2.0 binds the keys it
# sealed ("aigk1:", not bound to an endpoint) to their endpoint, seals the
# secret headers it kept in plain text and masks them in the history, and
# gives the hooks configured then an owner.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_keys
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
secret='sk-integration-openai-0123456789'
hsecret='hdr-integration-secret-0123456789'
aig_psql "$PGPORT" -d "$DB" -q -c "INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options)
    SELECT 'hdr', 'openai', base_url, 'sk-hdr-0123456789abcdef', '{\"headers\": {\"X-Test-Api-Key\": \"$hsecret\"}}'
    FROM ai_gateway.providers WHERE name = 'openai'"
aig_psql "$PGPORT" -d "$DB" -At >/dev/null 2>&1 <<'SQL' || true
SET ai_gateway.log_requests = on;
SELECT ai_complete('x', 'openai/logged-call');
SELECT ai_complete('x', 'openai/m');
SELECT ai_complete('x', 'openai/m+status=401+echo_key');
SELECT ai_complete('x', 'openai/m+status=401');
SELECT ai_complete('x', 'openai/m+malformed');
SQL

dump=$(mktemp)
"$PG_BINDIR/pg_dump" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" >"$dump"
grep -q "aigk2:" "$dump" || fail "dump lacks the sealed keys (config dump not registered?)"
if grep -q -- "$secret" "$dump"; then fail "plain key in pg_dump output"; fi
if grep -q -- "$hsecret" "$dump"; then fail "plain secret header in pg_dump output"; fi
pass "pg_dump carries sealed keys and headers only"

datadir=$(aig_psql "$PGPORT" -d "$DB" -Atc "SHOW data_directory")
log=${AIG_SERVER_LOG:-$WORK/cluster/server.log}
[ -s "$log" ] || fail "server log $log not found"
if grep -q -- "$secret" "$log"; then fail "plain key in the server log"; fi
pass "server log has no plain key"
grep -q "ai_gateway call route=- provider=openai model=logged-call status=ok http_status=200 attempts=1" "$log" ||
	fail "no ai_gateway.log_requests line in the server log"
pass "ai_gateway.log_requests writes one key=value line per call"
mode=$(stat -c %a "$datadir/ai_gateway.key")
[ "$mode" = 600 ] || fail "master key file mode $mode"
pass "master key file is 0600"

aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aig_restored" -c "CREATE DATABASE aig_restored" >/dev/null
aig_psql "$PGPORT" -d aig_restored -f "$dump" >"$dump.log" 2>&1 || { cat "$dump.log"; fail "restore failed"; }
r=$(aig_psql "$PGPORT" -d aig_restored -Atc "SELECT ai_complete('x', 'openai/echo')::jsonb #>> '{headers,authorization}'")
[ "$r" = "Bearer $secret" ] || fail "restored provider sent '$r'"
n=$(aig_psql "$PGPORT" -d aig_restored -Atc "SELECT count(*) FROM ai_gateway.providers")
[ "$n" = 7 ] || fail "restored $n providers"
r=$(aig_psql "$PGPORT" -d aig_restored -Atc "SELECT ai_complete('x', 'hdr/echo')::jsonb #>> '{headers,x-test-api-key}'")
[ "$r" = "$hsecret" ] || fail "restored provider sent the secret header '$r'"
pass "dump restored into a new database: providers, keys and secret headers work"
rm -f "$dump" "$dump.log"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" -c "DROP DATABASE aig_restored" >/dev/null

# ---- 0.2.0 -> 0.3.0: what 0.2.0 stored, then ALTER EXTENSION UPDATE ----------
if ! python3 -c "import cryptography" 2>/dev/null; then
	echo "  skipped: 0.2.0 key migration (python3 cryptography missing)"
	exit 0
fi
UP=aig_keys_up
aig_psql "$PGPORT" -d postgres -q -c "DROP DATABASE IF EXISTS $UP" -c "CREATE DATABASE $UP" \
	-c "DROP ROLE IF EXISTS aig_keys_admin" -c "CREATE ROLE aig_keys_admin IN ROLE ai_gateway_admin"
keyfile="$datadir/ai_gateway.key"
legacy=$(python3 - "$keyfile" "$secret" <<'PY'
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
raw = open(sys.argv[1], "rb").read()
key = raw if len(raw) == 32 else bytes.fromhex(raw.decode().strip())
nonce = os.urandom(12)
ct = AESGCM(key).encrypt(nonce, sys.argv[2].encode(), b"ai_gateway.providers.api_key")
print("aigk1:" + base64.b64encode(nonce + ct).decode())
PY
)
aig_psql "$PGPORT" -d "$UP" -q -v mock="http://127.0.0.1:$MOCK_PORT/v1" -v legacy="$legacy" \
	-v hsecret="$hsecret" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway VERSION '0.2.0';
CREATE FUNCTION public.up_hook(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
ALTER FUNCTION public.up_hook(jsonb) OWNER TO aig_keys_admin;
-- as 0.2.0 left them: a key sealed without its endpoint, a header in plain text
ALTER TABLE ai_gateway.providers DISABLE TRIGGER providers_protect_key;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, api_key_encrypted, options)
VALUES ('openai', 'openai', :'mock', '****6789', :'legacy',
        jsonb_build_object('headers', jsonb_build_object('X-Test-Api-Key', :'hsecret', 'X-Test-Plain', 'visible')));
ALTER TABLE ai_gateway.providers ENABLE TRIGGER providers_protect_key;
SET ROLE aig_keys_admin;
INSERT INTO ai_gateway.routes (name, options) VALUES ('up', '{"request_hook": "public.up_hook"}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('up', 'openai', 'echo');
RESET ROLE;
-- a hook dropped since: the update goes through all the same
CREATE FUNCTION public.up_gone(req jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT req $$;
INSERT INTO ai_gateway.routes (name, options) VALUES ('up_gone', '{"request_hook": "public.up_gone"}');
DROP FUNCTION public.up_gone(jsonb);
SQL
r=$(aig_psql "$PGPORT" -d "$UP" -Atc "SELECT api_key_encrypted LIKE 'aigk1:%' FROM ai_gateway.providers")
[ "$r" = t ] || fail "the 0.2.0 state was not set up: $r"
aig_psql "$PGPORT" -d "$UP" -q -c "ALTER EXTENSION ai_gateway UPDATE" >/dev/null
r=$(aig_psql "$PGPORT" -d "$UP" -At <<'SQL'
SELECT api_key_encrypted LIKE 'aigk2:%', options -> 'headers' ->> 'X-Test-Api-Key' LIKE 'aigk2:%',
       options -> 'headers' ->> 'X-Test-Plain' FROM ai_gateway.providers;
SELECT hook_owner FROM ai_gateway.routes WHERE name = 'up';
SELECT r #>> '{headers,authorization}', r #>> '{headers,x-test-api-key}'
  FROM (SELECT ai_complete('x', 'up')::jsonb AS r) s;
SQL
)
[ "$r" = "t|t|visible
aig_keys_admin
Bearer $secret|$hsecret" ] || fail "after the update from 0.2.0: $r"
n=$(aig_psql "$PGPORT" -d "$UP" -Atc "SELECT count(*) FROM ai_gateway.config_history
    WHERE coalesce(old_row::text, '') || coalesce(new_row::text, '') LIKE '%$hsecret%'")
[ "$n" = 0 ] || fail "$n history rows still show the secret header"
if aig_psql "$PGPORT" -d "$UP" -Atc "SELECT api_key_encrypted FROM ai_gateway.providers" | grep -q "$legacy"; then
	fail "the 0.2.0 sealed key is still stored"
fi
pass "update from 0.2.0: key bound to its endpoint, secret header sealed and masked in history, hook owned by its admin"
aig_psql "$PGPORT" -d postgres -q -c "DROP DATABASE $UP" -c "DROP ROLE aig_keys_admin" >/dev/null
