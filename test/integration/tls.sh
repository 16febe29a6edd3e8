#!/usr/bin/env bash
# tls.sh — calls over HTTPS (issue 16, item 4), against nginx with a
# certificate of a private CA made here (test/tls_upstream.sh), proxying to
# the mock provider, on two listeners: HTTP/1.1 only, and HTTP/2 (ALPN).
# Asserts, counting connections in nginx's access log ($connection,
# $ssl_session_reused, $server_protocol):
#   - a call with options.ca_file (a bundle in ai_gateway.ca_directory) works;
#   - without it (unknown CA), with another CA, or to a wrong host name it
#     fails with UP001 and a message that says so and holds no secret;
#   - N calls in one backend use 1 TLS connection;
#   - a batch's new connections resume the backend's TLS session;
#   - a 100-item ai_complete_batch over HTTP/2 uses 1 connection, over
#     HTTP/1.1 at most its concurrency;
#   - options.ca_file cannot make the server read any other file: no path,
#     no '..', no dot file; ai_gateway.ca_directory is a superuser's; a FIFO
#     or directory in it is refused, not read; unset, ca_file fails clearly;
#   - nothing in src/ turns certificate verification off.
# Every psql is bounded by `timeout`; nginx is stopped by its PID (trap).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$AIG_ROOT/test/tls_upstream.sh"
DB=aig_tls
N=20
SECRET=sk-tls-secret-0123456789abcdef
D=$(mktemp -d "${WORK:-/tmp}/tls.XXXXXX")
chmod 755 "$D"

cleanup() {
	aig_tls_stop_nginx
	aig_psql "$PGPORT" -d postgres -c "ALTER SYSTEM RESET ai_gateway.ca_directory" \
		-c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS $DB" \
		-c "DROP ROLE IF EXISTS aig_tls_admin" >/dev/null 2>&1 || true
	rm -rf "$D"
}
trap cleanup EXIT

q() { PGOPTIONS="-c client_min_messages=error" timeout 120 "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" -At "$@"; }

# err MODEL: "SQLSTATE|message" of one ai_complete through MODEL
err() {
	q -c "SET ai_gateway.max_retries = 0" -c "SET client_min_messages = notice" -c "DO \$\$ BEGIN PERFORM ai_complete('x', '$1');
		RAISE NOTICE 'R:none|no error';
		EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'R:%|%', SQLSTATE, SQLERRM; END \$\$" 2>&1 |
		sed -n 's/^.*R://p'
}

aig_tls_make_certs "$D"
aig_tls_start_nginx "$D" proxy "$MOCK_PORT"
mkdir -p "$D/cas"
cp "$D/ca.pem" "$D/cas/private_ca.pem"
cp "$D/other_ca.pem" "$D/cas/other_ca.pem"
mkfifo "$D/cas/fifo.pem"
mkdir "$D/cas/subdir.pem"
chmod 755 "$D/cas"
echo "  nginx (pid $TLS_NGINX_PID): HTTPS HTTP/1.1 on 127.0.0.1:$TLS_H1_PORT, HTTP/2 on :$TLS_H2_PORT -> mock :$MOCK_PORT"

PGOPTIONS="-c client_min_messages=warning" aig_psql "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
	-c "ALTER SYSTEM SET ai_gateway.ca_directory = '$D/cas'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
	[ "$(q -d postgres -c 'SHOW ai_gateway.ca_directory')" = "$D/cas" ] && break
	sleep 0.1
done
H1=https://127.0.0.1:$TLS_H1_PORT/v1
H2=https://127.0.0.1:$TLS_H2_PORT/v1
q -v h1="$H1" -v h2="$H2" -v key="$SECRET" -v bad="https://localhost:$TLS_H1_PORT/v1" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key, options) VALUES
    ('h1',      'openai', :'h1',  :'key', '{"ca_file": "private_ca.pem"}'),
    ('h2',      'openai', :'h2',  :'key', '{"ca_file": "private_ca.pem"}'),
    ('noca',    'openai', :'h1',  :'key', '{}'),
    ('otherca', 'openai', :'h1',  :'key', '{"ca_file": "other_ca.pem"}'),
    ('badhost', 'openai', :'bad', :'key', '{"ca_file": "private_ca.pem"}');
SQL

# --- a call over HTTPS with ca_file; failures ---------------------------------------
got=$(q -c "SELECT ai_complete('hello over tls', 'h1/gpt-4o-mini')")
[ -n "$got" ] || fail "empty answer over HTTPS"
pass "a call over HTTPS (HTTP/1.1) with options.ca_file works"
got=$(q -c "SELECT ai_complete('hello over h2', 'h2/gpt-4o-mini')")
[ -n "$got" ] || fail "empty answer over HTTP/2"
[ "$(tail -n 1 "$D/access.log" | awk '{ print $5 }')" = HTTP/2.0 ] ||
	fail "the call to the HTTP/2 listener did not use HTTP/2: $(tail -n 1 "$D/access.log")"
