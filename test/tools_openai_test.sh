#!/usr/bin/env bash
# test/tools_openai_test.sh — build and run the unit test of the OpenAI-family
# and Ollama dialects' tool calls and image/document parts
# (test/tools_openai_test.c with src/providers/*.c, the JSON helpers, json-c
# and the palloc stand-in test/fuzz/fuzz_support.c).  No server needed.
# Built with AddressSanitizer + UBSan when the compiler supports them, else
# plainly.  Exit status 0 means every check passed.
#
#   bash test/tools_openai_test.sh
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
srcs=(test/tools_openai_test.c src/transport/json.c src/transport/json_body.c
	src/providers/*.c test/fuzz/fuzz_support.c)

work=$(mktemp -d /tmp/tools_openai_test.XXXXXX)
trap 'rm -rf "$work"' EXIT

san=()
if echo 'int main(void){return 0;}' |
	"$CC" -x c -fsanitize=address,undefined - -o "$work/probe" 2>/dev/null; then
	san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
fi
echo "== tools_openai_test: build ${san[*]:+(ASan + UBSan)}"
"$CC" -std=gnu99 -O1 -g "${san[@]}" "${warn[@]}" "${incs[@]}" "${srcs[@]}" "${AIG_PGLIBS[@]}" \
	-ljson-c -lm -o "$work/tools_openai_test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$work/tools_openai_test"
echo "== tools_openai_test: OK"
