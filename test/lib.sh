# test/lib.sh — shared by the test, benchmark and demo scripts: start and
# stop the mock provider and a throwaway cluster, each by its PID, and pick
# free ports.  Source it; call aig_cleanup from an EXIT trap.

AIG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
AIG_PIDS=()
AIG_CLUSTERS=()

aig_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# aig_start_mock VAR: starts test/mock_provider.py, sets VAR to its port
aig_start_mock() {
	local __var=$1 pf
	pf=$(mktemp -u /tmp/aig_mock_port.XXXXXX)
	python3 "$AIG_ROOT/test/mock_provider.py" --port 0 --port-file "$pf" >/dev/null 2>&1 &
	AIG_PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -s "$pf" ] && break
		sleep 0.05
	done
	[ -s "$pf" ] || { echo "mock provider did not start" >&2; return 1; }
	printf -v "$__var" '%s' "$(cat "$pf")"
	rm -f "$pf"
}

# aig_start_cluster DIR PORT [conf lines...]
aig_start_cluster() {
	"$AIG_ROOT/test/cluster.sh" start "$@"
	AIG_CLUSTERS+=("$1")
}

aig_cleanup() {
	for c in "${AIG_CLUSTERS[@]}"; do "$AIG_ROOT/test/cluster.sh" stop "$c" || true; done
	for p in "${AIG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${AIG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	AIG_CLUSTERS=()
	AIG_PIDS=()
}

# aig_psql PORT [psql args...]: quiet, unaligned, stop on error
aig_psql() {
	local port=$1
	shift
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}
