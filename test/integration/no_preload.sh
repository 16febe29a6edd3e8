#!/usr/bin/env bash
# no_preload.sh — without shared_preload_libraries the extension installs,
# and its functions fail with SQLSTATE 55000 and a hint instead of crashing.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap aig_cleanup EXIT
port=$(aig_free_port)
dir="$WORK/nopreload"
rm -rf "$dir"
aig_start_cluster "$dir" "$port" "shared_preload_libraries = ''"
out=$(aig_psql "$port" -d postgres -At 2>&1 <<'SQL' || true
CREATE EXTENSION ai_gateway;
\set VERBOSITY verbose
SELECT ai_complete('x', 'openai/m');
SQL
)
echo "$out" | grep -q "ERROR:  55000: ai_gateway must be loaded via shared_preload_libraries" || { echo "$out"; fail "no clear error"; }
echo "$out" | grep -q "HINT:  Add ai_gateway to shared_preload_libraries" || { echo "$out"; fail "no hint"; }
pass "without preload: 55000 with a hint"
