#!/usr/bin/env bash
# test/bench/bench_audit.sh — the audit writer at peak call rate: does it
# keep up, how far do the rows trail, what does it cost in throughput.
#
#   test/bench/bench_audit.sh
#   BENCH_AUDIT_SESSIONS=4 BENCH_AUDIT_CALLS=5000 BENCH_AUDIT_ROUNDS=5 test/bench/bench_audit.sh
#
# SESSIONS psql sessions each make CALLS ai_complete() calls as fast as they
# can (one statement, bench_calls) against the canned-body nginx of
# bench_overhead.sh, all released at once (they wait on an advisory lock
# after a warm-up).  Each round does this twice, the order alternating from
# round to round: in database postgres (= ai_gateway.database: every call queues an
# audit record, the "ai_gateway worker" writes them in batches every
# ai_gateway.audit_flush_ms) and in database bench_na (not audited).
# Measured:
#   - calls per second over all sessions (first start to last return),
#     audit on vs off: what the audit log costs the server at peak
#     (target >= 0.85; on 2 cores the writer competes with the callers);
#   - lag: from the last call's return until all of the round's audit rows
#     are visible — the commit time of the last batch that wrote them
#     (track_commit_timestamp) minus the last return; compared with the
#     flush interval (a setting, not a measurement): target <= 2 flush
#     intervals.  Also the median and max per-row lag (commit time - the
#     row's ts);
#   - the deepest the shared-memory queue got (audit_stats().queued_bytes
#     and enqueued - written, sampled every ~10 ms) against its size
#     (target <= 0.50), and records dropped (target 0).
# Medians over the rounds are reported.
#
# Environment: BENCH_AUDIT_SESSIONS (4), BENCH_AUDIT_CALLS (5000 per session
# and round), BENCH_AUDIT_ROUNDS (5), BENCH_AUDIT_FLUSH_MS (100).
set -euo pipefail
BENCH_NAME=bench_audit
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SESSIONS=${BENCH_AUDIT_SESSIONS:-4}
CALLS=${BENCH_AUDIT_CALLS:-5000}
ROUNDS=${BENCH_AUDIT_ROUNDS:-5}
FLUSH_MS=${BENCH_AUDIT_FLUSH_MS:-100}
bench_check_int BENCH_AUDIT_SESSIONS "$SESSIONS" 1 40
bench_check_int BENCH_AUDIT_CALLS "$CALLS" 1 1000000
bench_check_int BENCH_AUDIT_ROUNDS "$ROUNDS" 1 51
bench_check_int BENCH_AUDIT_FLUSH_MS "$FLUSH_MS" 1 60000
LOCK=4242

bench_require_extension
bench_start_nginx
bench_start_cluster "ai_gateway.database = 'postgres'" "ai_gateway.audit_flush_ms = $FLUSH_MS" \
	"track_commit_timestamp = on"
aig_psql "$PG_PORT" -d postgres -At -c "CREATE DATABASE bench_na" >/dev/null
for db in postgres bench_na; do
	bench_setup_db "$db"
	aig_psql "$PG_PORT" -d "$db" -At >/dev/null <<'SQL'
