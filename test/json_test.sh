#!/usr/bin/env bash
# test/json_test.sh — build and run the unit test of the JSON helpers
# over json-c and the request-body writer (test/json_test.c with
# src/transport/json.c, src/transport/json_body.c, json-c and the palloc
# stand-in test/fuzz/fuzz_support.c).  No server needed.
#
# Builds twice: optimized (-O2, as the extension is built), and with
# AddressSanitizer + UBSan when the compiler supports them.  palloc's
# StringInfo and the UTF-8 helpers come from PostgreSQL's frontend
# libpgcommon.a / libpgport.a.  Exit status 0 means every check passed.
#
#   bash test/json_test.sh
#   JSON_NO_SANITIZE=1 bash test/json_test.sh     skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
CC=${CC:-gcc}
incs=(-I src -I test/fuzz -I "$("$PG_CONFIG" --includedir-server)")
# shellcheck source=lib.sh disable=SC1091
. test/lib.sh
aig_pg_static_libs
warn=(-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
	-Wno-sign-compare -Wdeclaration-after-statement)
srcs=(test/json_test.c src/transport/json.c src/transport/json_body.c test/fuzz/fuzz_support.c)

work=$(mktemp -d /tmp/json_test.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== json_test: build (-O2)"
"$CC" -std=gnu99 -O2 -g "${warn[@]}" "${incs[@]}" "${srcs[@]}" "${AIG_PGLIBS[@]}" -ljson-c -lm \
	-o "$work/json_test"
"$work/json_test"

if [ "${JSON_NO_SANITIZE:-0}" != 1 ] &&
	echo 'int main(void){return 0;}' |
	"$CC" -x c -fsanitize=address,undefined - -o "$work/probe" 2>/dev/null; then
	echo "== json_test: build (ASan + UBSan)"
	"$CC" -std=gnu99 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all "${warn[@]}" "${incs[@]}" "${srcs[@]}" "${AIG_PGLIBS[@]}" -ljson-c -lm \
		-o "$work/json_test_san"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$work/json_test_san"
else
	echo "== json_test: sanitizer build skipped"
fi
echo "== json_test: OK"
