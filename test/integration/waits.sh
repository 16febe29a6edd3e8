#!/usr/bin/env bash
# waits.sh — a backend waiting for a provider behaves like one (issue 14,
# item 5):
#  1. during a slow call pg_stat_activity shows wait_event_type 'Extension'
#     (wait_event 'Extension' on 15/16, 'AiGatewayProvider' on 17+) for it,
#     and while it waits 2 s it sleeps: almost no CPU (utime+stime from
#     /proc/PID/stat) and almost no wake-ups (voluntary context switches
#     from /proc/PID/status; a 10 ms poll makes ~200);
#  2. ai_gateway.progress shows the call (kind, provider, in flight), and a
#     batch's items_done advancing towards items_total;
#  3. the postmaster killed with SIGKILL during a call: the backend and the
#     workers exit by themselves within a bound (no orphans), in a
#     throwaway cluster of its own.
# Env: PGPORT, MOCK_PORT (from test/run_all.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT
DB=aig_waits
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT" 2>/dev/null
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
out=$(mktemp)

# wait_pid APPNAME: the pid of the session of that application_name once active
wait_pid() {
	local p=""
	for _ in $(seq 1 200); do
		p=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active' AND query LIKE '%ai_%'")
		[ -n "$p" ] && break
		sleep 0.05
	done
	echo "$p"
}
# cpu_ticks PID: utime + stime in clock ticks; wakeups PID: voluntary context switches
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wakeups() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"; }

# 1. the wait event, and a sleeping backend
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'aig_wait_me'" \
	-c "SELECT ai_complete('slow', 'openai/m+latency=4000')" >"$out" 2>&1 || true ) &
bg=$!
pid=$(wait_pid aig_wait_me)
[ -n "$pid" ] || fail "the slow call never showed up in pg_stat_activity"
sleep 0.5
ev=$(q -c "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE pid = $pid")
echo "  during the call: wait_event_type/wait_event = ${ev:-<none>}"
case "$ev" in
Extension/Extension | Extension/AiGatewayProvider) ;;
*) fail "no Extension wait event while waiting for the provider (got '${ev}')" ;;
esac
pass "pg_stat_activity shows the backend waiting (wait_event_type 'Extension')"

row=$(q -c "SELECT kind, provider, in_flight, items_total FROM ai_gateway.progress WHERE pid = $pid")
[ "$row" = "call|openai|1|1" ] || fail "ai_gateway.progress during the call: '$row'"
pass "ai_gateway.progress shows the call (kind call, provider openai, 1 in flight)"
# another role sees only its own calls; pg_read_all_stats sees every one
q >/dev/null <<'SQL'
DROP ROLE IF EXISTS aig_waits_other;
DROP ROLE IF EXISTS aig_waits_stats;
CREATE ROLE aig_waits_other;
CREATE ROLE aig_waits_stats IN ROLE pg_read_all_stats;
SQL
seen_other=$(q -c "SET ROLE aig_waits_other" -c "SELECT count(*) FROM ai_gateway.progress WHERE pid = $pid")
seen_stats=$(q -c "SET ROLE aig_waits_stats" -c "SELECT count(*) FROM ai_gateway.progress WHERE pid = $pid")
q -c "DROP ROLE aig_waits_other" -c "DROP ROLE aig_waits_stats" >/dev/null
[ "$seen_other" = 0 ] || fail "an unprivileged role saw another role's call in ai_gateway.progress"
[ "$seen_stats" = 1 ] || fail "a pg_read_all_stats member did not see the call ($seen_stats rows)"
pass "ai_gateway.progress hides other roles' calls, except from pg_read_all_stats"

hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$pid")
w0=$(wakeups "$pid")
sleep 2
c1=$(cpu_ticks "$pid")
w1=$(wakeups "$pid")
cpu_ms=$(((c1 - c0) * 1000 / hz))
echo "  2 s of waiting: ${cpu_ms} ms CPU, $((w1 - w0)) wake-ups"
[ "$cpu_ms" -lt 300 ] || fail "the waiting backend used ${cpu_ms} ms of CPU in 2 s"
[ $((w1 - w0)) -lt 30 ] || fail "the waiting backend woke $((w1 - w0)) times in 2 s (polling?)"
pass "a waiting backend sleeps (little CPU, no polling)"
wait "$bg"
grep -q "mock reply from openai m+latency=4000: slow\|mock reply from openai m: slow" "$out" ||
	{ cat "$out"; fail "the slow call did not answer"; }
