#!/usr/bin/env bash
# test/sigv4_test.sh — build and run the standalone AWS SigV4 signer test
# (test/sigv4_test.c, which includes src/providers/sigv4.c).  No server needed.
#
# It builds twice: once optimized (-O2, as the extension is built), and once
# with AddressSanitizer and UBSan if the compiler supports them (to catch
# reads past the NUL, overflows and undefined behaviour).  palloc and
# StringInfo come from PostgreSQL's frontend libpgcommon.a and libpgport.a.
# Exit status 0 means every check passed.
#
#   bash test/sigv4_test.sh
#   SIGV4_NO_SANITIZE=1 bash test/sigv4_test.sh         skip the sanitizer build
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

work=$(mktemp -d /tmp/sigv4_test.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== sigv4_test: build (-O2)"
"$CC" -std=gnu99 -O2 -g "${warn[@]}" "${incs[@]}" test/sigv4_test.c \
	"${AIG_PGLIBS[@]}" -lcrypto -o "$work/sigv4_test"
echo "== sigv4_test: run"
"$work/sigv4_test"

if [ "${SIGV4_NO_SANITIZE:-0}" != 1 ] &&
	echo 'int main(void){return 0;}' |
	"$CC" -x c -fsanitize=address,undefined - -o "$work/probe" 2>/dev/null; then
	echo "== sigv4_test: build (ASan + UBSan)"
	"$CC" -std=gnu99 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all "${warn[@]}" "${incs[@]}" test/sigv4_test.c \
		"${AIG_PGLIBS[@]}" -lcrypto -o "$work/sigv4_test_san"
	echo "== sigv4_test: run (sanitizers)"
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$work/sigv4_test_san"
else
	echo "== sigv4_test: sanitizer build skipped"
fi
echo "== sigv4_test: OK"
