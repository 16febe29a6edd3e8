#!/usr/bin/env bash
# dump_restore.sh — pg_dump carries all of the gateway's configuration:
# providers (keys sealed), routes with their options and hooks, targets,
# prices, quotas, rate limits and grants.  Restored into a new database of
# the same cluster (plain SQL and custom format through pg_restore), every
# configuration table matches the source row for row, and calls work as
# before: a granted role's call through the route, its hook, its price, its
# quota, and the provider key.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
SRC=aig_dump_src
aig_make_db "$PGPORT" "$SRC" "$MOCK_PORT"
aig_psql "$PGPORT" -d postgres >/dev/null 2>&1 <<'SQL' || true
CREATE ROLE aig_dump_user;
SQL
aig_psql "$PGPORT" -d "$SRC" >/dev/null <<'SQL'
CREATE FUNCTION public.tag_answer(res jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_set(res, '{content}', to_jsonb('[restored] ' || (res->>'content'))) $$;
INSERT INTO ai_gateway.routes (name, strategy, options) VALUES
    ('chat', 'fallback', '{"max_retries": 1, "cache_ttl_s": 60, "response_hook": "tag_answer",
                           "deny_patterns": ["forbidden"], "breaker_failures": 3}'),
    ('backup', 'weighted', '{}');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, weight) VALUES
    ('chat', 'openai', 'priced', 1, 3), ('chat', 'ollama', 'cheap', 2, 1),
    ('backup', 'anthropic', 'claude-x', 1, 1), ('backup', 'gemini', 'gem-y', 2, 1);
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok, context_window)
VALUES ('openai', 'priced', 2.5, 10, 128000);
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('aig_dump_user', 'day', 3);
INSERT INTO ai_gateway.rate_limits (role, requests_per_minute) VALUES ('aig_dump_user', 600);
SELECT ai_gateway.grant_route('chat', 'aig_dump_user');
SELECT ai_gateway.grant_provider('ollama', 'PUBLIC');
SQL

tables="providers routes route_targets models quotas rate_limits route_grants provider_grants"
snapshot() {	# DB -> one sorted line per row of every configuration table
	for t in $tables; do
		aig_psql "$PGPORT" -d "$1" -At -c "SELECT '$t ' || row_to_json(x)::text FROM (SELECT * FROM ai_gateway.$t) x ORDER BY 1" |
			sed -E 's/"(created_at|updated_at)":"[^"]*"/"\1":-/g'
	done | sort
}
snapshot "$SRC" >"$WORK/dump_src.rows"
[ "$(wc -l <"$WORK/dump_src.rows")" -ge 15 ] || fail "source snapshot too small"

check_restored() {	# DB how
	local db=$1 how=$2 r
	snapshot "$db" >"$WORK/dump_dst.rows"
	diff "$WORK/dump_src.rows" "$WORK/dump_dst.rows" >"$WORK/dump.diff" ||
		{ cat "$WORK/dump.diff"; fail "$how: configuration differs after restore"; }
	r=$(aig_psql "$PGPORT" -d "$db" -At <<'SQL'
SET ROLE aig_dump_user;
SELECT ai_chat('[{"role":"user","content":"hi"}]', 'chat')->>'content';
SELECT (ai_chat('[{"role":"user","content":"hi again"}]', 'chat')->>'cost_usd')::numeric > 0;
SELECT ai_complete('x', 'ollama/public-model') IS NOT NULL;
SQL
)
	[ "$r" = "[restored] mock reply from openai priced: hi
t
t" ] || fail "$how: calls after restore gave: $r"
	r=$(aig_psql "$PGPORT" -d "$db" -At -c "SET ROLE aig_dump_user" \
		-c "SELECT ai_complete('third', 'chat')" 2>&1 || true)
	echo "$r" | grep -q "quota exceeded" || fail "$how: quota not enforced after restore: $r"
	r=$(aig_psql "$PGPORT" -d "$db" -At -c "SELECT ai_complete('x', 'openai/echo')::jsonb #>> '{headers,authorization}'")
	[ "$r" = "Bearer sk-integration-openai-0123456789" ] || fail "$how: key after restore: $r"
	r=$(aig_psql "$PGPORT" -d "$db" -At -c "SELECT ai_complete('forbidden words', 'chat')" 2>&1 || true)
	echo "$r" | grep -q "deny" || fail "$how: deny_patterns lost: $r"
}

aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aig_dump_plain" -c "CREATE DATABASE aig_dump_plain" >/dev/null
"$PG_BINDIR/pg_dump" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$SRC" >"$WORK/dump.sql"
aig_psql "$PGPORT" -d aig_dump_plain -f "$WORK/dump.sql" >"$WORK/dump.log" 2>&1 || { cat "$WORK/dump.log"; fail "plain restore failed"; }
check_restored aig_dump_plain "plain dump"
pass "plain pg_dump restored: configuration identical, route/hook/price/quota/grant/key work"

aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aig_dump_custom" -c "CREATE DATABASE aig_dump_custom" >/dev/null
"$PG_BINDIR/pg_dump" -Fc -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$SRC" -f "$WORK/dump.custom"
"$PG_BINDIR/pg_restore" -h 127.0.0.1 -p "$PGPORT" -U postgres -d aig_dump_custom "$WORK/dump.custom" >"$WORK/dump.log" 2>&1 ||
	{ cat "$WORK/dump.log"; fail "pg_restore failed"; }
check_restored aig_dump_custom "custom dump"
pass "pg_dump -Fc | pg_restore: the same"

rm -f "$WORK/dump.sql" "$WORK/dump.custom" "$WORK"/dump*.rows "$WORK/dump.diff" "$WORK/dump.log"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $SRC" -c "DROP DATABASE aig_dump_plain" \
	-c "DROP DATABASE aig_dump_custom" -c "DROP ROLE aig_dump_user" >/dev/null
