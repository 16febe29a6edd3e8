# test/tap/001_standby.pl — ai_gateway on a hot standby: a primary and a
# streaming standby (PostgreSQL::Test::Cluster), the mock provider of
# test/tap.sh (MOCK_PORT).
#
# Asserts: by default a call on the standby is refused with 25006 and a hint
# naming ai_gateway.standby_calls (a cached call too: never 0A000); only a
# superuser may change the setting; with 'unaudited' calls answer, each
# audit record is a LOG line of the server log with the record's JSON,
# counted in audit_stats().logged_on_standby, nothing queued; the response
# cache is skipped (a cached call reaches the provider each time, no 0A000);
# ai_complete_async is refused with 25006; shadow copies are dropped and
# counted (no shadow worker runs during recovery); a role over its quota on the
# primary is refused on the standby (53400), and the standby counts its own
# calls against quotas; the workers do not run (nor crash-loop) during
# recovery; after pg_promote() the workers start, calls are audited in
# ai_gateway.audit_log, the cache and async jobs work, and the usage counted
# on the standby is saved — no restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $mock = $ENV{MOCK_PORT} or plan skip_all => 'MOCK_PORT is not set (run through test/tap.sh)';
my $db   = 'aig_standby';

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'ai_gateway'
ai_gateway.database = '$db'
ai_gateway.quota_persist_ms = 200
});
$primary->start;
$primary->safe_psql('postgres', "CREATE DATABASE $db");
$primary->safe_psql(
	$db, qq{
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url) VALUES ('ollama', 'ollama', 'http://127.0.0.1:$mock');
CREATE ROLE q_over LOGIN;
CREATE ROLE q_local LOGIN;
SELECT ai_gateway.grant_provider('ollama', 'q_over');
SELECT ai_gateway.grant_provider('ollama', 'q_local');
INSERT INTO ai_gateway.quotas (role, period, max_requests) VALUES ('q_over', 'day', 2), ('q_local', 'day', 1);
INSERT INTO ai_gateway.routes (name) VALUES ('r_shadow');
INSERT INTO ai_gateway.route_targets (route, provider, model, priority, shadow) VALUES
    ('r_shadow', 'ollama', 'main', 1, false), ('r_shadow', 'ollama', 'copy', 2, true);
-- SQLSTATE, message and hint of a statement's error (runs on the standby too: read-only)
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE st text; msg text; hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || coalesce(' HINT: ' || nullif(hnt, ''), '');
END \$\$;
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;
});

# on the primary: answered, audited, cached
is($primary->safe_psql($db, "SELECT ai_complete('on the primary', 'ollama/m') IS NOT NULL"),
	't', 'primary: a call answers');
$primary->safe_psql($db,
	q{SELECT ai_chat('[{"role":"user","content":"cached q"}]', 'ollama/c', '{"cache": true}')});
is($primary->safe_psql($db, "SELECT ai_gateway.audit_flush()"), 't', 'primary: audit flushed');
is($primary->safe_psql($db, "SELECT count(*) FROM ai_gateway.audit_log"), '2',
	'primary: both calls audited');

# q_over uses its quota up on the primary; the worker saves the usage
is($primary->safe_psql($db, "SET ROLE q_over; SELECT ai_complete('one', 'ollama/m') IS NOT NULL"),
	't', 'primary: q_over call 1');
is($primary->safe_psql($db, "SET ROLE q_over; SELECT ai_complete('two', 'ollama/m') IS NOT NULL"),
	't', 'primary: q_over call 2');
like($primary->safe_psql($db, "SET ROLE q_over; SELECT try(\$\$SELECT ai_complete('three', 'ollama/m')\$\$)"),
	qr/^53400/, 'primary: q_over is at its quota');
ok( $primary->poll_query_until(
		$db, "SELECT requests = 2 FROM ai_gateway.quota_usage WHERE role_oid = 'q_over'::regrole"),
	'primary: q_over usage saved');

# a job queued on the primary, read on the standby
my $job = $primary->safe_psql($db, "SELECT ai_complete_async('job', 'ollama/m')");

# the standby
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

