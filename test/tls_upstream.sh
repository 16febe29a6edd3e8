# test/tls_upstream.sh — an HTTPS upstream for test/integration/tls.sh and
# test/bench/bench_tls.sh: a private CA and a server certificate made on the
# spot, and nginx with two TLS listeners on 127.0.0.1 — one HTTP/1.1 only,
# one offering HTTP/2 (ALPN) — and a plain HTTP one, that either proxy to an HTTP/1.1 upstream
# (the mock provider) or answer a canned body.  nginx logs every request
# with the connection it came on, so tests count connections and TLS
# session resumptions:
#
#   <server port> <connection serial> <request # on it> <ssl_session_reused r|.> <protocol> <status>
#
# Source it (after test/lib.sh); then
#   aig_tls_make_certs DIR            DIR/ca.pem (the CA), DIR/server.pem|key
#                                     (SAN IP:127.0.0.1 only: "localhost" is a wrong name),
#                                     DIR/other_ca.pem (a CA that signed nothing here)
#   aig_tls_start_nginx DIR LOCATION  LOCATION: "proxy PORT" or "canned FILE"
#                                     (FILE: a JSON body, no '$' in it)
#     sets TLS_H1_PORT, TLS_H2_PORT, TLS_PLAIN_PORT (the same without TLS,
#     for comparisons), TLS_NGINX_PID; log in DIR/access.log
#   aig_tls_stop_nginx                stops it by its PID (call from your EXIT trap)
#   aig_tls_log_lines                 lines in the access log now
#   aig_tls_conns FROM PORT           distinct connections of the log's lines
#                                     after line FROM on PORT
#   aig_tls_new_conns FROM PORT       of those, the ones opened there (first request after FROM)
#   aig_tls_field FROM PORT N         the Nth field of those lines, sorted, counted
# shellcheck shell=bash

NGINX=${NGINX:-/usr/sbin/nginx}
TLS_NGINX_PID=
TLS_DIR=

aig_tls_make_certs() {
	local d=$1
	mkdir -p "$d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.pem -days 2 -subj "/CN=ai_gateway test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout other_ca.key -out other_ca.pem -days 2 -subj "/CN=ai_gateway other CA" \
			-addext basicConstraints=critical,CA:TRUE
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj "/CN=127.0.0.1"
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out server.pem -days 2 -extfile server.ext
		chmod 644 ca.pem other_ca.pem server.pem
		chmod 600 ca.key other_ca.key server.key
	) >"$d/openssl.log" 2>&1 || {
		cat "$d/openssl.log" >&2
		return 1
	}
}

