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

# aig_make_db PORT DB MOCK_PORT: a fresh database with the extension and one
# provider of each kind (keys like the regression suite's) on the mock.
aig_make_db() {
	local port=$1 db=$2 mock=$3
	aig_psql "$port" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	aig_psql "$port" -d "$db" -v mock="http://127.0.0.1:$mock" <<'SQL'
CREATE EXTENSION ai_gateway;
INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES
    ('openai',    'openai',       :'mock' || '/v1', 'sk-integration-openai-0123456789'),
    ('anthropic', 'anthropic',    :'mock',          'sk-ant-integration-0123456789'),
    ('cohere',    'cohere',       :'mock',          'co-integration-0123456789'),
    ('ollama',    'ollama',       :'mock',          NULL),
    ('gemini',    'gemini',       :'mock',          'AIza-integration-0123456789'),
    ('azure',     'azure_openai', :'mock',          'az-integration-0123456789');
SQL
}

# aig_regression_db PORT MOCK_PORT: a fresh aig_regression (the database the
# workers serve) as the regression suite's test/sql/setup.sql makes it: the
# extension, one provider of every kind on the mock, its database settings
# and helpers; returns once the three workers are connected to it (the
# launcher starts them when CREATE EXTENSION commits).  For the integration tests.
aig_regression_db() {
	local port=$1 mock=$2 n=0
	PGOPTIONS="-c client_min_messages=warning" \
		aig_psql "$port" -d postgres -c "DROP DATABASE IF EXISTS aig_regression" \
		-c "CREATE DATABASE aig_regression" >/dev/null
	MOCK_PORT=$mock aig_psql "$port" -d aig_regression -f "$AIG_ROOT/test/sql/setup.sql" >/dev/null
	for _ in $(seq 1 150); do
		n=$(aig_psql "$port" -d postgres -At -c "SELECT count(*) FROM pg_stat_activity
			WHERE backend_type LIKE 'ai_gateway%' AND datname = 'aig_regression'")
		[ "$n" -ge 3 ] && return 0
		sleep 0.1
	done
	echo "aig_regression_db: $n of 3 ai_gateway workers connected to aig_regression after 15 s" >&2
	return 1
}

# aig_mock_stats MOCK_PORT [python expression over the stats dict s]
aig_mock_stats() {
	python3 - "$1" "${2:-s}" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_mock/stats"))
print(eval(sys.argv[2]))
PY
}

# aig_mock_last MOCK_PORT [python expression over the last request b]
aig_mock_last() {
	python3 - "$1" "${2:-b}" <<'PY'
import json, sys, urllib.request
b = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_mock/last"))
print(eval(sys.argv[2]))
PY
}

aig_mock_reset() {
	python3 -c "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:$1/_mock/reset', method='POST')).read()"
}

# aig_now_ms: wall clock in milliseconds
aig_now_ms() { date +%s%3N; }

# aig_pg_static_libs: sets AIG_PGLIBS to PostgreSQL's frontend libpgcommon.a
# and libpgport.a (for the standalone unit tests and fuzz targets built from
# src/), or fails with a message
aig_pg_static_libs() {
	local l d
	AIG_PGLIBS=()
	for l in libpgcommon.a libpgport.a; do
		for d in "$("$PG_CONFIG" --libdir)" "$("$PG_CONFIG" --pkglibdir)"; do
			if [ -f "$d/$l" ]; then
				AIG_PGLIBS+=("$d/$l")
				break
			fi
		done
	done
	[ ${#AIG_PGLIBS[@]} -eq 2 ] ||
		{ echo "libpgcommon.a / libpgport.a not found under $("$PG_CONFIG" --libdir)" >&2; return 1; }
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "  ok: $*"; }
