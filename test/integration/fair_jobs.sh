#!/usr/bin/env bash
# fair_jobs.sh — async jobs are scheduled fairly and without a barrier
# (issue 13, defect 15); order of completion is asserted, not wall-clock:
#  1. role A queues slow jobs, role B one quick job after them: B's job is
#     finished while every one of A's is still running, and A's finish after;
#  2. ai_gateway.job_max_running_per_role: A never has more jobs running
#     than the cap while its queue is long, and B's job still goes first;
#  3. a role whose quota refuses every call cannot queue (53400 at once).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_regression
q() { aig_psql "$PGPORT" -d "$DB" -At "$@"; }
cleanup_roles() {
	q -v ON_ERROR_STOP=0 <<'SQL' >/dev/null 2>&1 || true
ALTER SYSTEM RESET ai_gateway.job_max_running_per_role;
SELECT pg_reload_conf();
DELETE FROM ai_gateway.quotas WHERE role = 'aig_fair_c';
DELETE FROM ai_gateway.jobs WHERE role IN ('aig_fair_a', 'aig_fair_b', 'aig_fair_c')
    OR request->>'model' LIKE 'ollama/fair-later%';
DELETE FROM ai_gateway.provider_grants WHERE role IN ('aig_fair_a', 'aig_fair_b', 'aig_fair_c');
DROP ROLE IF EXISTS aig_fair_a;
DROP ROLE IF EXISTS aig_fair_b;
DROP ROLE IF EXISTS aig_fair_c;
SQL
}
trap cleanup_roles EXIT
cleanup_roles
q <<'SQL' >/dev/null
CREATE ROLE aig_fair_a;
CREATE ROLE aig_fair_b;
CREATE ROLE aig_fair_c;
SELECT ai_gateway.grant_provider('ollama', 'aig_fair_a'), ai_gateway.grant_provider('ollama', 'aig_fair_b'),
       ai_gateway.grant_provider('ollama', 'aig_fair_c');
SQL

# wait_for SQL: until the query returns t (30 s at most)
wait_for() {
	for _ in $(seq 1 300); do
		[ "$(q -c "$1")" = t ] && return 0
		sleep 0.1
	done
	return 1
}

# 1. A's slow jobs do not hold B's quick one
q -c "SET ROLE aig_fair_a" \
	-c "SELECT ai_complete_async('slow ' || g, 'ollama/fair-slow+latency=4000') FROM generate_series(1, 4) g" >/dev/null
wait_for "SELECT count(*) = 4 FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status = 'running'" ||
	fail "A's jobs never ran"
b=$(q -c "SET ROLE aig_fair_b" -c "SELECT ai_complete_async('quick', 'ollama/fair-quick')")
st=$(q -c "SELECT (ai_result($b, 30000))->>'status'")
[ "$st" = succeeded ] || fail "B's job: $st"
a_done=$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status <> 'running'")
[ "$a_done" = 0 ] || fail "B's quick job finished only after $a_done of A's slow ones"
wait_for "SELECT count(*) = 4 FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status = 'succeeded'" ||
	fail "A's jobs did not all succeed"
