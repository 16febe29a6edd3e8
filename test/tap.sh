#!/usr/bin/env bash
# test/tap.sh — the TAP tests (test/tap/*.pl): perl scripts on
# PostgreSQL::Test::Cluster (the modules PGXS installs under
# lib/pgxs/src/test/perl of the PostgreSQL that pg_config names; IPC::Run
# from libipc-run-perl), run with prove.  Each test starts its own clusters
# on free ports and stops them; the mock provider is the caller's
# (MOCK_PORT) or one started here.  As root, prove runs as "postgres"
# (PostgreSQL refuses root).  test/run_all.sh runs this after the
# integration tests.
#
#   test/tap.sh                    every test/tap/*.pl
#   test/tap.sh test/tap/001_standby.pl
#   AIG_KEEP=1 test/tap.sh         keep the work dir (the clusters' logs)
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$AIG_ROOT"

pgxs_src="$(dirname "$("$PG_CONFIG" --pgxs)")/.."
perl_lib="$pgxs_src/test/perl"
# Cluster.pm runs pg_regress --config-auth when it makes a cluster
pg_regress="$pgxs_src/test/regress/pg_regress"
[ -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ] ||
	{ echo "tap.sh: PostgreSQL::Test::Cluster not found under $perl_lib (postgresql-server-dev)" >&2; exit 1; }
perl -MIPC::Run -e 1 2>/dev/null ||
	{ echo "tap.sh: the perl module IPC::Run is missing (apt-get install libipc-run-perl)" >&2; exit 1; }
command -v prove >/dev/null || { echo "tap.sh: prove not found (perl)" >&2; exit 1; }

work=$(mktemp -d /tmp/aig_tap.XXXXXX)
chmod 755 "$work"
cleanup() {
	aig_cleanup
	if [ "${AIG_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${MOCK_PORT:-}" ]; then
	aig_start_mock MOCK_PORT
fi

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test/tap/*.pl)
as_pg=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$work"
	as_pg=(runuser -u postgres --)
	# a clone postgres cannot read (under /root): the tests run from a copy
	if ! runuser -u postgres -- test -r "$AIG_ROOT/test/tap"; then
		mkdir -p "$work/tree/test"
		cp -r test/tap "$work/tree/test/"
		chmod -R a+rX "$work/tree"
		cd "$work/tree"
	fi
fi
# the tests' clusters, logs and backups go to the work dir
"${as_pg[@]}" env PATH="$("$PG_CONFIG" --bindir):$PATH" PERL5LIB="$perl_lib" \
	PG_REGRESS="$pg_regress" TESTDIR="$work" MOCK_PORT="$MOCK_PORT" PG_TEST_TIMEOUT_DEFAULT=60 \
	prove --timer "${tests[@]}" || {
	status=$?
	for f in "$work"/tmp_check/log/regress_log_*; do
		[ -f "$f" ] || continue
		echo "---- $f (last 60 lines)"
		tail -n 60 "$f"
	done
	exit "$status"
}