pass "a call to the HTTP/2 listener uses HTTP/2"

check_fail() { # MODEL PATTERN WHAT
	local e
	e=$(err "$1")
	echo "    $3: $e"
	[[ $e == UP001\|* ]] || fail "$3: expected UP001, got '$e'"
	grep -qiE "$2" <<<"$e" || fail "$3: message does not say why ('$2'): $e"
	! grep -q "$SECRET" <<<"$e" || fail "$3: the message holds the API key"
}
check_fail noca/m "certificate problem.*(issuer|self.signed)" "no ca_file (unknown CA)"
check_fail otherca/m "certificate problem" "ca_file of another CA"
check_fail badhost/m "subject name|host name" "wrong host name"
pass "unknown CA, another CA and a wrong host name fail with UP001 and say why, no secret"
! grep -q "$SECRET" "${AIG_SERVER_LOG:-/dev/null}" 2>/dev/null || fail "the server log holds the API key"

# --- reuse: N calls in one backend, one TLS connection ------------------------------
from=$(aig_tls_log_lines)
ok=$(q -c "SELECT count(*) FROM generate_series(1, $N) g WHERE ai_complete('reuse ' || g, 'h1/m') <> ''")
[ "$ok" = "$N" ] || fail "$ok of $N calls answered"
conns=$(aig_tls_conns "$from" "$TLS_H1_PORT")
echo "    $N calls in one backend: $conns TLS connection(s); session reused: $(aig_tls_field "$from" "$TLS_H1_PORT" 4)"
[ "$conns" = 1 ] || fail "$N calls in one backend opened $conns connections, expected 1"
pass "$N calls in one backend use one TLS connection"

# --- a batch's new connections resume the backend's TLS session ---------------------
from=$(aig_tls_log_lines)
ok=$(q -c "SELECT ai_complete('warm', 'h1/m') <> ''" \
	-c "SELECT count(*) FROM ai_complete_batch(array(SELECT 'resume ' || g FROM generate_series(1, 12) g),
	        'h1/m', NULL, '{\"concurrency\": 4}') WHERE error IS NULL" | tail -n 1)
[ "$ok" = 12 ] || fail "$ok of 12 batch items answered"
conns=$(aig_tls_conns "$from" "$TLS_H1_PORT")
full=$(tail -n +"$((from + 1))" "$D/access.log" | awk -v p="$TLS_H1_PORT" '$1 == p && $4 == "." { c[$2] = 1 } END { print length(c) }')
echo "    1 call + a 12-item batch at concurrency 4 (HTTP/1.1): $conns connection(s), $full full handshake(s)"
[ "$conns" -le 4 ] || fail "expected at most 4 connections, saw $conns"
[ "$full" = 1 ] || fail "expected 1 full TLS handshake (the others resumed), saw $full"
pass "connections a batch adds resume the backend's TLS session (shared session cache)"

# --- 100-item batch: HTTP/2 one connection, HTTP/1.1 up to the concurrency ----------
batch() { # PROVIDER PORT -> sets B_CONNS, B_PROTO
	local from ok
	from=$(aig_tls_log_lines)
	ok=$(q -c "SELECT count(*) FROM ai_complete_batch(array(SELECT '$1 item ' || g FROM generate_series(1, 100) g),
		'$1/m', NULL, '{\"concurrency\": 16}') WHERE error IS NULL")
	[ "$ok" = 100 ] || fail "$1: $ok of 100 batch items answered"
	B_CONNS=$(aig_tls_conns "$from" "$2")
	B_PROTO=$(aig_tls_field "$from" "$2" 5)
}
batch h2 "$TLS_H2_PORT"
echo "    100 items at concurrency 16 over HTTP/2: $B_CONNS connection(s) ($B_PROTO)"
[ "$B_CONNS" = 1 ] || fail "HTTP/2 batch opened $B_CONNS connections, expected 1"
[[ $B_PROTO == "HTTP/2.0 x100" ]] || fail "HTTP/2 batch: protocols $B_PROTO"
pass "a 100-item batch over HTTP/2 multiplexes one connection"
batch h1 "$TLS_H1_PORT"
echo "    100 items at concurrency 16 over HTTP/1.1: $B_CONNS connection(s) ($B_PROTO)"
[ "$B_CONNS" -ge 1 ] && [ "$B_CONNS" -le 16 ] || fail "HTTP/1.1 batch opened $B_CONNS connections, expected 1..16"
[[ $B_PROTO == "HTTP/1.1 x100" ]] || fail "HTTP/1.1 batch: protocols $B_PROTO"
pass "a 100-item batch over HTTP/1.1 uses at most its concurrency in connections"

