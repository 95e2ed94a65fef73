#!/usr/bin/env bash
# Make the local container base image from Debian's packages (no registry pull needed):
#   debootstrap a minimal bookworm root filesystem with Python 3.11, pack it as a tarball cached
#   outside the clone, and import it into podman as localhost/debian-base:bookworm.
# The tarball is reused when present (CI keeps it between runs), so only the import is repeated.
# Usage: scripts/container-base.sh [--import-only]   (needs root or fakeroot-capable debootstrap)
# Env: BASE_IMAGE (localhost/debian-base:bookworm), BASE_CACHE (~/.cache/standard-coder),
#      PODMAN ("podman --storage-driver vfs"), DEBIAN_MIRROR (http://deb.debian.org/debian).
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-localhost/debian-base:bookworm}"
BASE_CACHE="${BASE_CACHE:-$HOME/.cache/standard-coder}"
PODMAN="${PODMAN:-podman --storage-driver vfs}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
TARBALL="$BASE_CACHE/debian-base-bookworm.tar.gz"
INCLUDE="python3,python3-venv,python3-pip,ca-certificates,git"

if $PODMAN image exists "$BASE_IMAGE" 2>/dev/null; then
  echo "base image $BASE_IMAGE already present"
  exit 0
fi

if [ ! -s "$TARBALL" ]; then
  if [ "${1:-}" = "--import-only" ]; then
    echo "no cached base tarball at $TARBALL (run scripts/container-base.sh to make it)" >&2
    exit 2
  fi
  command -v debootstrap >/dev/null || { echo "debootstrap not installed (apt-get install debootstrap)" >&2; exit 2; }
  mkdir -p "$BASE_CACHE"
  ROOT="$(mktemp -d "$BASE_CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$ROOT"' EXIT
  start=$(date +%s)
  nice -n 15 debootstrap --variant=minbase --include="$INCLUDE" bookworm "$ROOT" "$MIRROR"
  # Trim what a container never uses: apt lists, docs, man pages, locales.
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*
  chmod 755 "$ROOT"  # mktemp made it 0700: the image's / must be readable by a non-root user
  nice -n 15 tar -C "$ROOT" --numeric-owner -czf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  echo "debootstrap base made in $(( $(date +%s) - start ))s: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
fi

nice -n 15 $PODMAN import --change 'CMD ["/bin/bash"]' "$TARBALL" "$BASE_IMAGE"
echo "imported $BASE_IMAGE"
