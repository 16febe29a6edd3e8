#!/usr/bin/env bash
# catalog_cache.sh — a configuration change committed by one session applies
# to the next call of another, already connected session (per-backend cache
# invalidated at commit), and an uncommitted change is seen by nobody else.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_cache
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"
aig_psql "$PGPORT" -d "$DB" <<'SQL'
INSERT INTO ai_gateway.routes (name) VALUES ('r');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('r', 'openai', 'first');
SQL

# One long-lived session; other sessions change the route between its calls
# (psql's \! runs them while this session stays connected).
res=$(aig_psql "$PGPORT" -d "$DB" -At <<SQL
SELECT ai_complete('a', 'r');
\! "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p $PGPORT -U postgres -d $DB -c "UPDATE ai_gateway.route_targets SET model = 'second' WHERE route = 'r'"
SELECT ai_complete('b', 'r');
\! "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p $PGPORT -U postgres -d $DB -c "UPDATE ai_gateway.providers SET api_key = 'sk-rotated-key-0123456789' WHERE name = 'openai'"
SELECT ai_complete('c', 'openai/echo')::jsonb #>> '{headers,authorization}';
\! "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p $PGPORT -U postgres -d $DB -c "BEGIN; UPDATE ai_gateway.route_targets SET model = 'uncommitted' WHERE route = 'r'; SELECT pg_sleep(0.2); ROLLBACK;" >/dev/null
SELECT ai_complete('d', 'r');
SQL
)
expected="mock reply from openai first: a
mock reply from openai second: b
Bearer sk-rotated-key-0123456789
mock reply from openai second: d"
[ "$res" = "$expected" ] || { echo "got:"; echo "$res"; fail "cache not invalidated as expected"; }
pass "committed route and key changes reach a connected session's next call"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
