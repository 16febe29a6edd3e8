#!/usr/bin/env bash
# test/redact_test.sh — build and run the standalone PII redaction test
# (test/redact_test.c, which includes src/governance/redact.c).  No server needed.
#
# It builds twice: once optimized (-O2, as the extension is built), and once
# with AddressSanitizer and UBSan if the compiler supports them (to catch
# reads past the NUL, overflows and undefined behaviour).  palloc and
# StringInfo come from PostgreSQL's frontend libpgcommon.a and libpgport.a.
# Exit status 0 means every check passed.
#
#   bash test/redact_test.sh
#   REDACT_TEST_ROUNDS=200000 bash test/redact_test.sh    more random inputs
#   REDACT_NO_SANITIZE=1 bash test/redact_test.sh         skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
CC=${CC:-gcc}
incs=(-I src -I "$("$PG_CONFIG" --includedir-server)")
# shellcheck source=lib.sh disable=SC1091
. test/lib.sh
aig_pg_static_libs
warn=(-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
	-Wno-sign-compare -Wdeclaration-after-statement)

work=$(mktemp -d /tmp/redact_test.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== redact_test: build (-O2)"
"$CC" -std=gnu99 -O2 -g "${warn[@]}" "${incs[@]}" test/redact_test.c \
	"${AIG_PGLIBS[@]}" -o "$work/redact_test"
echo "== redact_test: run"
"$work/redact_test"

if [ "${REDACT_NO_SANITIZE:-0}" != 1 ] &&
	echo 'int main(void){return 0;}' |
	"$CC" -x c -fsanitize=address,undefined - -o "$work/probe" 2>/dev/null; then
	echo "== redact_test: build (ASan + UBSan)"
	"$CC" -std=gnu99 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all "${warn[@]}" "${incs[@]}" test/redact_test.c \
		"${AIG_PGLIBS[@]}" -o "$work/redact_test_san"
	echo "== redact_test: run (sanitizers)"
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		REDACT_TEST_TIME_LIMIT=${REDACT_TEST_TIME_LIMIT:-20} \
		"$work/redact_test_san"
else
	echo "== redact_test: sanitizer build skipped"
fi
echo "== redact_test: OK"
