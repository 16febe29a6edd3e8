#!/usr/bin/env bash
# test/presets_test.sh — build and run the unit test of the provider presets
# (test/presets_test.c, which includes src/providers/presets.c, with the
# other dialects, the JSON helpers, json-c and the palloc stand-in
# test/fuzz/fuzz_support.c; -lcrypto for sigv4.c).  No server needed.  Builds with AddressSanitizer
# + UBSan when the compiler supports them, else plainly.  Exit status 0 means
# every check passed.
#
#   bash test/presets_test.sh
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
srcs=(test/presets_test.c src/transport/json.c src/transport/json_body.c test/fuzz/fuzz_support.c)
for f in src/providers/*.c; do
	[ "$f" = src/providers/presets.c ] || srcs+=("$f")
done

work=$(mktemp -d /tmp/presets_test.XXXXXX)
trap 'rm -rf "$work"' EXIT

san=()
if echo 'int main(void){return 0;}' |
	"$CC" -x c -fsanitize=address,undefined - -o "$work/probe" 2>/dev/null; then
	san=(-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
fi
echo "== presets_test: build${san:+ (ASan + UBSan)}"
"$CC" -std=gnu99 -g "${san[@]:--O2}" "${warn[@]}" "${incs[@]}" "${srcs[@]}" "${AIG_PGLIBS[@]}" \
	-ljson-c -lcrypto -lm -o "$work/presets_test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$work/presets_test"
echo "== presets_test: OK"
