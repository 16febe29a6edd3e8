#!/usr/bin/env bash
# security.sh — what test/sql/security.sql cannot show (it needs the mock's view
# of requests, the background workers, the server log or pg_dump):
#  1. a model name put into a URL path (Gemini, Azure) cannot change the
#     request's path or query at the mock (/_mock/last);
#  2. redirects are not followed;
#  3. libcurl refuses every scheme but http/https at call time, even when a
#     superuser removed the base_url CHECK (file:// would read a local file);
#  4. the background workers' queries (audit writer, quota saver, job
#     worker) cannot be hijacked through a function overload a role put in
#     public (their default search_path);
#  5. no provider key in the server log, the audit log, the jobs table,
#     health(), the results and errors returned, or a pg_dump, after calls
#     failing every way (the mock echoing the key in 401/403/4xx/5xx bodies,
#     malformed and truncated bodies, timeouts, resets, an unreachable
#     provider, whole routes failing, shadows, batches, embeddings, jobs) with
#     log_statement = all, log_min_messages = debug and log_requests on.
#     (test/integration/keys.sh covers the restore of sealed keys.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DB=aig_security
REG=aig_regression      # the database the workers serve (audit rows, jobs)
# (calls in $DB are not audited: keep the WARNING that says so out of the way)
q() { PGOPTIONS="-c client_min_messages=error" aig_psql "$PGPORT" -d "$DB" -At "$@"; }
qr() { PGOPTIONS="-c client_min_messages=warning" aig_psql "$PGPORT" -d "$REG" -At "$@"; }
tmp=$(mktemp -d /tmp/aig_security.XXXXXX)
chmod 755 "$tmp"
altered=0
finish() {
	if [ "$altered" = 1 ]; then
		aig_psql "$PGPORT" -d postgres -q -c "ALTER SYSTEM RESET log_min_messages" \
			-c "ALTER SYSTEM RESET log_error_verbosity" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap finish EXIT

aig_make_db "$PGPORT" "$DB" "$MOCK_PORT" 2>/dev/null

# ---------------------------------------------------------------------------
# 1. model names in URL paths
# ---------------------------------------------------------------------------
# check_path KIND OP MODEL: the last request's path is the dialect's, with
# MODEL (less Gemini's "models/" prefix) as exactly one percent-encoded segment
check_path() {
	python3 - "$MOCK_PORT" "$1" "$2" "$3" <<'PY'
import json, re, sys, urllib.request
from urllib.parse import unquote
port, kind, op, model = sys.argv[1:]
last = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_mock/last"))
path, query = last["path"], last["query"]
if kind == "gemini":
    want = model[7:] if model.startswith("models/") else model
    verb = {"chat": "generateContent", "embed": "batchEmbedContents"}[op]
    m = re.fullmatch(r"/v1beta/models/([^/?#]+):" + verb, path)
    ok = m is not None and query == ""
else:
    want = model
    verb = {"chat": "chat/completions", "embed": "embeddings"}[op]
    m = re.fullmatch(r"/openai/deployments/([^/?#]+)/" + re.escape(verb), path)
    ok = m is not None and query == "api-version=2024-10-21"
if not ok or unquote(m.group(1)) != want or m.group(1) in (".", ".."):
    print(f"{kind} {op} model {model!r}: request went to path {path!r} query {query!r}")
    sys.exit(1)
PY
}
n=0
while IFS= read -r model <&3; do
	for kind in gemini azure; do
		echo "SELECT ai_complete('x', :'m')" | q -v m="$kind/$model" >/dev/null ||
			fail "$kind/$model: the call failed"
		check_path "$kind" chat "$model" || fail "model name changed the request path"
		echo "SELECT ai_embed('x', :'m')" | q -v m="$kind/$model" >/dev/null ||
			fail "$kind/$model: the embedding call failed"
		check_path "$kind" embed "$model" || fail "model name changed the request path"
		n=$((n + 2))
	done
done 3<<'MODELS'
../../admin?x=
..
.
models/..
a/../../b#frag
%2e%2e
%2e%2e%2f..%2fadmin
..%2f..%2fadmin
x?api-version=evil&y=
x;y
x:generateContent?
 spaced out 
ü 🎉
MODELS
pass "model names stay one path segment at the mock ($n requests: Gemini, Azure; chat, embeddings)"

# ---------------------------------------------------------------------------
# 2. redirects
# ---------------------------------------------------------------------------
aig_mock_reset "$MOCK_PORT"
for p in openai anthropic cohere ollama gemini azure; do
	if q -c "SELECT ai_complete('x', '$p/m+redirect')" >/dev/null 2>"$tmp/err"; then
		fail "$p: a 302 answer was taken as a success"
	fi
	grep -q "HTTP 302" "$tmp/err" || fail "$p: unexpected error for a 302: $(cat "$tmp/err")"
done
res=$(aig_mock_stats "$MOCK_PORT" "(s['requests'], sorted(k for k in s['by_path'] if k.startswith('/redirected')))")
[ "$res" = "(6, [])" ] || fail "redirects followed: $res"
pass "a 302 from every dialect fails the call and is not followed (6 requests, none redirected)"

# ---------------------------------------------------------------------------
# 3. schemes at call time
# ---------------------------------------------------------------------------
mkdir -p "$tmp/files/chat"
cat >"$tmp/files/chat/completions" <<'JSON'
{"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "READ FROM A LOCAL FILE"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
JSON
chmod -R a+rX "$tmp/files"
before=$(aig_mock_stats "$MOCK_PORT" "s['tcp_accepted']")
after=$(aig_mock_stats "$MOCK_PORT" "s['tcp_accepted']")
idle=$((after - before))        # the stats requests themselves
before=$(aig_mock_stats "$MOCK_PORT" "s['tcp_accepted']")
q -v files="file://$tmp/files" -v hp="127.0.0.1:$MOCK_PORT" >/dev/null <<'SQL'
ALTER TABLE ai_gateway.providers DROP CONSTRAINT providers_base_url_check;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key)
SELECT 'scheme_' || s, 'openai',
       CASE s WHEN 'file' THEN :'files' ELSE s || '://' || :'hp' || '/v1' END, 'sk-scheme-0123456789'
FROM unnest(array['file', 'gopher', 'ftp', 'dict', 'ldap', 'telnet', 'tftp', 'smb', 'scp', 'sftp', 'imap',
                  'pop3', 'smtp', 'rtsp', 'mqtt', 'ws']) s;
SQL
schemes=$(q -c "SELECT name FROM ai_gateway.providers WHERE name LIKE 'scheme\_%' ORDER BY 1")
for p in $schemes; do
	if out=$(q -c "SELECT ai_complete('x', '$p/m')" 2>"$tmp/err"); then
		fail "$p: the call succeeded: $out"
	fi
	grep -q "ERROR:  invalid provider URL\|not supported or disabled in libcurl" "$tmp/err" ||
		fail "$p: unexpected error: $(cat "$tmp/err")"
done
after=$(aig_mock_stats "$MOCK_PORT" "s['tcp_accepted']")
[ $((after - before)) = "$idle" ] || fail "a non-http scheme reached the mock's port ($((after - before - idle)) connections)"
pass "libcurl refuses file, gopher, ftp, dict, ldap and 11 more schemes at call time (no connection, no file read)"
aig_psql "$PGPORT" -d postgres -c "DROP DATABASE $DB" >/dev/null

# ---------------------------------------------------------------------------
# 4. the workers' own queries and a role that may create in public
# ---------------------------------------------------------------------------
qr >/dev/null <<'SQL'
DROP ROLE IF EXISTS sec_sh_mallory;
CREATE ROLE sec_sh_mallory LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO sec_sh_mallory;
SELECT ai_gateway.grant_provider('ollama', 'sec_sh_mallory');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('sec_sh_mallory', 'day', 1000);
SQL
aig_psql "$PGPORT" -d "$REG" -At -U sec_sh_mallory >/dev/null <<'SQL'
CREATE TABLE public.sec_sh_seen (who name, what text);
GRANT INSERT ON public.sec_sh_seen TO PUBLIC;
CREATE FUNCTION public.sec_sh_pwn(what text) RETURNS boolean LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO public.sec_sh_seen VALUES (current_user, what);
    RETURN true;
END $$;
-- better matches than pg_catalog's for what the workers' queries pass
CREATE FUNCTION public.to_timestamp(bigint) RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT CASE WHEN public.sec_sh_pwn('to_timestamp(bigint)') THEN pg_catalog.to_timestamp($1) END $$;
CREATE FUNCTION public.power(integer, integer) RETURNS double precision LANGUAGE sql
    AS $$ SELECT CASE WHEN public.sec_sh_pwn('power(integer, integer)') THEN pg_catalog.power($1, $2) END $$;
CREATE FUNCTION public.sec_sh_div(integer, numeric) RETURNS numeric LANGUAGE sql
    AS $$ SELECT CASE WHEN public.sec_sh_pwn('/(integer, numeric)') THEN $1::numeric / $2 END $$;
CREATE OPERATOR public./ (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.sec_sh_div);
CREATE FUNCTION public.make_interval(secs numeric) RETURNS interval LANGUAGE sql
    AS $$ SELECT CASE WHEN public.sec_sh_pwn('make_interval(numeric)') THEN pg_catalog.make_interval(secs => $1::float8) END $$;
-- they are live on the default search_path
SELECT to_timestamp(1::bigint), power(2, 3), 1 / 2.0;
SQL
own=$(qr -c "SELECT count(DISTINCT what) FROM public.sec_sh_seen WHERE who = 'sec_sh_mallory'")
[ "$own" = 3 ] || fail "the overloads are not picked on the default search_path ($own)"
# the quota saver writes usage (to_timestamp($3) with an int8), the job
# worker re-queues a failed job (power(2, attempts), $5 / 1000.0, make_interval)
job=$(aig_psql "$PGPORT" -d "$REG" -At -U sec_sh_mallory \
	-c "SELECT ai_complete('x', 'ollama/sec-sh-quota')" \
	-c "SELECT ai_complete_async('x', 'ollama/m+fail_first=1+seq=sec_sh_job_$$')" | tail -n 1)
saved=0
for _ in $(seq 1 150); do
	saved=$(qr -c "SELECT count(*) FROM ai_gateway.quota_usage WHERE role_oid = 'sec_sh_mallory'::regrole::oid")
	[ "$saved" = 1 ] && break
	sleep 0.1
done
[ "$saved" = 1 ] || fail "the worker did not save sec_sh_mallory's quota usage"
res=$(qr -c "SELECT r->>'status', r->>'attempts' FROM ai_result($job, 30000) r")
[ "$res" = "succeeded|2" ] || fail "the job that failed once ended as $res"
seen=$(qr -c "SELECT string_agg(DISTINCT who || ' ran ' || what, '; ') FROM public.sec_sh_seen WHERE who <> 'sec_sh_mallory'")
[ -z "$seen" ] || fail "a worker ran a role's overload: $seen"
pass "quota saver and job worker (usage saved, a job re-queued and run) never picked a role's overloads in public"
qr >/dev/null <<'SQL'
DELETE FROM ai_gateway.quotas WHERE role = 'sec_sh_mallory';
SELECT ai_gateway.revoke_provider('ollama', 'sec_sh_mallory');
DELETE FROM ai_gateway.jobs WHERE role = 'sec_sh_mallory';
DELETE FROM ai_gateway.quota_usage WHERE role_oid = 'sec_sh_mallory'::regrole::oid;
DROP OWNED BY sec_sh_mallory;
DROP ROLE sec_sh_mallory;
SQL

# ---------------------------------------------------------------------------
# 5. keys under faults
# ---------------------------------------------------------------------------
# every key holds the same marker; the masks show the last 4 characters only
marker=K3yM4t3r14L
qr -v mock="http://127.0.0.1:$MOCK_PORT" -v marker="$marker" -v down="http://127.0.0.1:$(aig_free_port)" >/dev/null <<'SQL'
DELETE FROM ai_gateway.routes WHERE name IN ('sec_all_fail', 'sec_shadowed');
DELETE FROM ai_gateway.providers WHERE name LIKE 'sec\_%';
SQL
qr -v mock="http://127.0.0.1:$MOCK_PORT" -v marker="$marker" -v down="http://127.0.0.1:$(aig_free_port)" >/dev/null <<'SQL'
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('sec_openai',    'openai',       :'mock' || '/v1', 'sk-proj-' || :'marker' || '-openai-7f3a9c2e'),
    ('sec_anthropic', 'anthropic',    :'mock',          'sk-ant-api03-' || :'marker' || '-anthropic-5b1d'),
    ('sec_cohere',    'cohere',       :'mock',          'co-' || :'marker' || '-cohere-8e4f2a'),
    ('sec_gemini',    'gemini',       :'mock',          'AIzaSy' || :'marker' || '-gemini-3c7b'),
    ('sec_azure',     'azure_openai', :'mock',          'az' || :'marker' || 'azure9d2e6f'),
    ('sec_down',      'openai',       :'down' || '/v1', 'sk-down-' || :'marker' || '-1a2b');
INSERT INTO ai_gateway.routes (name) VALUES ('sec_all_fail'), ('sec_shadowed');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority) VALUES
    ('sec_all_fail', 'sec_openai', 'm+status=401+echo_key', 1),
    ('sec_all_fail', 'sec_anthropic', 'm+status=500+echo_key', 2),
    ('sec_all_fail', 'sec_cohere', 'm+status=429+echo_key', 3),
    ('sec_all_fail', 'sec_gemini', 'm+status=403+echo_key', 4),
    ('sec_all_fail', 'sec_azure', 'm+status=503+echo_key', 5),
    ('sec_all_fail', 'sec_down', 'm', 6),
    ('sec_shadowed', 'ollama', 'sec-primary', 1);