# --- options.ca_file cannot make the server read another file -----------------------
PGOPTIONS="-c client_min_messages=warning" aig_psql "$PGPORT" -d postgres -c "DROP ROLE IF EXISTS aig_tls_admin" \
	-c "CREATE ROLE aig_tls_admin NOLOGIN IN ROLE ai_gateway_admin" >/dev/null
for bad in /etc/passwd ../../../../etc/passwd ../ca.pem .hidden 'a/b.pem' ''; do
	e=$(q -c "SET ROLE aig_tls_admin" -c "UPDATE ai_gateway.providers SET options = jsonb_build_object('ca_file', '$bad') WHERE name = 'h1'" 2>&1 || true)
	grep -q "must be a plain file name" <<<"$e" || fail "ca_file '$bad' by a gateway admin: $e"
done
e=$(q -c "SET ROLE aig_tls_admin" -c "UPDATE ai_gateway.providers SET options = '{\"ca_file\": 5}' WHERE name = 'h1'" 2>&1 || true)
grep -qi "ca_file" <<<"$e" || fail "a non-string ca_file was accepted: $e"
pass "a gateway admin cannot give ca_file a path, '..' or a dot file"
e=$(q -c "SET ROLE aig_tls_admin" -c "SET ai_gateway.ca_directory = '/etc'" 2>&1 || true)
grep -q "cannot be changed now" <<<"$e" || fail "a gateway admin set ai_gateway.ca_directory: $e"
e=$(q -c "SET ROLE aig_tls_admin" -c "ALTER SYSTEM SET ai_gateway.ca_directory = '/etc'" 2>&1 || true)
grep -q "permission denied\|must be superuser" <<<"$e" || fail "a gateway admin ran ALTER SYSTEM: $e"
pass "ai_gateway.ca_directory is set by a superuser only"
for f in passwd fifo.pem subdir.pem; do
	q -c "SET ROLE aig_tls_admin" -c "UPDATE ai_gateway.providers SET options = jsonb_build_object('ca_file', '$f') WHERE name = 'otherca'" >/dev/null
	e=$(err otherca/m)
	echo "    ca_file '$f': $e"
	[[ $e == UP001\|* ]] && grep -q "not a regular file" <<<"$e" || fail "ca_file '$f': $e"
done
pass "a missing file, a FIFO or a directory in ca_directory is refused before anything reads it"
q -v h1="$H1" >/dev/null <<'SQL'
INSERT INTO ai_gateway.providers (name, kind, base_url, options)
VALUES ('batchca', 'openai', :'h1', '{"ca_file": "subdir.pem"}');
SQL
n=$(q -c "SET ai_gateway.max_retries = 0" -c "SELECT count(*) FROM ai_complete_batch(array(SELECT 'b' || g FROM generate_series(1, 4) g),
	'batchca/m', NULL, '{\"concurrency\": 2}') WHERE error LIKE '%options.ca_file \"subdir.pem\" is not a regular file%'")
[ "$n" = 4 ] || fail "a batch through an unusable ca_file: $n of 4 items failed with the ca_file message"
pass "a batch through an unusable ca_file fails each item with the message, starts no transfer"
aig_psql "$PGPORT" -d postgres -c "ALTER SYSTEM RESET ai_gateway.ca_directory" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
	[ -z "$(q -d postgres -c 'SHOW ai_gateway.ca_directory')" ] && break
	sleep 0.1
done
e=$(err h1/m)
echo "    ca_directory unset: $e"
[[ $e == UP001\|* ]] && grep -q "ai_gateway.ca_directory is not set" <<<"$e" || fail "ca_file without ca_directory: $e"
pass "options.ca_file without ai_gateway.ca_directory fails clearly"

# --- nothing turns verification off -------------------------------------------------
off=$(grep -rnE --include='*.[ch]' 'SSL_VERIFY(PEER|HOST)|CURLOPT_SSL_OPTIONS|PROXY_SSL_VERIFY' "$AIG_ROOT/src" |
	grep -vE 'CURLOPT_SSL_VERIFYPEER, 1L\)|CURLOPT_SSL_VERIFYHOST, 2L\)|^[^:]*:[0-9]+: \*' || true)
[ -z "$off" ] || fail "src/ touches certificate verification: $off"
pass "certificate verification is set on once per handle, nowhere else"
