#!/usr/bin/env bash
# test/fuzz/run.sh — build the libFuzzer targets and fuzz each one for a
# bounded time (`make fuzz` runs this).
#
# Targets: one per dialect (fuzz_dialect.c built with -DFUZZ_DIALECT=
# aig_dialect_<name>: parse_chat, parse_embed and parse_error of
# src/providers/<kind>.c), one for the JSON helpers over json-c and the
# body writer (fuzz_json.c: src/transport/json.c, json_body.c), one for the
# structured-answer check (fuzz_structured.c: src/routing/structured.c), one
# per provider Batch API (fuzz_batch.c built with -DFUZZ_BATCH=aig_<target>:
# batch_openai and batch_anthropic, src/providers/batch_*.c), one
# for the token endpoints' answers (fuzz_oauth.c: src/providers/oauth.c) and
# one for the PII redactor (fuzz_redact.c, src/governance/redact.c, src/governance/redact_scan.c).  Built with clang and -fsanitize=fuzzer,address,undefined
# (-fno-sanitize-recover: undefined behaviour aborts), linked with
# fuzz_support.c, json-c and PostgreSQL's frontend libpgcommon.a /
# libpgport.a.
#
# For each target, in order:
#   1. replay test/fuzz/regressions/<target>/* (earlier findings, kept
#      for good); a failure there fails the run;
#   2. fuzz for FUZZ_SECONDS, starting from the seeds make_seeds.py writes
#      (test/samples/ and test/fuzz/seeds/) and the corpus grown by earlier
#      local runs (test/fuzz/work/, not in git).
# A crash, leak, undefined behaviour, failed contract check (see the
# targets' headers) or timeout fails the run, and the input that caused it
# is copied to test/fuzz/regressions/<target>/: fix the bug in src/ and
# commit the input with the fix.
#
#   make fuzz                                    60 s per target
#   FUZZ_SECONDS=20 make fuzz                    shorter (CI)
#   FUZZ_TARGETS="gemini redact" bash test/fuzz/run.sh   some targets
#   FUZZ_SECONDS=0 bash test/fuzz/run.sh         build and replay only
# Other knobs: FUZZ_CC (default clang-14, else clang), FUZZ_MAX_LEN (16384),
# FUZZ_TIMEOUT (seconds per input, 60), FUZZ_WORK (test/fuzz/work).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

PG_CONFIG=${PG_CONFIG:-pg_config}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-16384}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-60}
work=${FUZZ_WORK:-$root/test/fuzz/work}
all_targets="json structured openai openai_compatible anthropic cohere ollama gemini azure_openai bedrock vertex_ai oauth mistral redact batch_openai batch_anthropic"
targets=${FUZZ_TARGETS:-$all_targets}

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
	if command -v clang-14 >/dev/null; then cc=clang-14; else cc=clang; fi
fi
san=(-fsanitize=fuzzer,address,undefined)
mkdir -p "$work/obj" "$work/bin"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
	"$cc" -x c "${san[@]}" - -o "$work/bin/probe" 2>"$work/probe.log"; then
	cat "$work/probe.log" >&2
	echo "fuzz: $cc cannot build libFuzzer targets (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
	exit 1
fi

# shellcheck source=../lib.sh
. test/lib.sh
aig_pg_static_libs

cflags=(-std=gnu99 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
	-fno-sanitize-recover=all -Wall -Wextra -Werror -Wno-unused-parameter
	-Wno-missing-field-initializers -Wno-sign-compare -Wno-ignored-attributes
	-Wdeclaration-after-statement
	-I src -I test/fuzz -I "$("$PG_CONFIG" --includedir-server)")

