#!/usr/bin/env bash
# test/check_layers.sh — the source tree's layers, and the one direction its
# includes may point (README "How it works").  A file may include headers of
# its own layer and of any layer below it, never one above it or beside it:
#
#   init                       module entry, shared-memory registry
#   api | background           SQL functions | background workers (peers)
#   routing                    the call pipeline, router, strategy, attempts
#   governance                 grants, quota, audit, cache, policy, hooks, stats
#   core                       catalog, options, secrets, search_path
#   providers                  the dialects
#   transport                  HTTP, JSON
#   base                       version compatibility (compat.h)
#
# Prints every include that points the wrong way and exits 1 when there is
# one.  No server or build needed.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A rank=([init]=0 [api]=1 [background]=1 [routing]=2 [governance]=3
	[core]=4 [providers]=5 [transport]=6 [base]=7)
bad=0
for f in src/*/*.[ch]; do
	layer=${f#src/}
	layer=${layer%%/*}
	[ -n "${rank[$layer]:-}" ] || { echo "$f: folder \"$layer\" is not a layer"; bad=1; continue; }
	while IFS= read -r line; do
		hdr=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$line")
		case "$hdr" in
		*/*) ;;
		*) echo "$f: #include \"$hdr\": name the layer (\"<layer>/$hdr\")"; bad=1; continue ;;
		esac
		to=${hdr%%/*}
		[ -n "${rank[$to]:-}" ] || continue	# a server header (utils/..., lib/...)
		[ -e "src/$hdr" ] || { echo "$f: #include \"$hdr\": no such file"; bad=1; continue; }
		if [ "$to" != "$layer" ] && [ "${rank[$to]}" -le "${rank[$layer]}" ]; then
			echo "$f: #include \"$hdr\": $layer may not include $to"
			bad=1
		fi
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f" | grep -vE '"(postgres|fmgr|funcapi|miscadmin|pgstat|varatt)\.h"' || true)
done
[ "$bad" = 0 ] && echo "  ok: every include points down the layers"
exit "$bad"