# default: refused up front with 25006 and a hint; a cached call too (not 0A000)
my $r = $standby->safe_psql($db, "SELECT try(\$\$SELECT ai_complete('x', 'ollama/m')\$\$)");
like($r, qr/^25006: ai_gateway calls are refused on a hot standby/, 'standby default: refused with 25006');
like($r, qr/HINT: .*ai_gateway\.standby_calls = 'unaudited'/, 'standby default: the hint names the setting');
$r = $standby->safe_psql($db,
	q{SELECT try($$SELECT ai_chat('[{"role":"user","content":"cached q"}]', 'ollama/c', '{"cache": true}')$$)});
like($r, qr/^25006/, 'standby default: a cached call is refused with 25006');
unlike($r, qr/0A000/, 'standby default: no 0A000');
like($standby->safe_psql($db, "SELECT try(\$\$SELECT ai_embed('x', 'ollama/e')\$\$)"),
	qr/^25006/, 'standby default: ai_embed refused too');

# what only reads works in either mode: explain_route, the usage view, a job's result
is($standby->safe_psql($db, "SELECT try(\$\$SELECT ai_gateway.explain_route('r_shadow')\$\$)"),
	'ok', 'standby: explain_route works');
is($standby->safe_psql($db, "SELECT try(\$\$SELECT count(*) FROM ai_gateway.usage\$\$)"),
	'ok', 'standby: the usage view works');