INSERT INTO ai_gateway.route_targets (route, provider, model, shadow) VALUES
    ('sec_shadowed', 'sec_openai', 'm+status=401+echo_key', true),
    ('sec_shadowed', 'sec_gemini', 'm+status=500+echo_key', true);
SQL
aig_psql "$PGPORT" -d postgres -q -c "ALTER SYSTEM SET log_min_messages = debug1" \
	-c "ALTER SYSTEM SET log_error_verbosity = verbose" -c "SELECT pg_reload_conf()" >/dev/null
altered=1
log_from=$(wc -c <"$AIG_SERVER_LOG")
# one session, every call in its own statement (errors do not stop psql)
{
	cat <<'SQL'
SET log_statement = 'all';
SET log_min_messages = debug2;
SET log_min_error_statement = debug5;
SET log_error_verbosity = verbose;
SET ai_gateway.log_requests = on;
SET ai_gateway.log_prompts = on;
SET ai_gateway.max_retries = 1;
SET ai_gateway.retry_base_ms = 5;
SET ai_gateway.retry_max_ms = 20;
SET ai_gateway.max_response_bytes = '64kB';
\set VERBOSITY verbose
SQL
	for p in sec_openai sec_anthropic sec_cohere sec_gemini sec_azure sec_down; do
		for f in status=401+echo_key status=403+echo_key status=400+echo_key status=404+echo_key \
			status=422+echo_key status=429+echo_key+retry_after=0 status=500+echo_key \
			status=503+echo_key status=529+echo_key status=401+echo_key+truncated \
			status=401+echo_key+wrong_ctype status=500+echo_key+malformed malformed truncated \
			empty html wrong_shape null_content invalid_utf8 reset reset_mid \
			oversized=100000; do
			echo "SELECT ai_complete('x', '$p/m+$f');"
			echo "SELECT ai_chat('[{\"role\": \"user\", \"content\": \"x\"}]', '$p/m+$f');"
		done
		echo "SELECT ai_complete('x', '$p/m+hang', NULL, '{\"timeout_ms\": 300}');"
		echo "SELECT ai_complete('x', '$p/m+trickle=100', NULL, '{\"timeout_ms\": 300}');"
		echo "SELECT ai_embed('x', '$p/m+status=401+echo_key');"
		echo "SELECT * FROM ai_embed(array['x', 'y'], '$p/m+status=500+echo_key');"
		echo "SELECT * FROM ai_complete_batch(array['x', 'y', 'z'], '$p/m+status=401+echo_key');"
		echo "SELECT * FROM ai_complete_batch(array['x', 'y'], '$p/m+status=503+echo_key');"
		echo "SELECT ai_complete_async('x', '$p/m+status=401+echo_key');"
		echo "SELECT ai_complete_async('x', '$p/m+status=500+echo_key');"
	done
	cat <<'SQL'
SELECT ai_complete('x', 'sec_all_fail');
SELECT * FROM ai_complete_batch(array['x', 'y'], 'sec_all_fail');
SELECT ai_complete_async('x', 'sec_all_fail');
SELECT ai_complete('x', 'sec_shadowed');
SELECT ai_chat('[{"role": "user", "content": "x"}]', 'sec_shadowed');
SELECT * FROM ai_gateway.explain_route('sec_all_fail');
SQL
} >"$tmp/calls.sql"
calls=$(grep -c '^SELECT' "$tmp/calls.sql")
aig_psql "$PGPORT" -d "$REG" -v ON_ERROR_STOP=0 -f "$tmp/calls.sql" >"$tmp/out" 2>&1 || true
errors=$(grep -c "^psql:.*ERROR" "$tmp/out" || true)
[ "$errors" -gt 250 ] || fail "only $errors of $calls calls failed: the faults did not happen"
grep -q "echo_key\|Incorrect API key provided: \*\*\*\*" "$tmp/out" ||
	fail "no scrubbed key echo in the errors: did the mock echo the key?"
