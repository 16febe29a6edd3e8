#!/usr/bin/env bash
# other_database.sh — the extension in a database not on the allow-list
# (ai_gateway.database = 'aig_regression' in test/regress.conf): the
# launcher starts no workers there; synchronous calls, batches, the cache and quotas
# work; the first call of a session says in a WARNING that its calls are
# not audited, and only once; async jobs are refused with 55000 and a hint;
# no audit row appears.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_other_db
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
out=$(aig_psql "$PGPORT" -d "$DB" -At 2>&1 <<'SQL'
SELECT ai_complete('one', 'openai/m');
SELECT ai_complete('two', 'openai/m');
SELECT count(*) FROM ai_complete_batch(ARRAY['a', 'b'], 'openai/m');
SELECT (ai_chat('[{"role":"user","content":"c"}]', 'openai/m', '{"cache": true}'))->>'cached';
SELECT (ai_chat('[{"role":"user","content":"c"}]', 'openai/m', '{"cache": true}'))->>'cached';
SQL
)
[ "$(echo "$out" | grep -c '^WARNING:  ai_gateway workers do not serve this database')" = 1 ] ||
	{ echo "$out"; fail "expected exactly one WARNING about the audit log"; }
echo "$out" | grep -q '^HINT:  Add this database to ai_gateway.databases' || { echo "$out"; fail "no hint"; }
echo "$out" | grep -q '^mock reply from openai m: two$' || { echo "$out"; fail "synchronous call failed"; }
[ "$(echo "$out" | grep -v '^\(WARNING\|DETAIL\|HINT\)' | tail -3 | tr '\n' ' ')" = "2 false true " ] ||
	{ echo "$out"; fail "batch or cache failed"; }
pass "synchronous calls, a batch and the cache work; one WARNING says calls are not audited"

out=$(aig_psql "$PGPORT" -d "$DB" -At -c "SET client_min_messages = error" \
	-c "SELECT ai_complete_async('x', 'openai/m')" 2>&1 || true)
echo "$out" | grep -q 'async jobs do not run in this database' || { echo "$out"; fail "async not refused clearly"; }
out=$(aig_psql "$PGPORT" -d "$DB" -At -v VERBOSITY=verbose -c "SET client_min_messages = error" \
	-c "\\set VERBOSITY verbose" -c "SELECT ai_complete_async('x', 'openai/m')" 2>&1 || true)
echo "$out" | grep -q '55000' || { echo "$out"; fail "async refusal is not 55000"; }
pass "ai_complete_async is refused with 55000 and a hint"

sleep 0.3
n=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT count(*) FROM ai_gateway.audit_log")
[ "$n" = 0 ] || fail "$n audit rows in a database the worker does not serve"
n=$(aig_psql "$PGPORT" -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'ai_gateway%' AND datname = '$DB'")
[ "$n" = 0 ] || fail "$n workers in a database not on the allow-list"
pass "no audit rows appear there, no workers run there"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
