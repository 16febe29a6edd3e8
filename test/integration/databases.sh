#!/usr/bin/env bash
# databases.sh — every database of a cluster (issue 14, item 2), in a
# throwaway cluster of its own with no allow-list (ai_gateway.databases
# empty): two application databases with the extension and "postgres"
# without it.
#  1. the launcher starts three workers in each application database and
#     none stays in "postgres";
#  2. calls in each are audited into that database's own audit_log, with
#     no WARNING, and an async job runs in each;
#  3. DROP EXTENSION in one stops its workers while the other keeps
#     working; CREATE EXTENSION again starts them, without a restart;
#  4. a role that may not drop a served database fails with "must be
#     owner" and leaves its workers alone;
#  5. CREATE DATABASE ... TEMPLATE and ALTER DATABASE ... SET TABLESPACE of
#     a served database succeed (the workers let go of it), the copy is
#     served from its first call;
#  6. DROP DATABASE of a served database succeeds at once (the workers let
#     go of it) and frees its slot for another database; with every slot
#     taken a database's first call says so in a WARNING.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT

base="${WORK:-$(mktemp -d /tmp/aig_dbs.XXXXXX)}/databases"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
aig_start_mock MOCK
PORT=$(aig_free_port)
aig_start_cluster "$base" "$PORT" "ai_gateway.max_databases = 3" "max_worker_processes = 16"
q() { aig_psql "$PORT" -At "$@"; }

# workers DB: "count:pids" of the ai_gateway workers connected to DB
workers() {
	q -d postgres -c "SELECT count(*) || ':' || coalesce(string_agg(pid::text, ',' ORDER BY pid), '')
		FROM pg_stat_activity WHERE backend_type LIKE 'ai_gateway%' AND datname = '$1'"
}
# wait_workers DB N: up to 20 s for exactly N workers in DB
wait_workers() {
	for _ in $(seq 1 200); do
		case "$(workers "$1")" in "$2":*) return 0 ;; esac
		sleep 0.1
	done
	fail "expected $2 workers in $1, saw $(workers "$1")"
}
mkdb() {
	q -d postgres -c "CREATE DATABASE $1" >/dev/null
	q -d "$1" -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
SQL
}
# call DB MODEL: one call, flushed; prints its output and messages
call() {
	q -d "$1" -c "SELECT ai_complete('hello', 'ollama/$2')" -c "SELECT ai_gateway.audit_flush()" 2>&1
}
# job DB MODEL: the status of an async job once it ended (up to 15 s)
job() {
	q -d "$1" -v model="ollama/$2" 2>&1 <<'SQL' | tail -1
SELECT ai_complete_async('job', :'model') AS id \gset
SELECT (ai_result(:id, 15000))->>'status';
SQL
}
audited() { q -d "$1" -c "SELECT coalesce(string_agg(DISTINCT model, ',' ORDER BY model), '') FROM ai_gateway.audit_log WHERE model LIKE 'm-%'"; }

mkdb aig_app1
mkdb aig_app2
q -d postgres -c "SELECT 1" >/dev/null

