#!/usr/bin/env bash
# Print the directory holding PostgreSQL's server programs (initdb, pg_ctl, pg_isready, createdb).
# If they are missing, install Debian's `postgresql` package (needs root). All messages go to
# stderr, so callers can write:  bindir=$(bash scripts/ensure-postgres.sh)
set -euo pipefail

find_bindir() {
    local d
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")   # /usr/local/bin/initdb may be a symlink
        [[ -x $d/pg_ctl && -x $d/pg_isready ]] && { echo "$d"; return 0; }
    fi
    # Debian keeps the server programs off PATH; take the newest version present.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
    done
    return 1
}

if find_bindir; then exit 0; fi

echo "ensure-postgres: initdb/pg_ctl not found; installing Debian's postgresql package ..." >&2
if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-postgres: ERROR: PostgreSQL is not installed and installing it needs root." >&2
    echo "  Run: sudo apt-get install -y --no-install-recommends postgresql" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -q --no-install-recommends postgresql >&2; }
if ! apt_install; then
    echo "ensure-postgres: install failed; running apt-get update and retrying ..." >&2
    apt-get update -q >&2 && apt_install || true
fi
if ! find_bindir; then
    echo "ensure-postgres: ERROR: could not install PostgreSQL (apt-get install postgresql failed)." >&2
    echo "  Check the Debian mirror (apt-get update), then re-run this script." >&2
    exit 1
fi
