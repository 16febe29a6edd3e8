#!/usr/bin/env bash
# test/pg_root.sh MAJOR — prints the path of a Debian root that has
# PostgreSQL MAJOR (17: Debian 13 "trixie"; 18: Debian testing "forky") with
# its server headers, pgvector and this extension's build and test
# dependencies.
# The root is made once with debootstrap under /var/cache/ai_gateway/roots
# (outside any clone, so later runs reuse it) and refreshed by nothing: delete
# the folder to rebuild it.  Runs as root; needs Debian's apt repositories.
set -euo pipefail
major=${1:?usage: pg_root.sh 17|18}
case "$major" in
17) suite=trixie script=trixie ;;
18) suite=forky script=sid ;;
*) echo "pg_root.sh: no Debian root known for PostgreSQL $major" >&2; exit 2 ;;
esac
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=/var/cache/ai_gateway/roots
root=$base/pg$major
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

log=$base/pg$major.log
mkdir -p "$base"
rm -rf "$root"
echo "== making a Debian $suite root for PostgreSQL $major in $root (log: $log)" >&2
if ! command -v debootstrap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
debootstrap --variant=minbase --no-check-gpg "$suite" "$root" "$mirror" "/usr/share/debootstrap/scripts/$script" >"$log" 2>&1 ||
	{ tail -20 "$log" >&2; exit 1; }

# inside: no services started by package scripts; testing's Release file may be expired
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99no-valid-until"
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

in_root() {
	mount --bind /proc "$root/proc" 2>/dev/null || mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	local rc=0
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@" || rc=$?
	umount "$root/dev" "$root/proc"
	return $rc
}
in_root apt-get update -qq >>"$log" 2>&1
in_root apt-get install -y -qq --no-install-recommends \
	"postgresql-$major" "postgresql-server-dev-$major" "postgresql-$major-pgvector" libcurl4-openssl-dev libjson-c-dev \
	libssl-dev make gcc pkg-config python3 >>"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
touch "$root/.complete"
echo "$root"
