#!/usr/bin/env bash
# pipelines.sh — an enrichment pipeline keeps a table's embedding column and
# summary column current (issue 16, item 1), in a throwaway cluster of its
# own with a mock of its own:
#  1. backfill: the rows there at create time are computed;
#  2. inserts and updates: the new sources are computed, a no-op update and
#     the write-backs queue nothing;
#  3. an upstream outage (the mock stopped): writers go on, nothing fails
#     (the rows stay queued, the pipeline backs off); the mock back on the
#     same port, everything is computed;
#  4. a server restart (fast shutdown) in the middle of a backfill: the rows
#     claimed by the transaction in flight are queued again and computed;
# and at the end, nothing lost or written twice: every row's summary is the
# mock's answer for its current body, every embedding equals ai_embed of the
# row's current source, a history of the target writes (a trigger on the
# summary column) holds no (id, summary) twice, the queue is empty and no
# row failed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
top="${WORK:-$(mktemp -d /tmp/aig_pipelines.XXXXXX)}"
# run alone (no WORK from run_all.sh): the temporary directory goes at exit
trap 'aig_cleanup; [ -n "${WORK:-}" ] || rm -rf "$top"' EXIT

base="$top/pipelines"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
aig_start_mock MOCK
MOCK_PID=${AIG_PIDS[-1]}
PORT=$(aig_free_port)
DIR="$base/cluster"
aig_start_cluster "$DIR" "$PORT" "ai_gateway.batch_concurrency = 16"
q() { aig_psql "$PORT" -d postgres -At "$@"; }
qa() { aig_psql "$PORT" -d postgres -At -U pipe_app "$@"; }

q -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('ollama', 'ollama', :'mock', NULL),
    ('openai', 'openai', :'mock' || '/v1', 'sk-integration-openai-0123456789');
INSERT INTO ai_gateway.routes (name, options) VALUES ('summarize', '{"max_retries": 1}');
INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('summarize', 'ollama', 'sum');
CREATE ROLE pipe_app LOGIN;
GRANT CREATE ON SCHEMA public TO pipe_app;
SELECT ai_gateway.grant_route('summarize', 'pipe_app');
SELECT ai_gateway.grant_provider('openai', 'pipe_app');
SQL

qa >/dev/null <<'SQL'
CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text,
                   embedding real[], summary text);