-- n calls; returns "start_epoch end_epoch"
CREATE FUNCTION bench_timed(n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t0 float8;
BEGIN
    t0 := extract(epoch FROM clock_timestamp());
    PERFORM bench_calls(n);
    RETURN t0 || ' ' || extract(epoch FROM clock_timestamp());
END $$;
SQL
done
queue_bytes=$(aig_psql "$PG_PORT" -d postgres -At -c "SELECT queue_bytes FROM ai_gateway.audit_stats()")
bench_session ctl_postgres postgres
bench_session ctl_bench_na bench_na

# one_round DB: runs SESSIONS x CALLS calls in DB; sets RATE (calls/s),
# T_LAST (epoch of the last return), MAXQ (bytes), MAXPEND (records)
one_round() {
	local db=$1 ctl=ctl_$1 pids=() i out t0s=() t1s=() alive q pend p keep
	bench_q "$ctl" "SELECT pg_advisory_lock($LOCK);"
	for i in $(seq 1 "$SESSIONS"); do
		out=$BENCH_WORK/worker_${db}_$i
		PGAPPNAME=bench_audit_worker aig_psql "$PG_PORT" -d "$db" -At \
			-c "SET statement_timeout = '${BENCH_TIMEOUT}s'" -c "SELECT bench_calls(100)" \
			-c "SELECT pg_advisory_lock_shared($LOCK)" -c "SELECT bench_timed($CALLS)" \
			>"$out" 2>"$out.err" &
		pids+=($!)
		BENCH_PIDS+=($!)
	done
	# wait until every session is queued on the lock, warm-up done
	for _ in $(seq 1 $((BENCH_TIMEOUT * 20))); do
		bench_q "$ctl" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $LOCK AND NOT granted;"
		[ "$REPLY" = "$SESSIONS" ] && break
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null || { cat "$BENCH_WORK"/worker_"${db}"_*.err >&2; bench_die "a worker session ended early"; }
		done
		sleep 0.05
	done
	[ "$REPLY" = "$SESSIONS" ] || bench_die "the worker sessions did not reach the start line"
	bench_q ctl_postgres "SELECT ai_gateway.audit_flush(60000);"
	bench_q ctl_postgres "SELECT coalesce(max(id), 0) FROM ai_gateway.audit_log;"
	ID0=$REPLY
	bench_q ctl_postgres "SELECT dropped_full FROM ai_gateway.audit_stats();"
	DROP0=$REPLY
	bench_q "$ctl" "SELECT pg_advisory_unlock($LOCK);"
	MAXQ=0
	MAXPEND=0
	for _ in $(seq 1 $((BENCH_TIMEOUT * 50))); do
		bench_q ctl_postgres "SELECT queued_bytes || ' ' || (enqueued - written) FROM ai_gateway.audit_stats();"
		read -r q pend <<<"$REPLY"
		[ "$q" -le "$MAXQ" ] || MAXQ=$q
		[ "$pend" -le "$MAXPEND" ] || MAXPEND=$pend
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 1 ] || break
		sleep 0.01
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || {
			cat "$BENCH_WORK/worker_${db}_$((i + 1)).err" >&2
			bench_die "worker session $((i + 1)) in $db failed"
		}
		read -r t0 t1 < <(tail -n 1 "$BENCH_WORK/worker_${db}_$((i + 1))")
		t0s+=("$t0")
		t1s+=("$t1")
	done
	keep=()
	for p in "${BENCH_PIDS[@]}"; do [[ " ${pids[*]} " == *" $p "* ]] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
	local first last
	first=$(printf '%s\n' "${t0s[@]}" | sort -g | head -n 1)
	last=$(printf '%s\n' "${t1s[@]}" | sort -g | tail -n 1)
	T_LAST=$last
	RATE=$(bench_calc "%.0f" "n / (b - a)" n=$((SESSIONS * CALLS)) a="$first" b="$last")
}

# audit_lag: waits until the round's rows are all in audit_log (no flush
# request: the writer's own pace), sets LAG_MS (last batch commit - last
# return), ROW_MED_MS and ROW_MAX_MS (per-row commit - ts), DROPPED
audit_lag() {
	local expect=$((SESSIONS * CALLS)) n
	bench_q ctl_postgres "DO \$\$ BEGIN
	  FOR i IN 1..$((BENCH_TIMEOUT * 100)) LOOP
	    EXIT WHEN (SELECT count(*) FROM ai_gateway.audit_log WHERE id > $ID0) >= $expect;
	    PERFORM pg_sleep(0.01);
	  END LOOP; END \$\$; SELECT count(*) FROM ai_gateway.audit_log WHERE id > $ID0;"
	n=$REPLY
	bench_q ctl_postgres "SELECT dropped_full - $DROP0 FROM ai_gateway.audit_stats();"
	DROPPED=$REPLY
	[ "$n" = "$expect" ] || bench_die "$n audit rows for $expect calls ($DROPPED dropped)"
	bench_q ctl_postgres "SELECT round((1000 * (extract(epoch FROM max(c)) - $T_LAST))::numeric, 1) || ' ' ||
	    round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c - ts)))::numeric, 1) || ' ' ||
	    round((1000 * max(extract(epoch FROM c - ts)))::numeric, 1)
	  FROM (SELECT ts, pg_xact_commit_timestamp(xmin) AS c FROM ai_gateway.audit_log WHERE id > $ID0) r;"
	read -r LAG_MS ROW_MED_MS ROW_MAX_MS <<<"$REPLY"
}

