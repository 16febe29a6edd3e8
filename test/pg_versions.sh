#!/usr/bin/env bash
# test/pg_versions.sh [MAJOR...] — builds the extension with warnings as
# errors and runs the pg_regress suite and the README's examples (with
# pgvector: test/run_all.sh --only readme) against
# each PostgreSQL major given (default: 17 18), each inside its Debian root
# from test/pg_root.sh (made once under /var/cache/ai_gateway/roots, then
# reused).  PostgreSQL 15 is the host's and is covered by test/run_all.sh.
# Runs as root (chroot).  The working tree's files (tracked and untracked,
# not ignored) are copied into the root, so what is tested is what you see.
# Exit status 0 when every version passed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "pg_versions.sh: run as root (chroot)" >&2; exit 2; }
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(17 18)

failed=()
for major in "${majors[@]}"; do
	echo "== PostgreSQL $major"
	root=$(test/pg_root.sh "$major")
	rm -rf "$root/build"
	mkdir -p "$root/build"
	git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$root/build"
	mount --bind /proc "$root/proc"
	mount --bind /dev "$root/dev"
	# pgvector, for the README's examples (a root made before it was listed)
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		bash -c "dpkg-query -W postgresql-$major-pgvector >/dev/null 2>&1 ||
		         apt-get install -y -qq --no-install-recommends postgresql-$major-pgvector >/dev/null 2>&1" || true
	rc=0
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" AIG_KEEP="${AIG_KEEP:-}" AIG_REQUIRE_PGVECTOR=1 \
		bash -c 'cd /build && make -s -j2 >/dev/null && make -s install >/dev/null && test/run_all.sh --only readme' || rc=$?
	umount "$root/dev" "$root/proc"
	[ "$rc" = 0 ] || failed+=("$major")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "== FAILED on PostgreSQL ${failed[*]}"
	exit 1
fi
echo "== passed on PostgreSQL ${majors[*]}"