# let the job worker finish the jobs and the audit writer write every record
for _ in $(seq 1 300); do
	left=$(qr -c "SELECT count(*) FROM ai_gateway.jobs WHERE status IN ('queued', 'running')")
	[ "$left" = 0 ] && break
	sleep 0.1
done
[ "$left" = 0 ] || fail "$left jobs still not finished"
qr -c "SELECT ai_gateway.audit_flush(30000)" >/dev/null
aig_psql "$PGPORT" -d postgres -q -c "ALTER SYSTEM RESET log_min_messages" \
	-c "ALTER SYSTEM RESET log_error_verbosity" -c "SELECT pg_reload_conf()" >/dev/null
altered=0

qr >"$tmp/tables" <<'SQL'
SELECT a::text FROM ai_gateway.audit_log a;
SELECT j::text FROM ai_gateway.jobs j;
SELECT h::text FROM ai_gateway.health() h;
SELECT s::text FROM ai_gateway.stats s;
SELECT ai_gateway.metrics();
SELECT c::text FROM ai_gateway.config_history c;
SELECT v::text FROM ai_gateway.route_versions v;
SELECT p::text FROM ai_gateway.providers p;
SELECT a::text FROM pg_stat_activity a;
SELECT ai_result(id)::text FROM ai_gateway.jobs;
SQL
rows=$(qr -c "SELECT count(*) FROM ai_gateway.audit_log WHERE provider LIKE 'sec\_%' AND error LIKE '%Incorrect API key provided%'")
jobs=$(qr -c "SELECT count(*) FROM ai_gateway.jobs WHERE error LIKE '%Incorrect API key provided%'")
shadows=$(qr -c "SELECT count(*) FROM ai_gateway.audit_log WHERE shadow AND provider LIKE 'sec\_%' AND error IS NOT NULL")
[ "$rows" -gt 20 ] && [ "$jobs" -gt 5 ] && [ "$shadows" -gt 0 ] ||
	fail "expected echoed-key errors in the audit log ($rows), jobs ($jobs) and shadow rows ($shadows)"
