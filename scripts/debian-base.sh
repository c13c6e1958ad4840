#!/usr/bin/env bash
# Makes the runtime base image from Debian's packages, for machines that cannot pull one:
# `debootstrap --variant=minbase bookworm` (plus ca-certificates) into target/debian-base,
# trimmed of documentation and package caches, then `docker import`ed as zkrs-base:bookworm.
#
# Cached twice: nothing is done when the image exists, and the rootfs tarball under
# target/debian-base is re-imported (no download) when only the image was removed.
#
#   scripts/debian-base.sh [TAG]          TAG defaults to zkrs-base:bookworm
#   DEBIAN_MIRROR=http://...              the mirror (default: deb.debian.org)
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-zkrs-base:bookworm}"
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
dir=target/debian-base
tarball="$dir/$suite-minbase.tar"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "debian-base: $tag exists"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    echo "debian-base: debootstrap is missing (apt-get install debootstrap)" >&2
    exit 1
  }
  [ "$(id -u)" -eq 0 ] || {
    echo "debian-base: debootstrap needs root" >&2
    exit 1
  }
  rootfs="$dir/rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  echo "== debian-base: debootstrap $suite into $rootfs"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror"
  # What a container never needs: documentation, manuals, translations, package caches
  # and lists (apt-get update fetches them again), logs of the bootstrap itself.
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian,linda}/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* "$rootfs"/tmp/*
  # The image's /etc/hostname and /etc/resolv.conf are the container runtime's.
  : >"$rootfs/etc/hostname"
  : >"$rootfs/etc/resolv.conf"
  tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
fi

echo "== debian-base: importing $tarball as $tag"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $suite" \
  "$tarball" "$tag"
