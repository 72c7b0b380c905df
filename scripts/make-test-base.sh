#!/usr/bin/env bash
# Usage: scripts/make-test-base.sh TARBALL
# Make (once; kept when present) the root filesystem tarball of the container engines' local test base
# image: mmdebstrap of a minimal Debian bookworm with python3, a venv at /opt/python (pip inside) and the
# HOST's CA certificates (so pip inside trusts the same TLS roots the host does). No container registry
# is reachable here, so scripts/with-docker.sh and scripts/with-podman.sh import this tarball as
# `fluvial-test-base:bookworm` (with PATH=/opt/python/bin:...). Needs root and mmdebstrap; a few minutes.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 TARBALL" >&2; exit 2; }
tarball=$1
[[ -s $tarball ]] && exit 0
cafile=/etc/ssl/certs/ca-certificates.crt
[[ -s $cafile ]] || { echo "make-test-base: no host CA bundle at $cafile" >&2; exit 1; }
echo "make-test-base: making the base image tarball with mmdebstrap (a few minutes, once): $tarball" >&2
mkdir -p "$(dirname "$tarball")"
log=$(mktemp /tmp/fluvial-mmdebstrap.XXXXXX.log)
if ! mmdebstrap --format=tar --variant=minbase --include=python3,python3-venv,ca-certificates \
        --customize-hook='chroot "$1" python3 -m venv /opt/python' \
        --customize-hook="cp $cafile \"\$1/etc/ssl/certs/ca-certificates.crt\"" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        bookworm "$tarball.tmp" http://deb.debian.org/debian >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$tarball.tmp" "$log"
    echo "make-test-base: mmdebstrap failed (log above)" >&2
    exit 1
fi
rm -f "$log"
mv "$tarball.tmp" "$tarball"