"$PG_BINDIR/pg_dump" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$REG" >"$tmp/dump"
sealed=$(grep -c "aigk2:" "$tmp/dump" || true)
[ "$sealed" -ge 6 ] || fail "the dump lacks the sealed keys"
tail -c +"$((log_from + 1))" "$AIG_SERVER_LOG" >"$tmp/log"
[ -s "$tmp/log" ] || fail "nothing was logged"
grep -q "ai_gateway call route=- provider=sec_openai" "$tmp/log" || fail "no log_requests line in the server log"
grep -q "statement: SELECT ai_complete('x', 'sec_openai/m+status=401+echo_key')" "$tmp/log" ||
	fail "log_statement did not log the calls"
for f in out tables dump log; do
	if grep -q -- "$marker" "$tmp/$f"; then
		grep -m 3 -- "$marker" "$tmp/$f" | cut -c 1-300 >&2
		fail "a provider key is in the $f"
	fi
done
echo "  $calls calls ($errors failed) over 6 providers; $rows audit rows and $jobs jobs with an echoed key, $shadows shadow errors; $(wc -l <"$tmp/log") log lines"
pass "no key in the server log, errors and results, audit log, jobs, health, stats, pg_stat_activity or pg_dump"

qr >/dev/null <<'SQL'
DELETE FROM ai_gateway.routes WHERE name IN ('sec_all_fail', 'sec_shadowed');
DELETE FROM ai_gateway.providers WHERE name LIKE 'sec\_%';
DELETE FROM ai_gateway.jobs WHERE request->>'model' LIKE 'sec\_%';
SQL
