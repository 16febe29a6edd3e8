#!/usr/bin/env bash
# test/run_all.sh — the whole test suite (the README's test command).
#
# Checks that every include points down the source tree's layers
# (test/check_layers.sh; a failure fails the suite, the rest still runs),
# builds with warnings as errors, installs into the PostgreSQL that
# pg_config names, starts the mock provider, runs the pg_regress suite with
# `make installcheck` (test/sql/*.sql against test/expected/*.out, order in
# test/schedule, on a temporary instance that pg_regress starts and stops:
# see the Makefile), then starts a throwaway cluster (127.0.0.1, a free port,
# ai_gateway preloaded, database aig_regression made by test/sql/setup.sql)
# for the integration tests (test/integration/*.sh), then the TAP tests
# (test/tap.sh: test/tap/*.pl on PostgreSQL::Test::Cluster, which start
# their own clusters), the unit tests and the mock's self-test, and stops
# everything it started.
#
#   test/run_all.sh              everything
#   test/run_all.sh --regress    only pg_regress
#   test/run_all.sh --only a,b   pg_regress, then only integration/a.sh, b.sh
#                                (the name "tap" selects the TAP tests)
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

# pg_regress through PGXS (make installcheck): a temporary instance that
# pg_regress starts and stops, test/regress.conf's settings, this mock.
# initdb refuses root: as root, run it as postgres (the tree stays read-only
# to it; results/, regression.diffs, log/ and the instance go to the work dir)
echo "== pg_regress (make installcheck; mock provider on 127.0.0.1:$MOCK_PORT)"
mkdir -p "$work/regress"
as_pg=()
tree=$AIG_ROOT
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$work/regress"
	as_pg=(runuser -u postgres --)
	# a clone postgres cannot read (under /root): pg_regress runs from a copy
	if ! runuser -u postgres -- test -r "$AIG_ROOT/test/schedule"; then
		tree="$work/tree"
		mkdir -p "$tree"
		cp -r Makefile ai_gateway.control sql src test "$tree/"
		chmod -R a+rX "$tree"
	fi
fi
if ! "${as_pg[@]}" make -s -C "$tree" installcheck PG_CONFIG="$PG_CONFIG" REGRESS_OUT="$work/regress"; then
	status=1
	echo "---- regression.diffs (server log: $work/regress/log/postmaster.log, kept with AIG_KEEP=1)"
	cat "$work/regress/regression.diffs" || true
fi

if [ "$only_regress" = 0 ]; then
	# the integration tests' cluster, with aig_regression as test/sql/setup.sql
	# leaves it (the extension, one provider of each kind on the mock); room
	# for the breakers and statistics of the fault matrix's thousands of models
	PGPORT=$(aig_free_port)
	export PGPORT PGHOST=127.0.0.1 PGUSER=postgres
	aig_start_cluster "$work/cluster" "$PGPORT" "ai_gateway.database = 'aig_regression'" \
		"ai_gateway.quota_persist_ms = 500" "ai_gateway.max_targets = 5000" "ai_gateway.max_stats = 5000"
	export AIG_SERVER_LOG="$work/cluster/server.log"
	aig_regression_db "$PGPORT" "$MOCK_PORT"
	echo "== integration cluster on 127.0.0.1:$PGPORT"
	for t in "$AIG_ROOT"/test/integration/*.sh; do
		[ -e "$t" ] || continue
		if [ -n "$only" ] && [[ "$only" != *",$(basename "$t" .sh),"* ]]; then continue; fi
		echo "== integration: $(basename "$t")"
		if ! WORK="$work" bash ${AIG_TRACE:+-x} "$t"; then
			echo "FAILED: $(basename "$t")"
			status=1
		fi
	done
	# the TAP tests (test/tap/*.pl, PostgreSQL::Test::Cluster): their own
	# clusters on free ports (a primary and a streaming standby), this mock
	if [ -z "$only" ] || [[ "$only" == *",tap,"* ]]; then
		echo "== TAP tests (test/tap.sh)"
		if ! MOCK_PORT="$MOCK_PORT" bash "$AIG_ROOT/test/tap.sh"; then
			echo "FAILED: test/tap.sh"
			status=1
		fi
	fi
	if [ -z "$only" ]; then
		echo "== PII redactor unit test"
		bash "$AIG_ROOT/test/redact_test.sh" || status=1
		echo "== JSON reader/writer unit test"
		bash "$AIG_ROOT/test/json_test.sh" || status=1
		echo "== OpenAI-family/Ollama tool and image unit test"
		bash "$AIG_ROOT/test/tools_openai_test.sh" || status=1
		echo "== AWS SigV4 signer unit test"
		bash "$AIG_ROOT/test/sigv4_test.sh" || status=1
		echo "== mock provider self-test"
		python3 "$AIG_ROOT/test/test_mock_provider.py" || status=1
	fi
fi

if [ "$status" = 0 ]; then echo "== all tests passed"; else echo "== SOME TESTS FAILED"; fi
exit "$status"
