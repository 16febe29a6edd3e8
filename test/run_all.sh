#!/usr/bin/env bash
# test/run_all.sh — the whole test suite (the README's test command).
#
# Checks that every include points down the source tree's layers
# (test/check_layers.sh; a failure fails the suite, the rest still runs),
# builds with warnings as errors, installs into the PostgreSQL that
# pg_config names, starts the mock provider and a throwaway cluster
# (127.0.0.1, a free port, ai_gateway preloaded), runs the pg_regress suite
# (sql/*.sql against expected/*.out, order in test/schedule) and the
# integration tests (test/integration/*.sh), then stops everything it started.
#
#   test/run_all.sh              everything
#   test/run_all.sh --regress    only pg_regress
#   test/run_all.sh --only a,b   pg_regress, then only integration/a.sh, b.sh
#   AIG_KEEP=1 test/run_all.sh   keep the work directory for inspection
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$AIG_ROOT"

only_regress=0
only=""
[ "${1:-}" = "--regress" ] && only_regress=1
[ "${1:-}" = "--only" ] && only=",${2:?--only needs test names},"

status=0
echo "== include layers"
if ! bash "$AIG_ROOT/test/check_layers.sh"; then
	echo "FAILED: check_layers.sh (an include points up the layers)"
	status=1
fi

echo "== build"
make -s -j2 PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ]; then
	make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
	sudo make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
fi

work=$(mktemp -d /tmp/aig_test.XXXXXX)
chmod 755 "$work"
cleanup() {
	aig_cleanup
	if [ "${AIG_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

aig_start_mock MOCK_PORT
export MOCK_PORT
PGPORT=$(aig_free_port)
export PGPORT PGHOST=127.0.0.1 PGUSER=postgres
# the worker (audit writer, quota persistence) serves the regression database
# the suite calls thousands of distinct provider/model strings (fault matrix,
# security): room for all of their breakers and statistics
aig_start_cluster "$work/cluster" "$PGPORT" "ai_gateway.database = 'aig_regression'" \
	"ai_gateway.quota_persist_ms = 500" "ai_gateway.max_targets = 5000" "ai_gateway.max_stats = 5000"
export AIG_SERVER_LOG="$work/cluster/server.log"
echo "== mock provider on 127.0.0.1:$MOCK_PORT, cluster on 127.0.0.1:$PGPORT"

echo "== pg_regress"
PG_REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
mkdir -p "$work/regress"
if ! "$PG_REGRESS" --host=127.0.0.1 --port="$PGPORT" --user=postgres \
	--bindir="$PG_BINDIR" --inputdir="$AIG_ROOT" --outputdir="$work/regress" \
	--dbname=aig_regression --schedule="$AIG_ROOT/test/schedule"; then
	status=1
	echo "---- regression.diffs"
	cat "$work/regress/regression.diffs" || true
fi

if [ "$only_regress" = 0 ]; then
	for t in "$AIG_ROOT"/test/integration/*.sh; do
		[ -e "$t" ] || continue
		if [ -n "$only" ] && [[ "$only" != *",$(basename "$t" .sh),"* ]]; then continue; fi
		echo "== integration: $(basename "$t")"
		if ! WORK="$work" bash ${AIG_TRACE:+-x} "$t"; then
			echo "FAILED: $(basename "$t")"
			status=1
		fi
	done
	if [ -z "$only" ]; then
		echo "== PII redactor unit test"
		bash "$AIG_ROOT/test/redact_test.sh" || status=1
		echo "== JSON reader/writer unit test"
		bash "$AIG_ROOT/test/json_test.sh" || status=1
		echo "== mock provider self-test"
		python3 "$AIG_ROOT/test/test_mock_provider.py" || status=1
	fi
fi

if [ "$status" = 0 ]; then echo "== all tests passed"; else echo "== SOME TESTS FAILED"; fi
exit "$status"