aig_tls_start_nginx() {
	local d=$1 mode=$2 arg=$3 loc
	TLS_DIR=$d
	[ -x "$NGINX" ] || { echo "nginx not found at $NGINX" >&2; return 1; }
	TLS_H1_PORT=$(aig_free_port)
	TLS_H2_PORT=$(aig_free_port)
	while [ "$TLS_H2_PORT" = "$TLS_H1_PORT" ]; do TLS_H2_PORT=$(aig_free_port); done
	TLS_PLAIN_PORT=$(aig_free_port)
	while [ "$TLS_PLAIN_PORT" = "$TLS_H1_PORT" ] || [ "$TLS_PLAIN_PORT" = "$TLS_H2_PORT" ]; do
		TLS_PLAIN_PORT=$(aig_free_port)
	done
	case $mode in
	proxy)
		loc="proxy_pass http://aig_upstream; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_read_timeout 60s;"
		;;
	canned)
		local body
		body=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' "$arg") ||
			return 1
		[[ $body != *'$'* ]] || { echo "canned body holds '\$'" >&2; return 1; }
		body=${body//\\/\\\\}
		body=${body//\'/\\\'}
		loc="default_type application/json; return 200 '$body';"
		;;
	*)
		echo "aig_tls_start_nginx: mode proxy or canned" >&2
		return 1
		;;
	esac
	mkdir -p "$d/nginx"
	cat >"$d/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 1024; }
http {
    log_format aig_conn '\$server_port \$connection \$connection_requests \$ssl_session_reused \$server_protocol \$status';
    access_log $d/access.log aig_conn;
    server_tokens off;
    client_body_temp_path $d/nginx/client_body;
    proxy_temp_path $d/nginx/proxy;
    fastcgi_temp_path $d/nginx/fastcgi;
    uwsgi_temp_path $d/nginx/uwsgi;
    scgi_temp_path $d/nginx/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # no server-side session cache: TLS 1.3 tickets are then stateless and
    # may resume several connections (with a cache OpenSSL makes each ticket
    # single-use, so concurrent connections offering one would race)
    ssl_session_cache none;
    ssl_session_tickets on;
    upstream aig_upstream {
        server 127.0.0.1:${arg//[^0-9]/};
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$TLS_H1_PORT ssl;
        location = /_aig_ready { return 204; }
        location / { $loc }
    }
    server {
        listen 127.0.0.1:$TLS_PLAIN_PORT;
        location = /_aig_ready { return 204; }
        location / { $loc }
    }
    server {
        listen 127.0.0.1:$TLS_H2_PORT ssl http2;
        http2_max_concurrent_streams 128;
        location = /_aig_ready { return 204; }
        location / { $loc }
    }
}
EOF
	[ "$mode" = proxy ] || sed -i '/upstream aig_upstream/,/^    }$/d' "$d/nginx/nginx.conf"
	"$NGINX" -e "$d/nginx/error.log" -p "$d/nginx" -c "$d/nginx/nginx.conf" </dev/null >"$d/nginx/nginx.out" 2>&1 &
	TLS_NGINX_PID=$!
	for _ in $(seq 1 100); do
		kill -0 "$TLS_NGINX_PID" 2>/dev/null || break
		if curl -s -o /dev/null --max-time 2 --cacert "$d/ca.pem" "https://127.0.0.1:$TLS_H1_PORT/_aig_ready" &&
			curl -s -o /dev/null --max-time 2 --cacert "$d/ca.pem" "https://127.0.0.1:$TLS_H2_PORT/_aig_ready"; then
			return 0
		fi
		sleep 0.05
	done
	cat "$d/nginx/nginx.out" "$d/nginx/error.log" >&2 2>/dev/null
	echo "nginx did not start (TLS listeners 127.0.0.1:$TLS_H1_PORT, :$TLS_H2_PORT)" >&2
	return 1
}

aig_tls_stop_nginx() {
	local workers p
	[ -n "$TLS_NGINX_PID" ] || return 0
	workers=$(ps -o pid= --ppid "$TLS_NGINX_PID" 2>/dev/null)
	kill -TERM "$TLS_NGINX_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$TLS_NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TLS_NGINX_PID" 2>/dev/null || true
	wait "$TLS_NGINX_PID" 2>/dev/null || true
	for p in $workers; do kill -KILL "$p" 2>/dev/null || true; done
	TLS_NGINX_PID=
	return 0
}

aig_tls_log_lines() { wc -l <"$TLS_DIR/access.log"; }

aig_tls_conns() {
	sleep 0.2 # nginx logs a request just after its answer went out
	tail -n +"$(($1 + 1))" "$TLS_DIR/access.log" | awk -v p="$2" '$1 == p { c[$2] = 1 } END { print length(c) }'
}

aig_tls_new_conns() {
	sleep 0.2 # nginx logs a request just after its answer went out
	tail -n +"$(($1 + 1))" "$TLS_DIR/access.log" | awk -v p="$2" '$1 == p && $3 == 1 { c[$2] = 1 } END { print length(c) }'
}

aig_tls_field() {
	tail -n +"$(($1 + 1))" "$TLS_DIR/access.log" | awk -v p="$2" -v f="$3" '$1 == p { print $f }' | sort | uniq -c |
		awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 } END { print "" }'
}