echo "== fuzz: build ($cc)"
json_srcs=(src/transport/json.c src/transport/json_body.c)
dialect_srcs=("${json_srcs[@]}" src/providers/*.c)
for f in "${dialect_srcs[@]}" src/governance/redact.c src/governance/redact_scan.c test/fuzz/fuzz_support.c; do
	"$cc" -c "${cflags[@]}" "$f" -o "$work/obj/$(basename "$f" .c).o"
done
dialect_objs=()
for f in "${dialect_srcs[@]}"; do dialect_objs+=("$work/obj/$(basename "$f" .c).o"); done
for t in $targets; do
	case "$t" in
	json)
		"$cc" -c "${cflags[@]}" test/fuzz/fuzz_json.c -o "$work/obj/fuzz_json.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_json.o" "$work/obj/json.o" "$work/obj/json_body.o" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -ljson-c -o "$work/bin/fuzz_json"
		;;
	structured)
		"$cc" -c "${cflags[@]}" src/routing/structured.c -o "$work/obj/structured.o"
		"$cc" -c "${cflags[@]}" test/fuzz/fuzz_structured.c -o "$work/obj/fuzz_structured.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_structured.o" "$work/obj/structured.o" "$work/obj/json.o" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -ljson-c -lm -o "$work/bin/fuzz_structured"
		;;
	redact)
		"$cc" -c "${cflags[@]}" test/fuzz/fuzz_redact.c -o "$work/obj/fuzz_redact.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_redact.o" "$work/obj/redact.o" "$work/obj/redact_scan.o" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -o "$work/bin/fuzz_redact"
		;;
	openai | openai_compatible | anthropic | cohere | ollama | gemini | azure_openai | bedrock | vertex_ai | mistral)
		"$cc" -c "${cflags[@]}" -DFUZZ_DIALECT="aig_dialect_$t" test/fuzz/fuzz_dialect.c \
			-o "$work/obj/fuzz_$t.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_$t.o" "${dialect_objs[@]}" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -ljson-c -lcrypto -o "$work/bin/fuzz_$t"
		;;
	batch_openai | batch_anthropic)
		"$cc" -c "${cflags[@]}" -DFUZZ_BATCH="aig_$t" test/fuzz/fuzz_batch.c \
			-o "$work/obj/fuzz_$t.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_$t.o" "${dialect_objs[@]}" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -ljson-c -lcrypto -o "$work/bin/fuzz_$t"
		;;
	oauth)
		"$cc" -c "${cflags[@]}" test/fuzz/fuzz_oauth.c -o "$work/obj/fuzz_oauth.o"
		"$cc" "${san[@]}" "$work/obj/fuzz_oauth.o" "${dialect_objs[@]}" \
			"$work/obj/fuzz_support.o" "${AIG_PGLIBS[@]}" -ljson-c -lcrypto -o "$work/bin/fuzz_oauth"
		;;
	*)
		echo "fuzz: unknown target $t (targets: $all_targets)" >&2
		exit 2
		;;
	esac
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in $targets; do
	bin="$work/bin/fuzz_$t"
	reg="$root/test/fuzz/regressions/$t"
	log="$work/logs/$t.log"
	mkdir -p "$work/logs" "$work/corpus/$t"
	rm -rf "$work/seeds/$t" "$work/artifacts/$t"
	mkdir -p "$work/artifacts/$t"

	regs=()
	if [ -d "$reg" ]; then
		for f in "$reg"/*; do [ -f "$f" ] && regs+=("$f"); done
	fi
	if [ ${#regs[@]} -gt 0 ]; then
		if ! "$bin" -timeout="$FUZZ_TIMEOUT" "${regs[@]}" >"$work/logs/$t.replay.log" 2>&1; then
			echo "FAIL $t: a regression input fails again (log: $work/logs/$t.replay.log)"
			grep -E "ERROR|fuzz check failed|runtime error|ereport|Running:" "$work/logs/$t.replay.log" | tail -n 20 || true
			failed+=("$t")
			continue
		fi
	fi
	[ "$FUZZ_SECONDS" -gt 0 ] || { echo "  $t: ${#regs[@]} regression inputs replayed"; continue; }

	python3 test/fuzz/make_seeds.py "$t" "$work/seeds/$t" "$FUZZ_MAX_LEN" >/dev/null
	dict=test/fuzz/dialect.dict
	[ "$t" = redact ] && dict=test/fuzz/redact.dict
	[ "$t" = json ] && dict=test/fuzz/json.dict
	[ "$t" = structured ] && dict=test/fuzz/json.dict
	[ "$t" = oauth ] && dict=test/fuzz/oauth.dict
	case "$t" in batch_*) dict=test/fuzz/batch.dict ;; esac
	status=0
	"$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" -timeout="$FUZZ_TIMEOUT" \
		-dict="$dict" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
		"$work/corpus/$t" "$work/seeds/$t" >"$log" 2>&1 || status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
	echo "  $t: ${#regs[@]} regressions ok; ${execs:-?} runs, ${rate:-?} exec/s, $cov"
	if [ "$status" != 0 ]; then
		echo "FAIL $t (exit $status; log: $log)"
		grep -E "^==[0-9]+==ERROR|fuzz check failed|runtime error|ereport|SUMMARY|Test unit written" "$log" | head -n 20 || true
		mkdir -p "$reg"
		for a in "$work/artifacts/$t"/*; do
			[ -f "$a" ] || continue
			case "$(basename "$a")" in slow-unit-*) continue ;; esac
			cp "$a" "$reg/"
			echo "  kept $(basename "$a") as test/fuzz/regressions/$t/$(basename "$a")"
		done
		failed+=("$t")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "== fuzz: FAILED: ${failed[*]}"
	exit 1
fi
echo "== fuzz: OK ($targets)"
