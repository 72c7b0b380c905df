#!/usr/bin/env bash
# Print the path of MariaDB's server program (mariadbd). If it or the tools with-mariadb.sh uses
# (mariadb-install-db, the mariadb client) are missing, install Debian's `mariadb-server-core` and
# `mariadb-client-core` packages (needs root; they hold no system service, so nothing starts).
# All messages go to stderr, so callers can write:  mariadbd=$(bash scripts/ensure-mariadb.sh)
set -euo pipefail

find_server() {
    local d
    for d in "$(command -v mariadbd 2>/dev/null || true)" /usr/sbin/mariadbd /usr/local/sbin/mariadbd; do
        if [[ -n $d && -x $d ]] && command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null; then
            echo "$d"; return 0
        fi
    done
    return 1
}

if find_server; then exit 0; fi

echo "ensure-mariadb: mariadbd/mariadb-install-db not found; installing Debian's MariaDB packages ..." >&2
if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-mariadb: ERROR: MariaDB is not installed and installing it needs root." >&2
    echo "  Run: sudo apt-get install -y --no-install-recommends mariadb-server-core mariadb-client-core" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -q --no-install-recommends mariadb-server-core mariadb-client-core >&2; }
if ! apt_install; then
    echo "ensure-mariadb: install failed; running apt-get update and retrying ..." >&2
    apt-get update -q >&2 && apt_install || true
fi
if ! find_server; then
    echo "ensure-mariadb: ERROR: could not install MariaDB (apt-get install mariadb-server-core failed)." >&2
    echo "  Check the Debian mirror (apt-get update), then re-run this script." >&2
    exit 1
fi
