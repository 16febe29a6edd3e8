#!/usr/bin/env bash
# test/cluster.sh — a throwaway PostgreSQL cluster for tests, benchmarks and
# the demo: 127.0.0.1 only, a non-default port, ai_gateway preloaded.
#
#   test/cluster.sh start DIR PORT [extra postgresql.conf lines...]
#   test/cluster.sh stop DIR
#
# Runs the server as the invoking user, or as "postgres" when invoked as
# root (PostgreSQL refuses to run as root).  DIR is created if missing.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$("$PG_CONFIG" --bindir)

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:?usage: cluster.sh start|stop DIR [PORT]}
dir=${2:?cluster directory}

case "$cmd" in
start)
	port=${3:?port}
	shift 3
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust \
			--no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log"; exit 1; }
		{
			echo "port = $port"
			echo "listen_addresses = '127.0.0.1'"
			echo "unix_socket_directories = '$dir'"
			echo "shared_preload_libraries = 'ai_gateway'"
			echo "fsync = off"
			echo "max_connections = 60"
			echo "log_min_messages = warning"
			for line in "$@"; do echo "$line"; done
		} >>"$dir/data/postgresql.conf"
	fi
	as_pg "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ tail -n 30 "$dir/server.log"; exit 1; }
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
	fi
	;;
*)
	echo "usage: cluster.sh start DIR PORT | stop DIR" >&2
	exit 2
	;;
esac