-- every write of the summary column, to find one written twice
CREATE TABLE summary_writes (id int, summary text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION log_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_writes (id, summary) VALUES (NEW.id, NEW.summary);
    RETURN NULL;
END $$;
CREATE TRIGGER log_summary AFTER UPDATE OF summary ON docs FOR EACH ROW
    WHEN (NEW.summary IS NOT NULL) EXECUTE FUNCTION log_summary();
INSERT INTO docs (id, title, body) SELECT g, 'title ' || g, 'body ' || g FROM generate_series(1, 200) g;
SELECT ai_gateway.create_pipeline('docs_embedding', 'docs', 'title || '': '' || body', 'embedding',
                                  'openai/text-embedding-3-small');
SELECT ai_gateway.create_pipeline('docs_summary', 'docs', 'body', 'summary', 'summarize', 'complete');
SQL

# wait_drained SECONDS: until both pipelines have nothing queued
wait_drained() {
	local left
	for _ in $(seq 1 $(($1 * 10))); do
		left=$(qa -c "SELECT sum(queued) FROM ai_gateway.pipeline_status")
		[ "$left" = 0 ] && return 0
		sleep 0.1
	done
	qa -c "SELECT * FROM ai_gateway.pipeline_status" >&2
	fail "still $left rows queued after $1 s"
}

# check NAME: every row current, nothing failed, nothing written twice
check() {
	local bad
	bad=$(qa -c "SELECT count(*) FROM docs WHERE summary IS DISTINCT FROM
	               CASE WHEN body IS NULL OR body = '' THEN NULL ELSE 'mock reply from ollama sum: ' || body END")
	[ "$bad" = 0 ] || { qa -c "SELECT id, body, summary FROM docs ORDER BY id LIMIT 5" >&2; fail "$1: $bad summaries not current"; }
	bad=$(qa -c "SELECT count(*) FROM docs d WHERE d.embedding IS DISTINCT FROM
	               CASE WHEN d.body IS NULL THEN NULL
	                    ELSE ai_embed(d.title || ': ' || d.body, 'openai/text-embedding-3-small',
	                                      '{\"metadata\": {\"check\": true}}') END")
	[ "$bad" = 0 ] || fail "$1: $bad embeddings not current"
	bad=$(qa -c "SELECT count(*) FROM (SELECT id, summary FROM summary_writes GROUP BY 1, 2 HAVING count(*) > 1) x")
	[ "$bad" = 0 ] || { qa -c "SELECT w.* FROM summary_writes w JOIN (SELECT id, summary FROM summary_writes
	                         GROUP BY 1, 2 HAVING count(*) > 1) x USING (id, summary) ORDER BY id, at" >&2
	                     fail "$1: $bad summaries written twice"; }
	bad=$(qa -c "SELECT sum(failed) FROM ai_gateway.pipeline_status")
	[ "$bad" = 0 ] || { qa -c "SELECT * FROM ai_gateway.pipeline_failures LIMIT 3" >&2; fail "$1: $bad rows failed"; }
}

# 1. backfill
wait_drained 60
check "backfill"
[ "$(qa -c "SELECT count(*) FROM summary_writes")" = 200 ] || fail "backfill: not 200 summary writes"
pass "backfill: 200 rows, both columns computed, each summary written once"

# 2. inserts and updates; a no-op update queues nothing
qa >/dev/null <<'SQL'
INSERT INTO docs (id, title, body) SELECT g, 'title ' || g, 'body ' || g FROM generate_series(201, 250) g;
UPDATE docs SET body = 'revised ' || id WHERE id % 10 = 0;
UPDATE docs SET title = 'retitled ' || id WHERE id % 25 = 1;
UPDATE docs SET body = NULL WHERE id = 3;
SQL
wait_drained 60
check "inserts and updates"
writes=$(qa -c "SELECT count(*) FROM summary_writes")
qa -c "UPDATE docs SET body = body WHERE id <= 100" >/dev/null
[ "$(qa -c "SELECT sum(queued) FROM ai_gateway.pipeline_status")" = 0 ] || fail "a no-op update queued rows"
sleep 1
[ "$(qa -c "SELECT count(*) FROM summary_writes")" = "$writes" ] || fail "a no-op update wrote summaries"
pass "inserts and updates computed; a no-op update queues and writes nothing"

# 3. an upstream outage: the mock stopped; writers go on, nothing fails
kill "$MOCK_PID"
wait "$MOCK_PID" 2>/dev/null || true
t0=$(aig_now_ms)
qa >/dev/null <<'SQL'
INSERT INTO docs (id, title, body) SELECT g, 'title ' || g, 'body ' || g FROM generate_series(251, 300) g;
UPDATE docs SET body = 'during the outage ' || id WHERE id % 20 = 5;
SQL
t1=$(aig_now_ms)
[ $((t1 - t0)) -lt 5000 ] || fail "writers waited $((t1 - t0)) ms during the outage"
sleep 3
state=$(qa -c "SELECT string_agg(state || ':' || queued || ':' || failed, ' ' ORDER BY name) FROM ai_gateway.pipeline_status")
echo "  during the outage: $state"
[ "$(qa -c "SELECT sum(failed) FROM ai_gateway.pipeline_status")" = 0 ] || { qa -c "SELECT * FROM ai_gateway.pipeline_failures LIMIT 2" >&2; fail "rows failed during the outage"; }
[ "$(qa -c "SELECT sum(queued) FROM ai_gateway.pipeline_status")" -gt 0 ] || fail "nothing queued during the outage"
python3 "$AIG_ROOT/test/mock_provider.py" --port "$MOCK" >/dev/null 2>&1 &
AIG_PIDS+=($!)
MOCK_PID=$!
for _ in $(seq 1 100); do
	python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOCK/_mock/stats')" 2>/dev/null && break
	sleep 0.1
done
q -c "UPDATE ai_gateway.pipelines SET retry_at = NULL" >/dev/null    # (not needed; saves the backoff's wait)
wait_drained 90
check "outage"
pass "an upstream outage: writers went on ($((t1 - t0)) ms), nothing failed, all computed once the mock is back"

# 4. a server restart in the middle of a backfill (100 ms per summary)
q -c "UPDATE ai_gateway.route_targets SET model = 'sum+latency=100' WHERE route = 'summarize'" >/dev/null
qa -c "INSERT INTO docs (id, title, body) SELECT g, 'title ' || g, 'body ' || g FROM generate_series(301, 700) g" >/dev/null
sleep 1.5
before=$(qa -c "SELECT sum(queued) FROM ai_gateway.pipeline_status")
"$AIG_ROOT/test/cluster.sh" stop "$DIR" >/dev/null
q -c "UPDATE ai_gateway.route_targets SET model = 'sum' WHERE route = 'summarize'" >/dev/null 2>&1 &&
	fail "the server still answers after the stop"
"$AIG_ROOT/test/cluster.sh" start "$DIR" "$PORT" >/dev/null
for _ in $(seq 1 100); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
after=$(qa -c "SELECT sum(queued) FROM ai_gateway.pipeline_status")
echo "  restart: $before rows queued before the stop, $after after the start"
q -c "UPDATE ai_gateway.route_targets SET model = 'sum' WHERE route = 'summarize'" >/dev/null
# (the summaries of the slow model say "sum+latency=100")
wait_drained 120
qa -c "UPDATE docs SET summary = NULL WHERE false" >/dev/null
bad=$(qa -c "SELECT count(*) FROM docs WHERE id > 300 AND summary IS DISTINCT FROM 'mock reply from ollama sum+latency=100: ' || body
                                                  AND summary IS DISTINCT FROM 'mock reply from ollama sum: ' || body")
[ "$bad" = 0 ] || fail "restart: $bad summaries not computed"
bad=$(qa -c "SELECT count(*) FROM (SELECT id, summary FROM summary_writes GROUP BY 1, 2 HAVING count(*) > 1) x")
[ "$bad" = 0 ] || fail "restart: $bad summaries written twice"
[ "$(qa -c "SELECT sum(failed) FROM ai_gateway.pipeline_status")" = 0 ] || fail "restart: rows failed"
[ "$(qa -c "SELECT count(*) FROM docs WHERE body IS NOT NULL AND embedding IS NULL")" = 0 ] || fail "restart: embeddings missing"
pass "a server restart mid-backfill: all 400 rows computed, none written twice, none failed"

# the audit: every call as pipe_app, naming its pipeline
q -c "SELECT ai_gateway.audit_flush()" >/dev/null
calls=$(q -c "SELECT string_agg(format('%s %s %s', metadata ->> 'pipeline', status, n), ', ' ORDER BY 1)
              FROM (SELECT metadata, status, count(*) n FROM ai_gateway.audit_log WHERE role = 'pipe_app'
                    GROUP BY 1, 2) x")
echo "  audit rows of pipe_app: $calls"
[ "$(q -c "SELECT count(*) FROM ai_gateway.audit_log WHERE role = 'pipe_app' AND NOT (metadata ? 'pipeline' OR metadata ? 'check')")" = 0 ] ||
	fail "pipeline calls audited without the pipeline's name"
ok_sum=$(q -c "SELECT count(*) FROM ai_gateway.audit_log WHERE metadata ->> 'pipeline' = 'docs_summary' AND status = 'ok'")
writes=$(qa -c "SELECT count(*) FROM summary_writes")
echo "  docs_summary: $ok_sum successful calls, $writes summary writes"
[ "$ok_sum" -ge "$writes" ] || fail "fewer successful calls than writes"
pass "audited as the pipeline's owner with metadata {\"pipeline\": name}"
