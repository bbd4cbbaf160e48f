#!/usr/bin/env bash
# docker-postgres-image.sh makes Docker and a local Postgres image available
# on a machine that cannot reach an image registry, for the testcontainers
# backend of dbx/dbxtest. Every step is skipped when already done:
#
#   1. install docker.io with apt when dockerd is missing;
#   2. start dockerd in the background when `docker info` does not answer;
#   3. build IMAGE (default pgfleet/postgres:15-local) from the host's
#      PostgreSQL installation with `docker import`, pulling nothing.
#
# The image holds the server binaries (postgres, initdb, pg_basebackup, ...),
# the libraries `ldd` names for them, /usr/share/postgresql/$PG_MAJOR, dash as
# /bin/sh, a postgres user, and a data directory made by initdb at build time
# (trust authentication, user postgres). It runs as postgres with no
# entrypoint: `docker run IMAGE postgres -c key=value` starts a server on the
# baked data directory, which is the contract dbxtest's testcontainers backend
# relies on (the official postgres image meets it through its entrypoint).
#
# Usage: scripts/docker-postgres-image.sh [IMAGE]   (run as root)
# Env:   PG_MAJOR (default 15), PGFLEET_REBUILD_IMAGE=1 to rebuild the image.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
IMAGE=${1:-${PGFLEET_TEST_IMAGE:-pgfleet/postgres:${PG_MAJOR}-local}}
BINDIR=/usr/lib/postgresql/${PG_MAJOR}/bin
SHAREDIR=/usr/share/postgresql/${PG_MAJOR}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

log() { echo "docker-postgres-image: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, starts dockerd)"

# 1. Docker.
if ! command -v dockerd >/dev/null; then
	log "installing docker.io"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq docker.io >/dev/null
fi

# 2. The daemon.
if ! docker info >/dev/null 2>&1; then
	log "starting dockerd (log: $DOCKERD_LOG)"
	nohup dockerd >>"$DOCKERD_LOG" 2>&1 &
	for _ in $(seq 1 120); do
		docker info >/dev/null 2>&1 && break
		sleep 0.5
	done
	docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
fi

# 3. The image.
if [ -z "${PGFLEET_REBUILD_IMAGE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
	log "$IMAGE exists"
	exit 0
fi
[ -x "$BINDIR/postgres" ] || die "no $BINDIR/postgres: apt-get install postgresql-$PG_MAJOR"
id postgres >/dev/null 2>&1 || die "no postgres user on the host"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
log "building $IMAGE in $root"

# Binaries and the libraries they load. postgres loads its own modules
# (e.g. libpqwalreceiver for replicas) from pkglibdir at run time.
pkglibdir=$("$BINDIR/pg_config" --pkglibdir)
bins=(postgres initdb pg_ctl pg_basebackup pg_controldata pg_resetwal pg_isready psql)
mkdir -p "$root$BINDIR"
for b in "${bins[@]}"; do
	cp -a "$BINDIR/$b" "$root$BINDIR/"
done
mkdir -p "$root$pkglibdir"
cp -a "$pkglibdir/." "$root$pkglibdir/"
# No JIT: llvmjit.so pulls in libLLVM (~100 MB); without it the server just
# does not JIT-compile.
rm -rf "$root$pkglibdir"/llvmjit* "$root$pkglibdir/bitcode"
mkdir -p "$root$(dirname "$SHAREDIR")"
cp -a "$SHAREDIR" "$root$(dirname "$SHAREDIR")/"
mkdir -p "$root/bin"
cp -a "$(readlink -f /bin/dash)" "$root/bin/sh"

# Every shared library, with the symlink names the loader looks up.
{
	for b in "${bins[@]}"; do ldd "$BINDIR/$b"; done
	find "$root$pkglibdir" -name '*.so' -exec ldd {} \; 2>/dev/null
	ldd /bin/dash
} | grep -o '/[^ ]*' | sort -u | while read -r lib; do
	[ -e "$lib" ] || continue
	mkdir -p "$root$(dirname "$lib")"
	cp -aL "$lib" "$root$lib"
done
# The dynamic loader by its canonical path too (/lib64 -> /usr/lib64 etc.).
for l in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
	[ -e "$l" ] || continue
	mkdir -p "$root$(dirname "$l")"
	cp -aL "$l" "$root$l"
done
# Timezone data for log timestamps and timestamptz, when the host has it.
[ -d /usr/share/zoneinfo ] && mkdir -p "$root/usr/share" && cp -a /usr/share/zoneinfo "$root/usr/share/"

uid=$(id -u postgres)
gid=$(id -g postgres)
mkdir -p "$root/etc" "$root/tmp" "$root/var/run/postgresql" "$root/var/lib/postgresql"
chmod 1777 "$root/tmp"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "postgres:x:$uid:$gid:PostgreSQL:/var/lib/postgresql:/bin/sh" >>"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
echo "postgres:x:$gid:" >>"$root/etc/group"

# The data directory, made once here so that a container starts in ~0.1 s.
chown "$uid:$gid" "$root/var/lib/postgresql" "$root/var/run/postgresql"
runuser -u postgres -- "$BINDIR/initdb" -D "$root/var/lib/postgresql/data" \
	-A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
{
	echo "local all all trust"
	echo "host all all all trust"
	echo "host replication all all trust"
} >"$root/var/lib/postgresql/data/pg_hba.conf"
echo "listen_addresses = '*'" >>"$root/var/lib/postgresql/data/postgresql.auto.conf"

tar -C "$root" --numeric-owner -cf - . | docker import \
	--change "ENV PATH=$BINDIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change "ENV PGDATA=/var/lib/postgresql/data" \
	--change "ENV LANG=C.UTF-8" \
	--change "USER postgres" \
	--change "WORKDIR /var/lib/postgresql" \
	--change "EXPOSE 5432" \
	--change 'CMD ["postgres"]' \
	- "$IMAGE" >/dev/null
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