order=$(q -c "SELECT bool_and(a.finished_at > b.finished_at) FROM ai_gateway.jobs a, ai_gateway.jobs b
              WHERE a.role = 'aig_fair_a' AND b.id = $b")
[ "$order" = t ] || fail "B's job did not finish before A's"
pass "a quick job queued after another role's slow ones finishes first, while they still run"

# 2. a per-role cap: A's long queue never takes more than 2 places
q -c "ALTER SYSTEM SET ai_gateway.job_max_running_per_role = 2" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q -c "SET ROLE aig_fair_a" \
	-c "SELECT ai_complete_async('capped ' || g, 'ollama/fair-capped+latency=1500') FROM generate_series(1, 6) g" >/dev/null
wait_for "SELECT count(*) > 0 FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status = 'running'
          AND request->>'prompt' LIKE 'capped%'" || fail "A's capped jobs never ran"
b=$(q -c "SET ROLE aig_fair_b" -c "SELECT ai_complete_async('quick again', 'ollama/fair-quick')")
peak=0
for _ in $(seq 1 120); do
	n=$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status = 'running'")
	[ "$n" -gt "$peak" ] && peak=$n
	[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role = 'aig_fair_a' AND status <> 'succeeded'")" = 0 ] && break
	sleep 0.1
done
[ "$peak" -le 2 ] || fail "A had $peak jobs running at once, over its cap of 2"
[ "$peak" -ge 1 ] || fail "A's jobs were never seen running"
order=$(q -c "SELECT count(*) FILTER (WHERE a.finished_at > b.finished_at) >= 4 FROM ai_gateway.jobs a, ai_gateway.jobs b
              WHERE a.role = 'aig_fair_a' AND a.request->>'prompt' LIKE 'capped%' AND b.id = $b")
[ "$(q -c "SELECT status FROM ai_gateway.jobs WHERE id = $b")" = succeeded ] || fail "B's second job did not succeed"
[ "$order" = t ] || fail "B's job waited behind A's capped queue"
pass "ai_gateway.job_max_running_per_role: at most $peak of A's jobs run at once; B's job goes ahead of A's queue"
q -c "ALTER SYSTEM RESET ai_gateway.job_max_running_per_role" -c "SELECT pg_reload_conf()" >/dev/null

# 3. a role whose quota refuses every call: its jobs fail at once, without
# holding another role's, and once refused it cannot queue more
q -c "INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('aig_fair_c', 'day', 0)" >/dev/null
q -c "SET ROLE aig_fair_c" \
	-c "SELECT count(ai_complete_async('refused ' || g, 'ollama/fair-quota')) FROM generate_series(1, 1000) g" >/dev/null
b=$(q -c "SET ROLE aig_fair_b" -c "SELECT ai_complete_async('quick third', 'ollama/fair-quick')")
[ "$(q -c "SELECT (ai_result($b, 30000))->>'status'")" = succeeded ] || fail "B's third job did not succeed"
wait_for "SELECT count(*) = 0 FROM ai_gateway.jobs WHERE role = 'aig_fair_c' AND status IN ('queued', 'running')" ||
	fail "the refused role's jobs did not all end"
res=$(q -c "SELECT count(*) FILTER (WHERE status = 'failed' AND attempts = 1 AND error LIKE 'quota exceeded%'),
               count(*) FILTER (WHERE finished_at > (SELECT finished_at FROM ai_gateway.jobs WHERE id = $b))
        FROM ai_gateway.jobs WHERE role = 'aig_fair_c'")
[ "${res%%|*}" = 1000 ] || fail "the refused role's jobs: $res (each should fail once, quota exceeded)"
[ "${res##*|}" -gt 0 ] || fail "B's job waited behind all 1000 of the refused role's jobs"
pass "a role over its quota: its 1000 jobs fail at once (one attempt each), B's job does not wait behind them"
err=$(aig_psql "$PGPORT" -d "$DB" -At -v VERBOSITY=verbose -c "SET ROLE aig_fair_c" \
	-c "SELECT ai_complete_async('refused', 'ollama/fair-quota')" 2>&1 || true)
echo "$err" | grep -q "53400" || { echo "$err"; fail "a role over its quota could queue"; }
[ "$(q -c "SELECT count(*) FROM ai_gateway.jobs WHERE role = 'aig_fair_c' AND status = 'queued'")" = 0 ] ||
	fail "a job of a role over its quota was queued"
pass "a role known to be over its quota is refused when queueing (53400)"

# 4. a job the provider tells to come back in an hour gives its place back
# at once (queued again with that Retry-After) instead of holding it until
# its call's timeout
id=$(q -c "SELECT ai_complete_async('later', 'ollama/fair-later+status=429+retry_after=3600', NULL,
                                     '{\"timeout_ms\": 60000, \"max_retries\": 2}')")
wait_for "SELECT status = 'queued' AND attempts = 1 AND next_attempt_at > now() + interval '50 minutes'
          FROM ai_gateway.jobs WHERE id = $id" ||
	fail "a job told to retry in an hour kept its place: $(q -c "SELECT status, attempts, next_attempt_at FROM ai_gateway.jobs WHERE id = $id")"
pass "a job whose provider says Retry-After: 3600 is queued again at once for then"
