#!/usr/bin/env bash
# test/installcheck.sh — runs the pg_regress command line that
# `make installcheck` builds, with the mock provider the suite needs.
#
#   bash test/installcheck.sh PG_REGRESS [pg_regress options and tests...]
#
# With MOCK_PORT set, the suite uses the mock provider listening there (it
# must be freshly started: the suite counts on its fail_first counters).
# Otherwise this starts test/mock_provider.py on a free port of 127.0.0.1,
# exports MOCK_PORT (test/sql/setup.sql reads it with \getenv) and stops the
# mock by its PID when pg_regress returns.  Fails at once, with what to do,
# when run as root with --temp-instance (initdb refuses root).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
trap aig_cleanup EXIT
trap 'exit 143' TERM INT

if [ "$(id -u)" = 0 ] && [[ " $* " == *" --temp-instance="* ]]; then
	cat >&2 <<'MSG'
make installcheck: pg_regress --temp-instance runs initdb, which refuses to
run as root.  Run it as the postgres user with an output directory that
user can write, e.g.
    runuser -u postgres -- make installcheck REGRESS_OUT=/tmp/aig_regress
or run test/run_all.sh --regress, which does that for you.
MSG
	exit 1
fi

if [ -z "${MOCK_PORT:-}" ]; then
	aig_start_mock MOCK_PORT
	export MOCK_PORT
	echo "installcheck: mock provider started on 127.0.0.1:$MOCK_PORT"
fi

status=0
"$@" || status=$?
exit "$status"
