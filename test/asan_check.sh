#!/usr/bin/env bash
# test/asan_check.sh — the pg_regress suite against an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the extension (`make asan-check`).
#
# 1. Builds a copy of the tree (so the tree's objects stay as they are)
#    with gcc and COPT="-fsanitize=address,undefined -fno-omit-frame-pointer"
#    and installs it into the PostgreSQL that PG_CONFIG names.
# 2. Starts the mock provider and a throwaway cluster with gcc's ASan
#    runtime preloaded into the server (LD_PRELOAD: postgres itself is not
#    instrumented, and ASan must be the first library loaded; followed by
#    test/asan_preload.c, without which postgres hangs at start), with
#    ASAN_OPTIONS detect_leaks=0 (memory contexts are not freed at exit)
#    and halt_on_error/abort_on_error, UBSAN_OPTIONS print_stacktrace and
#    halt_on_error: a report ends the backend and is written to its stderr,
#    the server log.
# 3. Runs the pg_regress suite (make installcheck against that server,
#    REGRESS_INSTANCE: test/schedule, database aig_regression, this mock),
#    checks that the server really ran with the runtime
#    and the instrumented library, and fails if the server log holds any
#    ASan or UBSan report (or the suite fails).
# 4. On every exit: stops what it started and installs the normal build
#    again (make && make install from the tree).
#
#   make asan-check
#   PG_CONFIG=/path/to/pg_config bash test/asan_check.sh
#   AIG_KEEP=1 bash test/asan_check.sh      keep the work directory
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$AIG_ROOT"

CC=${ASAN_CC:-gcc}
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
libasan=$(readlink -f "$("$CC" -print-file-name=libasan.so)")
[ -f "$libasan" ] || { echo "asan-check: $CC has no libasan.so" >&2; exit 1; }

as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)

work=$(mktemp -d /tmp/aig_asan.XXXXXX)
chmod 755 "$work"
reinstalled=0
finish() {
	local rc=$?
	aig_cleanup
	if [ "$reinstalled" = 0 ]; then
		echo "== asan-check: reinstalling the normal build"
		if ! { make -s -j2 PG_CONFIG="$PG_CONFIG" &&
			"${as_root[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null; }; then
			echo "asan-check: could not reinstall the normal build" >&2
			rc=1
		fi
	fi
	if [ "${AIG_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM INT

echo "== asan-check: build with $SAN_FLAGS ($CC)"
"$CC" -shared -fPIC -O2 -Wall -Wextra -Werror test/asan_preload.c -o "$work/asan_preload.so"
chmod 755 "$work/asan_preload.so"
mkdir -p "$work/build"
cp -r Makefile ai_gateway.control sql src "$work/build/"
make -s -C "$work/build" clean PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C "$work/build" -j2 PG_CONFIG="$PG_CONFIG" CC="$CC" COPT="$SAN_FLAGS"
"${as_root[@]}" make -s -C "$work/build" install PG_CONFIG="$PG_CONFIG" >/dev/null
so="$("$PG_CONFIG" --pkglibdir)/ai_gateway.so"
instrumented() { nm -D "$1" | grep -c __asan_init >/dev/null; }
instrumented "$so" || { echo "asan-check: $so is not instrumented" >&2; exit 1; }

aig_start_mock MOCK_PORT
export MOCK_PORT
PGPORT=$(aig_free_port)
export PGPORT PGHOST=127.0.0.1 PGUSER=postgres
AIG_CLUSTERS+=("$work/cluster")
LD_PRELOAD="$libasan $work/asan_preload.so" \
	ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:disable_coredump=1:print_summary=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:print_summary=1" \
	timeout 600 "$AIG_ROOT/test/cluster.sh" start "$work/cluster" "$PGPORT" \
	"ai_gateway.database = 'aig_regression'" "ai_gateway.quota_persist_ms = 500" "jit = off"
log="$work/cluster/server.log"
pm=$(head -n 1 "$work/cluster/data/postmaster.pid")
grep -q libasan "/proc/$pm/maps" || { echo "asan-check: the server runs without the ASan runtime" >&2; exit 1; }
grep -q ai_gateway.so "/proc/$pm/maps" || { echo "asan-check: ai_gateway.so is not preloaded" >&2; exit 1; }
echo "== asan-check: mock on 127.0.0.1:$MOCK_PORT, sanitized cluster on 127.0.0.1:$PGPORT"

status=0
# the suite through its PGXS entry, against this sanitized server instead of
# a temporary instance (LD_PRELOAD would reach initdb and psql too)
mkdir -p "$work/regress"
if ! timeout 1800 make -s installcheck PG_CONFIG="$PG_CONFIG" REGRESS_OUT="$work/regress" \
	REGRESS_INSTANCE="--host=127.0.0.1 --port=$PGPORT --user=postgres"; then
	status=1
	echo "---- regression.diffs"
	cat "$work/regress/regression.diffs" || true
fi

aig_cleanup
# a report, or a backend that died of one (abort_on_error: SIGABRT)
pattern='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)|was terminated by signal|terminating any other active server processes'
if grep -Eq "$pattern" "$log"; then
	echo "---- sanitizer reports / crashed processes in the server log ($log)"
	grep -En -A 30 "$pattern" "$log" | head -n 200
	status=1
else
	echo "== asan-check: no ASan/UBSan report in the server log"
fi

echo "== asan-check: reinstalling the normal build"
reinstalled=1
make -s -j2 PG_CONFIG="$PG_CONFIG"
"${as_root[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
if instrumented "$so"; then
	echo "asan-check: the installed ai_gateway.so is still the sanitized one" >&2
	status=1
fi

if [ "$status" = 0 ]; then echo "== asan-check: OK"; else echo "== asan-check: FAILED"; fi
exit "$status"