like($standby->safe_psql($db, "SELECT ai_result($job)"), qr/^\{/, 'standby: ai_result of a job queued on the primary');

# only a superuser may allow unaudited calls
like($standby->safe_psql($db, "SET ROLE q_local; SELECT try(\$\$SET ai_gateway.standby_calls = 'unaudited'\$\$)"),
	qr/^42501/, 'standby: a non-superuser cannot set ai_gateway.standby_calls');

# async jobs: refused whatever the mode
like($standby->safe_psql($db, "SET ai_gateway.standby_calls = 'unaudited'; SELECT try(\$\$SELECT ai_complete_async('x', 'ollama/m')\$\$)"),
	qr/^25006: ai_complete_async cannot queue a job on a hot standby/, 'standby: async refused with 25006');

# 'unaudited' for everyone (postgresql.conf, reload)
$standby->append_conf('postgresql.conf', "ai_gateway.standby_calls = 'unaudited'");
$standby->reload;
$standby->poll_query_until($db, "SELECT current_setting('ai_gateway.standby_calls') = 'unaudited'");
my $log_at = -s $standby->logfile;
my $mock_before = mock_requests();

is($standby->safe_psql($db,
	q{SELECT ai_complete('standby call', 'ollama/m', NULL, '{"metadata": {"probe": "standby-1"}}') IS NOT NULL}),
	't', 'standby unaudited: a call answers');
for my $i (1 .. 2)
{
	$r = $standby->safe_psql($db,
		q{SELECT try($$SELECT ai_chat('[{"role":"user","content":"cached q"}]', 'ollama/c', '{"cache": true}')$$)});
	is($r, 'ok', "standby unaudited: cached call $i answers (no 0A000)");
}
is($standby->safe_psql($db,
	q{SELECT (ai_chat('[{"role":"user","content":"cached q"}]', 'ollama/c', '{"cache": true}'))->'cached'}),
	'false', 'standby unaudited: the cache is skipped (not a hit)');
is(mock_requests() - $mock_before, 4, 'standby unaudited: every call reached the provider');

my $stats = $standby->safe_psql($db,
	'SELECT enqueued, logged_on_standby FROM ai_gateway.audit_stats()');
is($stats, '0|4', 'standby unaudited: 4 records logged on the standby, none queued');
my $log = substr(slurp_file($standby->logfile), $log_at);
my @lines = grep { /ai_gateway audit record on a standby \(not in ai_gateway\.audit_log\): \{/ }
  split /\n/, $log;
is(scalar @lines, 4, 'standby unaudited: one LOG line per call');
like($log, qr/LOG:  ai_gateway audit record on a standby .*"role": "postgres".*"provider": "ollama".*"status": "ok".*"metadata": "\{\\"probe\\": \\"standby-1\\"\}"/,
	'standby unaudited: the LOG line holds the record as JSON');

# shadow copies: no shadow worker during recovery; dropped and counted, not queued
is($standby->safe_psql($db, "SELECT ai_complete('shadowed', 'r_shadow') IS NOT NULL"),
	't', 'standby unaudited: a call of a route with a shadow target answers');
is($standby->safe_psql($db, 'SELECT shadow_queued, shadow_dropped FROM ai_gateway.audit_stats()'),
	'0|1', 'standby unaudited: the shadow copy is dropped and counted');

# quotas: the primary's saved usage holds on the standby; the standby counts its own
like($standby->safe_psql($db, "SET ROLE q_over; SELECT try(\$\$SELECT ai_complete('four', 'ollama/m')\$\$)"),
	qr/^53400/, 'standby: a role over its quota on the primary is refused (53400)');
is($standby->safe_psql($db, "SET ROLE q_local; SELECT try(\$\$SELECT ai_complete('one', 'ollama/m')\$\$)"),
	'ok', 'standby: q_local call 1 answers');
like($standby->safe_psql($db, "SET ROLE q_local; SELECT try(\$\$SELECT ai_complete('two', 'ollama/m')\$\$)"),
	qr/^53400/, 'standby: q_local over its quota on the standby is refused (53400)');
my $q_local = $standby->safe_psql($db, "SELECT 'q_local'::regrole::oid");
like(substr(slurp_file($standby->logfile), $log_at),
	qr/ai_gateway audit record on a standby .*"role_oid": $q_local,.*"status": "denied", "sqlstate": "53400"/,
	'standby: the quota refusal is logged too');

# the workers do not run during recovery, and nothing of theirs fails in the log
is($standby->safe_psql($db, "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'ai_gateway%'"),
	'0', 'standby: no ai_gateway worker runs during recovery');
unlike(slurp_file($standby->logfile), qr/(ERROR|FATAL|PANIC):.*ai_gateway|terminated by signal|exited with exit code/,
	'standby: no worker errors or crash loops in the log');

# promotion: everything as on a primary, without a restart
$standby->promote;
ok( $standby->poll_query_until(
		$db, "SELECT count(*) >= 3 FROM pg_stat_activity WHERE backend_type LIKE 'ai_gateway%'"),
	'promoted: the workers start');
is($standby->safe_psql($db,
	q{SELECT ai_complete('after promote', 'ollama/m', NULL, '{"metadata": {"probe": "promoted"}}') IS NOT NULL}),
	't', 'promoted: a call answers (default mode)');
is($standby->safe_psql($db, 'SELECT ai_gateway.audit_flush()'), 't', 'promoted: audit flushed');
is($standby->safe_psql($db, q{SELECT count(*) FROM ai_gateway.audit_log WHERE metadata->>'probe' = 'promoted'}),
	'1', 'promoted: the call is audited in ai_gateway.audit_log');
$standby->safe_psql($db,
	q{SELECT ai_chat('[{"role":"user","content":"promoted cache"}]', 'ollama/c', '{"cache": true}')});
is($standby->safe_psql($db,
	q{SELECT (ai_chat('[{"role":"user","content":"promoted cache"}]', 'ollama/c', '{"cache": true}'))->'cached'}),
	'true', 'promoted: the response cache works');
like($standby->safe_psql($db, "SELECT ai_complete_async('later', 'ollama/m')"), qr/^\d+$/,
	'promoted: ai_complete_async queues a job');
is($standby->safe_psql($db, 'SELECT logged_on_standby FROM ai_gateway.audit_stats()'), '8',
	'promoted: nothing more goes to the log');
ok( $standby->poll_query_until(
		$db, "SELECT requests = 1 FROM ai_gateway.quota_usage WHERE role_oid = 'q_local'::regrole"),
	'promoted: the usage counted on the standby is saved');

$standby->stop;
$primary->stop;
done_testing();

# Requests the mock provider has answered so far.
sub mock_requests
{
	my $out = `python3 -c 'import json, urllib.request; print(json.load(urllib.request.urlopen("http://127.0.0.1:$mock/_mock/stats"))["requests"])'`;
	chomp $out;
	return $out;
}
