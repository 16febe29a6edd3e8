#!/usr/bin/env bash
# valgrind.sh — a single-user backend under valgrind memcheck makes ~1,000
# provider calls (chat, embeddings, and error paths: 500, malformed,
# truncated, null content, connection reset, oversized body), and calls on a
# route whose request hook changes the configuration and calls back into the
# extension (the outer call must not read the cache the nested call
# reloaded: it is pinned, core/catalog.c).  Fails on any
# leak ("definitely"/"possibly lost") or memory error whose stack passes
# through ai_gateway, libcurl or OpenSSL.  PostgreSQL's own reports
# (WAL pwrite padding, ps display) are outside our code and are ignored.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
command -v valgrind >/dev/null || { echo "  skipped: valgrind not installed"; exit 0; }

dir="$WORK/valgrind"
rm -rf "$dir"
mkdir -p "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; as_pg=(runuser -u postgres --); fi
"${as_pg[@]}" "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >/dev/null

cat >"$dir/in.sql" <<SQL
CREATE EXTENSION ai_gateway;

SET ai_gateway.max_response_bytes = 65536;

SET ai_gateway.max_retries = 0;

SET ai_gateway.breaker_failures = 1000;

SET ai_gateway.breaker_min_requests = 1000000;

INSERT INTO ai_gateway.providers (name, kind, base_url, api_key) VALUES ('openai', 'openai', 'http://127.0.0.1:$MOCK_PORT/v1', 'sk-valgrind-0123456789'), ('gemini', 'gemini', 'http://127.0.0.1:$MOCK_PORT', 'AIza-valgrind-0123456789');

DO \$\$ DECLARE i int; BEGIN FOR i IN 1..240 LOOP PERFORM ai_complete('hi', 'openai/m'); PERFORM ai_chat('[{"role":"user","content":"x"}]', 'gemini/m'); PERFORM ai_embed(array['a','b'], 'gemini/e'); BEGIN PERFORM ai_complete('x', 'openai/m+' || (array['status=500','malformed','truncated','null_content','reset','oversized=100000'])[1 + i % 6]); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END \$\$;

SELECT count(*) FROM ai_complete_batch(array(SELECT 'b' || g FROM generate_series(1, 60) g), 'openai/m', NULL, '{"concurrency": 8}');

SELECT count(*) FROM ai_complete_batch(array(SELECT 'b' || g FROM generate_series(1, 20) g), 'openai/m+status=500', NULL, '{"concurrency": 4}');

CREATE FUNCTION vg_nested(req jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$ BEGIN INSERT INTO ai_gateway.routes (name, options) SELECT 'vg_pad_' || g || '_' || (random() * 1e9)::int, jsonb_build_object('system_prompt', repeat('z', 300)) FROM generate_series(1, 20) g; PERFORM ai_complete('nested', 'openai/m'); RETURN req; END \$\$;

INSERT INTO ai_gateway.routes (name, options) VALUES ('vg_nest', '{"request_hook": "vg_nested", "system_prompt": "be brief"}');

INSERT INTO ai_gateway.route_targets (route, provider, model) VALUES ('vg_nest', 'openai', 'm');

SELECT count(ai_complete('outer ' || g, 'vg_nest')) FROM generate_series(1, 5) g;

SELECT count(*) FROM ai_complete_batch(array['outer batch 1', 'outer batch 2'], 'vg_nest');

SQL
chmod 644 "$dir/in.sql"
aig_mock_reset "$MOCK_PORT"
"${as_pg[@]}" valgrind --leak-check=full --show-leak-kinds=definite,possible \
	--num-callers=40 --log-file="$dir/valgrind.log" \
	"$PG_BINDIR/postgres" --single -j -D "$dir/data" \
	-c shared_preload_libraries=ai_gateway -c fsync=off postgres \
	<"$dir/in.sql" >"$dir/out.txt" 2>&1
if grep -q "ERROR:" "$dir/out.txt"; then cat "$dir/out.txt"; fail "the workload failed"; fi
req=$(aig_mock_stats "$MOCK_PORT" 's["requests"]')
[ "$req" -ge 1000 ] || fail "only $req requests reached the mock"

python3 - "$dir/valgrind.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# records are separated by "==PID== " blank lines
records = re.split(r"\n==\d+== \n", text)
ours = re.compile(r"ai_gateway\.so|\baig_|libcurl|\bcurl_|\bjson_|libjson-c|libcrypto|libssl|\bEVP_")
bad = [r for r in records
       if ours.search(r) and re.search(r"lost in loss record|Invalid (read|write)|uninitialised|Conditional jump|overlap", r)]
summary = re.findall(r"(definitely lost|possibly lost): ([\d,]+) bytes", text)
print("  valgrind totals (whole backend, PostgreSQL included):", ", ".join(f"{k} {v} B" for k, v in summary))
if bad:
    print("\n\n".join(bad[:5]))
    sys.exit(1)
PY
echo "  $req provider calls under memcheck"
pass "no leak or memory error in ai_gateway, libcurl or OpenSSL"
