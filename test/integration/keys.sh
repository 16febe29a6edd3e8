#!/usr/bin/env bash
# keys.sh — provider keys never leave the database in plain text: not in a
# pg_dump, not in the server log (errors included); the master key file is
# 0600; a dump restored into another database of the same cluster keeps
# working keys.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_keys
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
secret='sk-integration-openai-0123456789'
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
pass "pg_dump carries sealed keys only"

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
[ "$n" = 6 ] || fail "restored $n providers"
pass "dump restored into a new database: providers and keys work"
rm -f "$dump" "$dump.log"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" -c "DROP DATABASE aig_restored" >/dev/null
