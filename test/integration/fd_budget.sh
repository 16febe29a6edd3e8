#!/usr/bin/env bash
# fd_budget.sh — a batch asking for concurrency 1024 (ai_complete_batch, and
# ai_embed over an array cut into 400 chunks) stays within PostgreSQL's
# budget of external file descriptors (max_safe_fds / 3, at most
# max_files_per_process / 3): the backend's open sockets, sampled from
# /proc/<pid>/fd while the batch runs and after it, never exceed it; every
# item succeeds, the idle connections are not all kept afterwards, and the
# server never logs "out of file descriptors" (issue 13, "also seen").
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
trap 'q -c "DELETE FROM ai_gateway.providers WHERE name = '"'"'fd_emb'"'"'" >/dev/null 2>&1 || true' EXIT

maxfiles=$(q -c "SHOW max_files_per_process")
budget=$((maxfiles / 3))
log_before=$(wc -c <"$AIG_SERVER_LOG")
out="$WORK/fd_budget.out"

# peak_sockets APP SQL...: runs the statements in a session named APP in the
# background, samples its backend's sockets until it ends; sets PEAK, and
# leaves the session's output in $out
peak_sockets() {
	local app=$1 bg pid="" n
	shift
	PGAPPNAME=$app aig_psql "$PGPORT" -d "$DB" -At -c "SET ai_gateway.batch_concurrency = 1024" "$@" >"$out" 2>&1 &
	bg=$!
	for _ in $(seq 1 100); do
		pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
		[ -n "$pid" ] && break
		sleep 0.05
	done
	[ -n "$pid" ] || { wait "$bg" || true; cat "$out"; fail "the batch's backend was not found"; }
	PEAK=0
	while kill -0 "$bg" 2>/dev/null; do
		n=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c 'socket:' || true)
		[ "$n" -gt "$PEAK" ] && PEAK=$n
		sleep 0.05
	done
	wait "$bg" || { cat "$out"; fail "the batch failed"; }
}

# 1. ai_complete_batch: 400 items, 300 ms each, concurrency 1024 asked for
peak_sockets aig_fd_budget \
	-c "SELECT count(*) FILTER (WHERE completion IS NOT NULL), count(*) FILTER (WHERE error IS NOT NULL)
	    FROM ai_complete_batch(array(SELECT 'fd ' || g FROM generate_series(1, 400) g),
	                           'ollama/fd-budget+latency=300', NULL, '{\"concurrency\": 1024}')" \
	-c "SELECT pg_sleep(1)"
[ "$(head -1 "$out")" = "400|0" ] || { cat "$out"; fail "not every item of the batch succeeded"; }
echo "  ai_complete_batch: peak sockets of the backend $PEAK (budget $budget)"
[ "$PEAK" -le "$budget" ] || fail "the backend held $PEAK sockets, over the external FD budget of $budget"
[ "$PEAK" -ge 20 ] || fail "only $PEAK sockets at once: the batch did not run concurrently"
pass "ai_complete_batch with concurrency 1024 keeps its sockets within the FD budget ($PEAK <= $budget)"

# 2. ai_embed over an array: one input per request, 400 chunks sent concurrently
q -c "INSERT INTO ai_gateway.providers (name, kind, base_url, options)
      VALUES ('fd_emb', 'ollama', 'http://127.0.0.1:$MOCK_PORT', '{\"max_embed_batch\": 1}')" >/dev/null
peak_sockets aig_fd_embed \
	-c "SELECT count(*) FROM ai_embed(array(SELECT 'fd ' || g FROM generate_series(1, 400) g),
	                                  'fd_emb/fd-embed+latency=300')" \
	-c "SELECT pg_sleep(1)"
[ "$(head -1 "$out")" = "400" ] || { cat "$out"; fail "not every input of the embeddings call got a vector"; }
echo "  ai_embed: peak sockets of the backend $PEAK (budget $budget)"
[ "$PEAK" -le "$budget" ] || fail "the backend held $PEAK sockets, over the external FD budget of $budget"
[ "$PEAK" -ge 20 ] || fail "only $PEAK sockets at once: the chunks were not sent concurrently"
pass "ai_embed of 400 chunks with concurrency 1024 keeps its sockets within the FD budget ($PEAK <= $budget)"

# 3. after the batch, in the same session: its idle connections are not all kept
PGAPPNAME=aig_fd_idle aig_psql "$PGPORT" -d "$DB" -At \
	-c "SELECT count(*) FROM ai_complete_batch(array(SELECT 'idle ' || g FROM generate_series(1, 200) g),
	                           'ollama/fd-idle+latency=200', NULL, '{\"concurrency\": 1024}')" \
	-c "SELECT pg_sleep(5)" >"$out" 2>&1 &
bg=$!
pid=""
for _ in $(seq 1 200); do
	pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'aig_fd_idle'
	            AND state = 'active' AND query LIKE 'SELECT pg_sleep%'")
	[ -n "$pid" ] && break
	sleep 0.05
done
[ -n "$pid" ] || { kill "$bg" 2>/dev/null; wait "$bg" || true; cat "$out"; fail "the second batch did not end"; }
kept=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c 'socket:' || true)
q -c "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$bg" || true
[ "$kept" -le 40 ] || fail "$kept sockets stay open after the batch"
pass "after the batch at most a few idle connections stay open ($kept)"

if tail -c +"$((log_before + 1))" "$AIG_SERVER_LOG" | grep -q "out of file descriptors"; then
	fail "the server log says \"out of file descriptors\""
fi
pass "no \"out of file descriptors\" in the server log"