pass "the slow call answers after its wait"
[ -z "$(q -c "SELECT pid FROM ai_gateway.progress WHERE pid = $pid")" ] || fail "progress row left after the call"
pass "the progress row goes away when the call ends"

# 2. a batch's progress advances (20 prompts of 300 ms, 2 at a time: ~3 s)
( aig_psql "$PGPORT" -d "$DB" -c "SET application_name = 'aig_wait_batch'" \
	-c "SELECT count(completion) FROM ai_complete_batch(array(SELECT 'p' || g FROM generate_series(1, 20) g), 'openai/m+latency=300', NULL, '{\"concurrency\": 2}')" >"$out" 2>&1 || true ) &
bg=$!
pid=$(wait_pid aig_wait_batch)
[ -n "$pid" ] || fail "the batch never showed up"
seen=""
for _ in $(seq 1 40); do
	r=$(q -c "SELECT kind || ' ' || items_total || ' ' || items_done || ' ' || items_failed || ' ' || in_flight || ' ' || coalesce(provider, '-') FROM ai_gateway.progress WHERE pid = $pid")
	[ -n "$r" ] && seen="$seen$r"$'\n'
	sleep 0.15
done
wait "$bg"
[ "$(tr -d ' ' <"$out" | grep -c '^20$')" = 1 ] || { cat "$out"; fail "the batch did not answer 20 rows"; }
echo "$seen" | sort -u -k3n | sed -n '1p;$p' | sed 's/^/  progress: /'
python3 - "$seen" <<'PY' || fail "the batch's progress did not advance as expected"
import sys
rows = [l.split() for l in sys.argv[1].splitlines() if l.strip()]
assert rows, "no progress row seen"
assert all(r[0] == "batch" and r[1] == "20" and r[3] == "0" and r[5] == "openai" for r in rows), rows
assert all(0 <= int(r[4]) <= 2 for r in rows), rows
done = [int(r[2]) for r in rows]
assert done == sorted(done), done
assert len({d for d in done if 0 < d < 20}) >= 3, done
PY
pass "ai_gateway.progress shows a batch's items_done advancing (2 in flight at most)"

# 3. the postmaster dies (SIGKILL) during a call: nothing is left behind
cport=$(aig_free_port)
cdir="${WORK:-$(mktemp -d /tmp/aig_waits.XXXXXX)}/waits_pm"
rm -rf "$cdir"
mkdir -p "$cdir"
chmod 755 "$cdir" "$(dirname "$cdir")"
aig_start_cluster "$cdir" "$cport"
aig_psql "$cport" -d postgres -v mock="http://127.0.0.1:$MOCK_PORT" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', :'mock');
SQL
( aig_psql "$cport" -d postgres -c "SET application_name = 'aig_orphan'" \
	-c "SELECT ai_complete('x', 'ollama/m+hang')" >/dev/null 2>&1 || true ) &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(aig_psql "$cport" -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'aig_orphan' AND wait_event_type = 'Extension'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || fail "the hanging call never waited"
pm=$(head -1 "$cdir/data/postmaster.pid")
shmkey=$(sed -n 7p "$cdir/data/postmaster.pid" | awk '{ print $1 }')
kids=$(pgrep -P "$pm" | tr '\n' ' ')
echo "  postmaster $pm, children: $kids(the call: $pid)"
kill -KILL "$pm"
left=""
for _ in $(seq 1 100); do
	left=""
	for k in $kids; do
		[ -d "/proc/$k" ] && [ "$(awk '{ print $3 }' "/proc/$k/stat" 2>/dev/null)" != Z ] && left="$left $k"
	done
	[ -z "$left" ] && break
	sleep 0.1
done
wait "$bg" || true
[ -z "$left" ] || { ps -o pid,stat,cmd -p ${left// /,} || true; kill -KILL $left 2>/dev/null || true; fail "processes left after the postmaster died:$left"; }
pass "after the postmaster's SIGKILL the calling backend and every other child exit by themselves"
# the dead cluster's System V segment (no process attached any more)
[ -n "$shmkey" ] && ipcrm -M "$shmkey" 2>/dev/null || true
rm -f "$cdir/data/postmaster.pid"
AIG_CLUSTERS=()
rm -rf "$cdir"

rm -f "$out"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
