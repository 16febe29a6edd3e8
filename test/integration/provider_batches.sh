#!/usr/bin/env bash
# provider_batches.sh — the Batch API mode (issue 16, item 2) across crashes,
# in a throwaway cluster of its own with a mock of its own:
#  1. a job set of 60 batch jobs (OpenAI's Batch API and Anthropic's Message
#     Batches) completes at half the live price, one provider batch per
#     provider, one audit row per job;
#  2. an immediate shutdown (a crash) while the batches run at the provider:
#     after the restart the worker polls the same batches (none submitted
#     again), every job succeeds once, one audit row each;
#  3. a pipeline in the Batch API mode across a fast-shutdown restart: every
#     row computed from its current source, none written twice, none failed;
#  4. the provider down while a batch is polled: polls fail, the jobs wait,
#     and a batch the provider lost (a 404 once it is back) runs again in a
#     new batch.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
top="${WORK:-$(mktemp -d /tmp/aig_pbatch.XXXXXX)}"
trap 'aig_cleanup; [ -n "${WORK:-}" ] || rm -rf "$top"' EXIT

base="$top/provider_batches"
rm -rf "$base"
mkdir -p "$base"
chmod 755 "$base" "$(dirname "$base")"
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
aig_start_mock MOCK
MOCK_PID=${AIG_PIDS[-1]}
PORT=$(aig_free_port)
DIR="$base/cluster"
aig_start_cluster "$DIR" "$PORT" "ai_gateway.batch_poll_interval = 300" "ai_gateway.quota_persist_ms = 300"
q() { aig_psql "$PORT" -d postgres -At "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "  ok: $*"; }
wait_up() { for _ in $(seq 1 150); do q -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
# wait_jobs SECONDS: until no job is queued or running
wait_jobs() {
	for _ in $(seq 1 $(($1 * 5))); do
		[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE status IN ('queued', 'running')")" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

q -v mock="http://127.0.0.1:$MOCK" >/dev/null <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('openai', 'openai', :'mock' || '/v1', 'sk-integration-openai-0123456789'),
    ('anthropic', 'anthropic', :'mock', 'sk-ant-integration-0123456789');
INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok) VALUES
    ('openai', 'bm+batch_polls=10', 1000, 2000), ('anthropic', 'bm+batch_polls=10', 1000, 2000),
    ('openai', 'bm', 1000, 2000);
SQL

# 1 and 2: a job set, an immediate shutdown while its batches run
q >/dev/null <<'SQL'
BEGIN;
SELECT ai_complete_async('job ' || g, CASE WHEN g % 2 = 0 THEN 'openai' ELSE 'anthropic' END || '/bm+batch_polls=10',
                         NULL, jsonb_build_object('batch', true, 'metadata', jsonb_build_object('n', g)))
  FROM generate_series(1, 60) g;
COMMIT;
SQL
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT count(*) FROM ai_gateway.provider_batches WHERE status = 'submitted'")" = 2 ] && break
	sleep 0.1
done
[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE provider_batch IS NOT NULL AND status = 'running'")" = 60 ] ||
	fail "60 jobs were not in submitted batches: $(q -c "SELECT status, provider_batch, count(*) FROM ai_gateway.jobs GROUP BY 1, 2")"
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null
wait_up || fail "server did not come back"
wait_jobs 60 || fail "jobs did not finish after the restart: $(q -c "SELECT status, count(*) FROM ai_gateway.jobs GROUP BY 1")"
res=$(q -c "SELECT count(*) FILTER (WHERE status = 'succeeded'), max(attempts), count(DISTINCT provider_batch) FROM ai_gateway.jobs")
[ "$res" = "60|1|0" ] || fail "after the crash: succeeded|max attempts|batches left = $res"
res=$(q -c "SELECT count(*), string_agg(DISTINCT status, ','), sum(items) FROM ai_gateway.provider_batches")
[ "$res" = "2|ended|60" ] || fail "provider batches: $res"
created=$(aig_mock_stats "$MOCK" "s.get('batches_created')")
[ "$created" = 2 ] || fail "the mock created $created batches (resubmitted after the crash?)"
pass "an immediate shutdown while 2 provider batches ran: after the restart the same 2 were polled, 60 jobs succeeded once"
q -c "SELECT ai_gateway.audit_flush()" >/dev/null
res=$(q -c "SELECT count(*), count(DISTINCT metadata->>'n'), bool_and(metadata ? 'provider_batch'),
                   bool_and(status = 'ok')
              FROM ai_gateway.audit_log WHERE metadata ? 'n'")
[ "$res" = "60|60|t|t" ] || fail "audit rows (count, distinct jobs, tagged, ok): $res"
# half the live price, job by job
live=$(q -c "SELECT (ai_chat('[{\"role\": \"user\", \"content\": \"job 2\"}]', 'openai/bm+batch_polls=10'))->>'cost_usd'")
batch=$(q -c "SELECT result->>'cost_usd' FROM ai_gateway.jobs WHERE request->>'prompt' = 'job 2'")
[ "$(q -c "SELECT $batch * 2 = $live")" = t ] || fail "batch price $batch, live price $live"
pass "one audit row per job, at half the live price ($batch vs $live USD)"

# 3. a pipeline in the Batch API mode across a restart
q >/dev/null <<'SQL'
CREATE TABLE docs (id int PRIMARY KEY, body text, summary text);
CREATE TABLE summary_writes (id int, summary text);
CREATE FUNCTION log_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_writes VALUES (NEW.id, NEW.summary);
    RETURN NULL;
END $$;
CREATE TRIGGER log_summary AFTER UPDATE OF summary ON docs FOR EACH ROW
    WHEN (NEW.summary IS NOT NULL) EXECUTE FUNCTION log_summary();
INSERT INTO docs (id, body) SELECT g, 'body ' || g FROM generate_series(1, 200) g;
SELECT ai_gateway.create_pipeline('sum', 'docs', 'body', 'summary', 'openai/echo+batch_polls=6', 'complete',
                                  '{"batch": true}');
SQL
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT in_batch > 0 FROM ai_gateway.pipeline_status")" = t ] && break
	sleep 0.1
done
q -c "UPDATE docs SET body = 'changed ' || id WHERE id <= 20" >/dev/null
"$AIG_ROOT/test/cluster.sh" stop "$DIR" >/dev/null
"$AIG_ROOT/test/cluster.sh" start "$DIR" "$PORT" >/dev/null
wait_up || fail "server did not come back"
for _ in $(seq 1 300); do
	[ "$(q -c "SELECT queued = 0 AND in_batch = 0 AND done >= 200 FROM ai_gateway.pipeline_status")" = t ] && break
	sleep 0.2
done
res=$(q -c "SELECT queued, in_batch, done, failed FROM ai_gateway.pipeline_status")
bad=$(q -c "SELECT count(*) FROM docs WHERE summary IS NULL
               OR (summary::jsonb -> 'body' -> 'messages' -> -1 ->> 'content') IS DISTINCT FROM body")
[ "$bad" = 0 ] || fail "pipeline: $bad rows not computed from their current body (status $res; $(q -c "SELECT sqlstate, error FROM ai_gateway.pipeline_failures LIMIT 1"))"
twice=$(q -c "SELECT count(*) FROM (SELECT id, summary FROM summary_writes GROUP BY 1, 2 HAVING count(*) > 1) x")
[ "$twice" = 0 ] || fail "pipeline: $twice summaries written twice"
[ "$(q -c "SELECT failed FROM ai_gateway.pipeline_status")" = 0 ] || fail "pipeline: rows failed ($res)"
pass "a batch-mode pipeline across a restart, 20 rows changed mid-batch: 200 rows from their current body, none twice ($res)"

# 4. the provider down while a batch is polled
q -c "SELECT ai_complete_async('while down', 'openai/bm+batch_polls=3', NULL, '{\"batch\": true}')" >/dev/null
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE request->>'prompt' = 'while down' AND provider_batch IS NOT NULL")" = 1 ] && break
	sleep 0.1
done
kill "$MOCK_PID"
wait "$MOCK_PID" 2>/dev/null || true
sleep 2
res=$(q -c "SELECT j.status, b.status, b.error IS NOT NULL FROM ai_gateway.jobs j JOIN ai_gateway.provider_batches b ON b.id = j.provider_batch
             WHERE j.request->>'prompt' = 'while down'")
[ "$res" = "running|submitted|t" ] || fail "with the provider down: job|batch|poll error = $res"
# the mock back on the same port: it has forgotten the batch, so the poll gets 404
python3 "$AIG_ROOT/test/mock_provider.py" --port "$MOCK" >/dev/null 2>&1 &
AIG_PIDS+=($!)
wait_jobs 30 || fail "the job did not end once the provider was back"
res=$(q -c "SELECT status, attempts FROM ai_gateway.jobs WHERE request->>'prompt' = 'while down'")
[ "$res" = "succeeded|2" ] || fail "a batch the provider no longer knows (404): job status|attempts = $res"
res=$(q -c "SELECT status, error FROM ai_gateway.provider_batches WHERE id = (SELECT min(id) FROM ai_gateway.provider_batches
                                                                          WHERE model = 'bm+batch_polls=3')")
case "$res" in
failed*404*) ;;
*) fail "the lost batch: $res" ;;
esac
pass "the provider down: polls failed and were retried, the job waited; the batch it lost (404) failed and the job ran again in a new one"
