#!/usr/bin/env bash
# test/bench/bench_provider_batch.sh — the Batch API mode (issue 16 item 2):
# what N async jobs cost, and how many HTTP requests they take, through the
# provider's Batch API (options.batch) against the same N jobs run live.
#
#   test/bench/bench_provider_batch.sh
#   BENCH_PBATCH_N=5000 test/bench/bench_provider_batch.sh
#
# N jobs to openai/<priced model> are queued in one transaction, once live
# and once with {"batch": true} (the mock ends a batch on its 2nd poll;
# ai_gateway.batch_poll_interval = 200 ms here).  RESULT lines: the summed
# cost of the batch jobs against the live ones (target 0.5: both providers
# bill a batch at half price), and the requests the provider got (the
# mock's count: upload, create, polls, results) against one per live job.
# The wall time to the last result is printed (a batch waits for its polls:
# it is the mode for work that can wait).
set -euo pipefail
BENCH_NAME=bench_provider_batch
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N=${BENCH_PBATCH_N:-1000}
bench_check_int BENCH_PBATCH_N "$N" 1 50000

bench_require_extension
aig_start_mock MOCK_PORT || bench_die "mock provider did not start"
bench_start_cluster "ai_gateway.database = 'bench'" "ai_gateway.batch_poll_interval = 200" \
	"ai_gateway.batch_max_items = 50000"
aig_make_db "$PG_PORT" bench "$MOCK_PORT" >/dev/null 2>&1 || bench_die "could not create the database"
q() { aig_psql "$PG_PORT" -d bench -At -c "$1"; }
q "INSERT INTO ai_gateway.models (provider, model, input_usd_per_mtok, output_usd_per_mtok)
   VALUES ('openai', 'priced', 0.15, 0.6)" >/dev/null

# run_jobs OPTIONS: N jobs queued in one transaction; "cost|ms|requests" once all finished
run_jobs() {
	local opts=$1 t0 t1 done_ok first
	aig_mock_reset "$MOCK_PORT"
	first=$(q "SELECT coalesce(max(id), 0) + 1 FROM ai_gateway.jobs")
	t0=$(aig_now_ms)
	q "SELECT count(ai_complete_async('document ' || g || ': summarize it', 'openai/priced', NULL, '$opts'))
	   FROM generate_series(1, $N) g" >/dev/null
	for _ in $(seq 1 1200); do
		[ "$(q "SELECT count(*) FROM ai_gateway.jobs WHERE id >= $first AND status IN ('queued', 'running')")" = 0 ] && break
		sleep 0.1
	done
	t1=$(aig_now_ms)
	done_ok=$(q "SELECT count(*) FROM ai_gateway.jobs WHERE id >= $first AND status = 'succeeded'")
	[ "$done_ok" = "$N" ] || bench_die "$done_ok of $N jobs succeeded ($opts)"
	echo "$(q "SELECT sum((result->>'cost_usd')::numeric) FROM ai_gateway.jobs WHERE id >= $first")|$((t1 - t0))|$(aig_mock_stats "$MOCK_PORT" "s['requests']")"
}

echo "$N async jobs to openai, live and through the Batch API"
IFS='|' read -r live_cost live_ms live_req <<<"$(run_jobs '{}')"
IFS='|' read -r batch_cost batch_ms batch_req <<<"$(run_jobs '{"batch": true}')"
printf '  live:  %s USD, %5d provider requests, last result after %6d ms\n' "$live_cost" "$live_req" "$live_ms"
printf '  batch: %s USD, %5d provider requests, last result after %6d ms\n' "$batch_cost" "$batch_req" "$batch_ms"
bench_result "provider batch: cost of $N jobs" "$batch_cost USD" "$live_cost USD live" \
	"$(bench_calc "%.4g" "a / b" a="$batch_cost" b="$live_cost")" "<= 0.5"
bench_result "provider batch: provider requests for $N jobs" "$batch_req requests" "$live_req requests live" \
	"$(bench_calc "%.4g" "a / b" a="$batch_req" b="$live_req")" "reported"
