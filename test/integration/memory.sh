#!/usr/bin/env bash
# memory.sh — one backend's private memory (RssAnon) stays flat over many
# calls, successes and every kind of error path mixed, so nothing from
# libcurl or palloc outlives a call.  Prints the figures.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_memory
ROUNDS=${AIG_MEMORY_ROUNDS:-4}
PER=${AIG_MEMORY_PER:-2500}
aig_make_db "$PGPORT" "$DB" "$MOCK_PORT"

fifo_dir=$(mktemp -d)
mkfifo "$fifo_dir/in"
aig_psql "$PGPORT" -d "$DB" -At <"$fifo_dir/in" >"$fifo_dir/out" 2>&1 &
psql_pid=$!
exec 3>"$fifo_dir/in"
send() { printf '%s\n' "$@" >&3; }
send "SET ai_gateway.max_response_bytes = 65536;"
send "SELECT 'pid=' || pg_backend_pid();"
send "CREATE FUNCTION churn(n int) RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE i int; ok int := 0; faults text[] := array['status=500','malformed','truncated','empty','html','null_content','wrong_shape','status=401','oversized=100000'];
BEGIN
  FOR i IN 1..n LOOP
    PERFORM ai_complete('hello ' || i, 'openai/gpt');
    PERFORM ai_chat('[{\"role\":\"user\",\"content\":\"x\"}]', (array['anthropic','cohere','gemini','ollama','azure'])[1 + i % 5] || '/m');
    IF i % 10 = 0 THEN PERFORM ai_embed(array['a','b','c'], 'gemini/e'); END IF;
    BEGIN
      PERFORM ai_complete('x', 'openai/m+' || faults[1 + i % array_length(faults, 1)]);
    EXCEPTION WHEN OTHERS THEN ok := ok + 1;
    END;
  END LOOP;
  RETURN ok;
END \$\$;"
for _ in $(seq 1 100); do grep -q '^pid=' "$fifo_dir/out" && break; sleep 0.05; done
bpid=$(sed -n 's/^pid=//p' "$fifo_dir/out")
[ -n "$bpid" ] || fail "no backend pid"

rss() { awk '/^RssAnon:/ {print $2}' "/proc/$bpid/status"; }
mark() { send "SELECT 'done=$1';"; for _ in $(seq 1 3000); do grep -q "^done=$1\$" "$fifo_dir/out" && return; sleep 0.1; done; fail "round $1 did not finish"; }

send "SELECT churn($PER);"   # warm-up: caches, connection, allocator high-water
mark 0
base=$(rss)
sizes=("$base")
for r in $(seq 1 "$ROUNDS"); do
	send "SELECT churn($PER);"
	mark "$r"
	sizes+=("$(rss)")
done
exec 3>&-
wait "$psql_pid" || true
if grep -q ERROR "$fifo_dir/out"; then cat "$fifo_dir/out"; fail "errors in the churn loop"; fi
last=${sizes[-1]}
growth=$((last - base))
calls=$((ROUNDS * PER * 3))
echo "  RssAnon after warm-up ${base} kB; after each round of $PER iterations: ${sizes[*]:1} kB"
echo "  growth over $calls calls (one third of them errors): ${growth} kB"
[ "$growth" -lt 2048 ] || fail "backend memory grew by ${growth} kB"
pass "backend memory flat over $calls calls"
rm -rf "$fifo_dir"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null
