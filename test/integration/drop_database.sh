#!/usr/bin/env bash
# drop_database.sh — DROP DATABASE frees the dropped database's entries in the shared
# target state (breakers, latency, route counters), statistics and quota usage and
# rate buckets (here: targets, the most numerous).  Those entries are
# keyed by database and were never freed, so every database ever dropped kept its share
# and new entries came out of the server's spare shared memory (the lock table's room
# to grow) until none was left.  The tables are now capped at their size
# (ai_gateway.max_targets), so two rounds of create database / 0.6 x
# max_targets targets / drop only fit if the second round reuses what the
# first one freed; and the anonymous shared memory (pg_shmem_allocations)
# must not grow.  And a role that may not drop or rename the workers'
# database leaves them running (the statement fails with "must be owner").
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_dropdb
max=$(aig_psql "$PGPORT" -d postgres -At -c "SHOW ai_gateway.max_targets")
N=$((max * 6 / 10))	# two rounds: more than the table holds

anon() {
	aig_psql "$PGPORT" -d postgres -At -c \
		"SELECT coalesce(sum(allocated_size), 0) FROM pg_shmem_allocations WHERE name = '<anonymous>'"
}

round() {
	aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
	aig_psql "$PGPORT" -d "$DB" -At -v n="$N" 2>/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('nowhere', 'ollama', 'http://127.0.0.1:1');
SET client_min_messages = error;
DO $$
BEGIN
    FOR g IN 1..current_setting('aig.n')::int LOOP
        BEGIN
            PERFORM ai_complete('x', 'nowhere/t' || g, NULL, '{"max_retries": 0}');
        EXCEPTION WHEN SQLSTATE 'UP001' THEN NULL;  -- provider unreachable
        END;
    END LOOP;
END $$;
SQL
	targets=$(aig_psql "$PGPORT" -d "$DB" -At -c "SELECT count(*) FROM ai_gateway.health()" 2>/dev/null)
	[ "$targets" = "$N" ] || fail "expected $N targets in ai_gateway.health(), saw $targets"
	aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
}

export PGOPTIONS="-c aig.n=$N -c client_min_messages=warning"
round
a1=$(anon)
round
a2=$(anon)
echo "  anonymous shared memory after round 1: $a1 bytes, after round 2: $a2 bytes"
[ "$a2" = "$a1" ] || fail "shared memory grew by $((a2 - a1)) bytes: the dropped database's entries were not reused"
pass "a dropped database's shared entries are freed and reused"

# A role that may not drop (or rename) the workers' database gets the
# server's "must be owner" and leaves the workers alone: the extension acts
# on DROP/RENAME DATABASE only for a caller whose statement will pass.
wdb=$(aig_psql "$PGPORT" -d postgres -At -c "SHOW ai_gateway.database")
workers() {
	aig_psql "$PGPORT" -d postgres -At -c \
		"SELECT count(*) || ':' || coalesce(string_agg(pid::text, ',' ORDER BY pid), '')
		 FROM pg_stat_activity WHERE backend_type LIKE 'ai_gateway%' AND datname = '$wdb'"
}
for _ in $(seq 1 100); do
	case "$(workers)" in 3:*) break ;; esac
	sleep 0.1
done
before=$(workers)
case "$before" in 3:*) ;; *) fail "expected the 3 workers in $wdb, saw $before" ;; esac
aig_psql "$PGPORT" -d postgres -c "DROP ROLE IF EXISTS aig_nobody" -c "CREATE ROLE aig_nobody LOGIN" >/dev/null 2>&1
for stmt in "DROP DATABASE $wdb" "ALTER DATABASE $wdb RENAME TO aig_stolen"; do
	if out=$(PGOPTIONS= aig_psql "$PGPORT" -d postgres -U aig_nobody -c "$stmt" 2>&1); then
		fail "$stmt as an unprivileged role succeeded"
	fi
	grep -q 'must be owner' <<<"$out" || fail "$stmt: expected \"must be owner\", got: $out"
done
after=$(workers)
aig_psql "$PGPORT" -d postgres -c "DROP ROLE aig_nobody" >/dev/null
[ "$after" = "$before" ] || fail "an unprivileged DROP/RENAME DATABASE restarted the workers ($before -> $after)"
pass "an unprivileged DROP/RENAME DATABASE of the workers' database leaves the workers running"