echo "audit writer at peak: $SESSIONS sessions x $CALLS ai_complete calls, nginx canned upstream," \
	"flush every $FLUSH_MS ms, queue $((queue_bytes / 1024)) kB"
printf '  %-9s %12s %12s %9s %9s %9s %9s %10s %9s %8s\n' "" "on calls/s" "off calls/s" "on/off" \
	"lag ms" "row p50" "row max" "max queue" "records" dropped
rates_on=() rates_off=() lags=() rmed=() rmax=() maxq=() maxp=() drops=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		one_round postgres
		on=$RATE
		qb=$MAXQ qp=$MAXPEND
		audit_lag
		one_round bench_na
		off=$RATE
	else
		one_round bench_na
		off=$RATE
		one_round postgres
		on=$RATE
		qb=$MAXQ qp=$MAXPEND
		audit_lag
	fi
	rates_on+=("$on") rates_off+=("$off") lags+=("$LAG_MS") rmed+=("$ROW_MED_MS") rmax+=("$ROW_MAX_MS")
	maxq+=("$qb") maxp+=("$qp") drops+=("$DROPPED")
	printf '  round %-3d %12s %12s %9.3f %9s %9s %9s %7d kB %9s %8s\n' "$r" "$on" "$off" \
		"$(bench_calc "%.3f" "a / b" a="$on" b="$off")" "$LAG_MS" "$ROW_MED_MS" "$ROW_MAX_MS" \
		$((qb / 1024)) "$qp" "$DROPPED"
done
on=$(bench_calc "%.0f" v v="$(bench_median "${rates_on[@]}")")
off=$(bench_calc "%.0f" v v="$(bench_median "${rates_off[@]}")")
lag=$(bench_median "${lags[@]}")
q=$(printf '%s\n' "${maxq[@]}" | sort -g | tail -n 1)
p=$(printf '%s\n' "${maxp[@]}" | sort -g | tail -n 1)
dropped=$(printf '%s\n' "${drops[@]}" | awk '{ s += $1 } END { print s + 0 }')
echo "  medians: $on calls/s audited vs $off not audited; last row visible $lag ms after the last" \
	"return (row lag median $(bench_median "${rmed[@]}") ms, max $(printf '%s\n' "${rmax[@]}" | sort -g | tail -n 1) ms);" \
	"deepest queue $q bytes = $p records; $dropped dropped"
bench_result "audit at peak: calls/s, $SESSIONS sessions, on/off" "$on calls/s" "$off calls/s" \
	"$(bench_calc "%.3f" "a / b" a="$on" b="$off")" ">= 0.85"
bench_result "audit lag: last return to all rows visible" "$lag ms" \
	"$FLUSH_MS ms (setting)" "$(bench_calc "%.2f" "a / b" a="$lag" b="$FLUSH_MS")" "<= 2.00"
bench_result "audit queue at peak: deepest vs size" "$(bench_calc "%.0f kB" "a / 1024" a="$q") ($p records)" \
	"$((queue_bytes / 1024)) kB" "$(bench_calc "%.3f" "a / b" a="$q" b="$queue_bytes")" "<= 0.50"
bench_result "audit records dropped at peak" "$dropped" "$((ROUNDS * SESSIONS * CALLS)) calls" \
	"$(bench_calc "%.4f" "a / b" a="$dropped" b=$((ROUNDS * SESSIONS * CALLS)))" "<= 0"