# 1. three workers each, none in postgres
wait_workers aig_app1 3
wait_workers aig_app2 3
wait_workers postgres 0
[ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ai_gateway launcher'")" = 1 ] ||
	fail "no launcher"
pass "the launcher runs 3 workers in each database with the extension, none in postgres"

# 2. audited into their own audit_log, async jobs run in each
out1=$(call aig_app1 m-app1)
out2=$(call aig_app2 m-app2)
grep -q WARNING <<<"$out1$out2" && fail "a WARNING: $out1 $out2"
grep -q '^t$' <<<"$out1" || fail "audit_flush in aig_app1: $out1"
grep -q '^t$' <<<"$out2" || fail "audit_flush in aig_app2: $out2"
[ "$(audited aig_app1)" = "m-app1" ] || fail "aig_app1 audit_log has: $(audited aig_app1)"
[ "$(audited aig_app2)" = "m-app2" ] || fail "aig_app2 audit_log has: $(audited aig_app2)"
pass "calls in each database are audited into its own audit_log, no WARNING"
for db in aig_app1 aig_app2; do
	st=$(job "$db" "j-$db" || true)
	[ "$st" = succeeded ] || fail "async job in $db: $st"
done
pass "an async job runs in each database"

# 3. DROP EXTENSION stops one database's workers only; CREATE EXTENSION brings them back
q -d aig_app1 -c "DROP EXTENSION ai_gateway" >/dev/null
wait_workers aig_app1 0
wait_workers aig_app2 3
out2=$(call aig_app2 m-app2b)
[ "$(audited aig_app2)" = "m-app2,m-app2b" ] || fail "aig_app2 after the drop in aig_app1: $(audited aig_app2) $out2"
pass "DROP EXTENSION stops that database's workers; the other database keeps working"
q -d aig_app1 -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
SQL
wait_workers aig_app1 3
out1=$(call aig_app1 m-again)
[ "$(audited aig_app1)" = "m-again" ] || fail "aig_app1 after CREATE EXTENSION: $(audited aig_app1) $out1"
st=$(job aig_app1 j-again || true)
[ "$st" = succeeded ] || fail "async job after CREATE EXTENSION: $st"
pass "CREATE EXTENSION again starts the workers, no restart: audited, async jobs run"

# 4. a role that may not drop the database leaves its workers alone
before=$(workers aig_app2)
q -d postgres -c "CREATE ROLE aig_nobody LOGIN" >/dev/null
for stmt in "DROP DATABASE aig_app2" "ALTER DATABASE aig_app2 RENAME TO aig_stolen"; do
	if out=$(aig_psql "$PORT" -d postgres -U aig_nobody -c "$stmt" 2>&1); then
		fail "$stmt as an unprivileged role succeeded"
	fi
	grep -q 'must be owner' <<<"$out" || fail "$stmt: expected \"must be owner\", got: $out"
done
sleep 1
[ "$(workers aig_app2)" = "$before" ] || fail "an unprivileged DROP DATABASE touched the workers ($before -> $(workers aig_app2))"
pass "an unprivileged DROP/RENAME DATABASE leaves the workers running"

# a served database copied (CREATE DATABASE ... TEMPLATE) or moved (SET
# TABLESPACE): its workers let go of it; the copy is served from its first call
timeout 30 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
	-c "CREATE DATABASE aig_copy TEMPLATE aig_app2" || fail "CREATE DATABASE ... TEMPLATE aig_app2 failed"
mkdir -p "$base/ts"
[ "$(id -u)" = 0 ] && chown postgres: "$base/ts"
q -d postgres -c "CREATE TABLESPACE aig_ts LOCATION '$base/ts'" >/dev/null
timeout 30 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
	-c "ALTER DATABASE aig_app2 SET TABLESPACE aig_ts" || fail "ALTER DATABASE aig_app2 SET TABLESPACE failed"
out=$(call aig_copy m-copy)
grep -q WARNING <<<"$out" && fail "a WARNING in aig_copy: $out"
[ "$(audited aig_copy)" = "m-app2,m-app2b,m-copy" ] || fail "aig_copy: $(audited aig_copy) $out"
wait_workers aig_copy 3
wait_workers aig_app2 3
q -d postgres -c "DROP DATABASE aig_copy" >/dev/null
pass "CREATE DATABASE ... TEMPLATE and SET TABLESPACE of a served database work; a copy is served from its first call"

# 6. DROP DATABASE succeeds at once; the slot is free for a third database
t0=$(aig_now_ms)
timeout 30 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
	-c "DROP DATABASE aig_app2" || fail "DROP DATABASE aig_app2 failed or hung"
echo "  DROP DATABASE took $(($(aig_now_ms) - t0)) ms"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'aig_app2'")" = 0 ] || fail "aig_app2 still there"
wait_workers aig_app1 3
# max_databases = 3: app1, app3 and app4 fit only if app2's slot was freed
mkdb aig_app3
mkdb aig_app4
wait_workers aig_app3 3
out=$(call aig_app4 m-app4)
grep -q WARNING <<<"$out" && fail "a WARNING in aig_app4: $out"
[ "$(audited aig_app4)" = "m-app4" ] || fail "aig_app4: $(audited aig_app4) $out"
pass "DROP DATABASE of a served database succeeds at once and frees its slot"
# a fourth database finds no free slot: a clear WARNING, calls still answered
q -d postgres -c "CREATE DATABASE aig_app5" >/dev/null
out=$(q -d aig_app5 -v mock="http://127.0.0.1:$MOCK" 2>&1 <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
SELECT ai_complete('hello', 'ollama/m5');
SQL
)
grep -q 'serves at most 3 databases' <<<"$out" || fail "no WARNING when every slot is taken: $out"
grep -q 'mock reply' <<<"$out" || fail "call failed without a slot: $out"
pass "with every slot taken: a WARNING naming ai_gateway.max_databases, calls still answered"
q -d postgres -c "DROP ROLE aig_nobody" >/dev/null
for db in aig_app1 aig_app3 aig_app4 aig_app5; do q -d postgres -c "DROP DATABASE $db" >/dev/null; done
q -d postgres -c "DROP TABLESPACE aig_ts" >/dev/null
