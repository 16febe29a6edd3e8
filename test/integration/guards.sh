#!/usr/bin/env bash
# guards.sh — in a throwaway cluster with the smallest shared tables
# (ai_gateway.max_targets = max_stats = 16):
#
#  1. the tables reclaim entries: filled with failing targets whose provider
#     is then deleted, or with healthy targets, a new target failing 5 times
#     still opens its breaker (and gets statistics); filled with failing
#     targets that still exist, a new target runs untracked, with a WARNING
#     and the untracked counter of metrics() saying so;
#  2. refused calls (a provider's refusal) reach the provider exactly once
#     each, counted at the mock, and never the route's other target;
#  3. the 0.2.0 -> 0.3.0 update stops, naming the rows, on a NaN price.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT

base="${WORK:-$(mktemp -d /tmp/aig_guards.XXXXXX)}/guards"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
aig_start_mock MOCK
PORT=$(aig_free_port)
aig_start_cluster "$base/c" "$PORT" "ai_gateway.max_targets = 16" "ai_gateway.max_stats = 16"
q() { aig_psql "$PORT" -d postgres -At "$@"; }
sent() { aig_mock_stats "$MOCK" "s['by_model'].get('$1', 0)"; }
metric() { q -c "SELECT split_part(line, ' ', 2) FROM regexp_split_to_table(ai_gateway.metrics(), E'\n') line
                 WHERE line LIKE '$1{table=\"$2\"}%'"; }

q -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('ollama', 'ollama', :'mock', NULL),
    ('openai', 'openai', :'mock' || '/v1', 'sk-guards-0123456789');
SQL

# fill_dead N: N providers on a closed port, each called once (a failure)
fill_dead() {
	PGOPTIONS="-c guards.n=$1" q >/dev/null <<'SQL'
INSERT INTO ai_gateway.providers (name, kind, base_url)
SELECT 'dead' || g, 'ollama', 'http://127.0.0.1:1' FROM generate_series(1, current_setting('guards.n')::int) g;
SET client_min_messages = error;
DO $$
BEGIN
    FOR g IN 1..current_setting('guards.n')::int LOOP
        BEGIN
            PERFORM ai_complete('x', 'dead' || g || '/m', NULL, '{"max_retries": 0}');
        EXCEPTION WHEN OTHERS THEN NULL;
        END;
    END LOOP;
END $$;
SQL
}

# calls_until_open MODEL: SQLSTATEs of 8 failing calls, as one line
calls_until_open() {
	q <<'SQL' | tr '\n' ' '
CREATE TEMP TABLE codes (i int, code text);
DO $$
BEGIN
    FOR i IN 1..8 LOOP
        BEGIN
            PERFORM ai_complete('x', current_setting('guards.m'), NULL, '{"max_retries": 0}');
            INSERT INTO codes VALUES (i, 'ok');
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO codes VALUES (i, SQLSTATE);
        END;
    END LOOP;
END $$;
SELECT string_agg(code, ',' ORDER BY i) FROM codes;
SQL
}
breaker_of() { q -c "SELECT breaker FROM ai_gateway.health() WHERE model = '$1'"; }

# --- 1a. full of failing targets that still exist: untracked, and said so
fill_dead 16
used=$(metric ai_gateway_shared_entries targets)
[ "$used" = 16 ] || fail "expected 16 target entries after the fill, saw $used"
out=$(PGOPTIONS="-c guards.m=ollama/kept+status=503" calls_until_open "ollama/kept+status=503" 2>&1)
case "$out" in *"target state is full"*) ;; *) fail "no WARNING when the target table is full: $out" ;; esac
case "$out" in *UP000*) fail "a target that found no room opened a breaker: $out" ;; esac
[ "$(metric ai_gateway_shared_untracked_total targets)" -ge 1 ] ||
	fail "metrics() does not count the untracked target"
pass "full of failing breakers: a new target runs untracked, with a WARNING and a counter"

# --- 1b. their providers deleted: the vanished entries are reclaimed
q -c "DELETE FROM ai_gateway.providers WHERE name LIKE 'dead%'" >/dev/null
codes=$(PGOPTIONS="-c guards.m=ollama/fresh+status=503" calls_until_open "ollama/fresh+status=503" 2>&1)
case "$codes" in *58000,58000,58000,58000,58000,UP000,UP000,UP000*) ;;
*) fail "after the fill and the delete, a new target's breaker did not open at its 5th failure: $codes" ;; esac
[ "$(breaker_of 'fresh+status=503')" = open ] || fail "health() does not show the new target's breaker open"
[ "$(q -c "SELECT requests >= 5 FROM ai_gateway.stats WHERE model = 'fresh+status=503'")" = t ] ||
	fail "the new target got no statistics"
[ "$(metric ai_gateway_shared_reclaimed_total targets)" -ge 1 ] || fail "metrics() counts no reclaimed target"
[ "$(metric ai_gateway_shared_reclaimed_total stats)" -ge 1 ] || fail "metrics() counts no reclaimed statistics"
pass "vanished targets' entries are reclaimed: a new target's breaker opens after 5 failures, with statistics"

# --- 1c. full of healthy targets (junk models that answer): least recently used reclaimed
q >/dev/null <<'SQL'
SELECT format('SELECT ai_complete(%L, %L)', 'x', 'ollama/junk' || g) FROM generate_series(1, 20) g \gexec
SQL
codes=$(PGOPTIONS="-c guards.m=ollama/fresh2+status=503" calls_until_open "ollama/fresh2+status=503" 2>&1)
case "$codes" in *58000,58000,58000,58000,58000,UP000,UP000,UP000*) ;;
*) fail "with the table full of healthy targets, a new target's breaker did not open: $codes" ;; esac
[ "$(breaker_of 'fresh+status=503')" = open ] || fail "an open breaker was reclaimed"
pass "healthy entries are reclaimed least recently used first; open breakers are kept"

# --- 1d. a backend that holds a reclaimed entry looks it up again: its
# target's failures still open the breaker (here the held target succeeds,
# its entry is reclaimed by 20 other targets called from another session,
# then it times out in the first session)
codes=$("$PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres 2>&1 <<SQL | tr '\n' ' '
SELECT ai_complete('x', 'ollama/held+latency=300', NULL, '{"timeout_ms": 5000}') IS NOT NULL;
\\! "$PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "SELECT count(ai_complete('x', 'ollama/filler' || g)) FROM generate_series(1, 20) g" >/dev/null
CREATE TEMP TABLE codes (i int, code text);
DO \$\$
BEGIN
    FOR i IN 1..9 LOOP
        BEGIN
            PERFORM ai_complete('x', 'ollama/held+latency=300', NULL, '{"timeout_ms": 100, "max_retries": 0}');
            INSERT INTO codes VALUES (i, 'ok');
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO codes VALUES (i, SQLSTATE);
        END;
    END LOOP;
END \$\$;
SELECT string_agg(code, ',' ORDER BY i) FROM codes;
SQL
)
case "$codes" in *UP000*) ;;
*) fail "a backend holding a reclaimed entry never opened its target's breaker: $codes" ;; esac
pass "a backend holding a reclaimed entry looks it up again: its target's breaker opens"

# --- 2. refusals: one request each at the provider, never the other target
aig_mock_reset "$MOCK"
q >/dev/null <<'SQL'
INSERT INTO ai_gateway.routes (name) VALUES ('g_refuse');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('g_refuse', 'openai', 'refusing+refuse=refusal', 1), ('g_refuse', 'openai', 'other', 2);
SET ai_gateway.max_retries = 2;
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        BEGIN
            PERFORM ai_complete('x', 'g_refuse');
        EXCEPTION WHEN SQLSTATE 'MR001' THEN NULL;
        END;
    END LOOP;
END $$;
SQL
[ "$(sent 'refusing+refuse=refusal')" = 40 ] || fail "40 refused calls sent $(sent 'refusing+refuse=refusal') requests"
[ "$(sent other)" = 0 ] || fail "a refused call went on to the route's other target"
[ "$(breaker_of 'refusing+refuse=refusal')" = closed ] || fail "40 refusals opened the breaker"
pass "40 refused calls: 40 requests at the provider, none to the other target, breaker closed"

# --- 3. the update stops on a NaN price, naming it
q >/dev/null <<'SQL'
CREATE DATABASE guards_upd;
SQL
aig_psql "$PORT" -d guards_upd -At >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway VERSION '0.2.0';
INSERT INTO ai_gateway.providers (name, kind) VALUES ('p', 'openai');
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok) VALUES ('p', 'nan-model', 'NaN');
SQL
if out=$(aig_psql "$PORT" -d guards_upd -At -c "ALTER EXTENSION ai_gateway UPDATE TO '0.3.0'" 2>&1); then
	fail "the update accepted a NaN price"
fi
case "$out" in *"models p/nan-model"*) ;; *) fail "the update's error does not name the row: $out" ;; esac
aig_psql "$PORT" -d guards_upd -At >/dev/null <<'SQL'
UPDATE ai_gateway.models SET input_usd_per_mtok = NULL;
ALTER EXTENSION ai_gateway UPDATE TO '0.3.0';
SQL
[ "$(aig_psql "$PORT" -d guards_upd -At -c "SELECT extversion FROM pg_extension WHERE extname = 'ai_gateway'")" = 0.3.0 ] ||
	fail "the update did not go through once the row was fixed"
q -c "DROP DATABASE guards_upd" >/dev/null
pass "the 0.2.0 -> 0.3.0 update stops on a NaN price, naming the row, and goes through once it is fixed"
