#!/usr/bin/env bash
# Usage: scripts/with-mariadb.sh CMD [ARGS...]
# Start a throwaway MariaDB server on 127.0.0.1 (free port, fresh data directory in a temp dir), run
# CMD with FLUVIAL_TEST_MYSQL_URL=mysql+pymysql://fluvial:fluvial@127.0.0.1:PORT/fluvial_test, then
# stop the server by its pid and delete the data directory (also on failure or Ctrl-C). Exits with
# CMD's status. As root, the server runs as the `mysql` system user (mariadbd refuses root).
# Chains with with-postgres.sh:  scripts/with-postgres.sh scripts/with-mariadb.sh pytest ...
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "with-mariadb: ERROR: $*" >&2; exit 1; }

mariadbd=$(bash "$here/ensure-mariadb.sh") || die "MariaDB is not available (see above)."

if [[ $(id -u) -eq 0 ]]; then
    id mysql >/dev/null 2>&1 || useradd --system --user-group --no-create-home mysql ||
        die "no 'mysql' user and could not create one; run: useradd --system mysql"
    user=mysql
    tmp=$(mktemp -d /tmp/fluvial-mariadb.XXXXXX) && chown mysql: "$tmp"
else
    user=$(id -un)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluvial-mariadb.XXXXXX")
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    die "could not pick a free port (is python3 on PATH?)"
pid=

cleanup() {
    local status=$?
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done   # bounded: 30 s
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fresh data directory; no option files are read (--no-defaults), so the machine's my.cnf plays no part.
mariadb-install-db --no-defaults --user="$user" --datadir="$tmp/data" --auth-root-authentication-method=socket \
    --skip-test-db >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; die "mariadb-install-db failed (output above)."; }
# The server keeps MariaDB's default collation (utf8mb4_general_ci, case-insensitive): that is what users
# get, and fluvial must give MLflow's case-sensitive answers on it.
"$mariadbd" --no-defaults --user="$user" --datadir="$tmp/data" --socket="$tmp/mysql.sock" \
    --pid-file="$tmp/mariadbd.pid" --bind-address=127.0.0.1 --port="$port" --skip-name-resolve \
    --character-set-server=utf8mb4 --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --innodb-buffer-pool-size=128M --innodb-file-per-table=0 --innodb-flush-method=nosync --max-connections=300 --log-error="$tmp/server.log" 2>"$tmp/stderr.log" &
pid=$!
for _ in $(seq 60); do   # bounded: at most 30 s
    mariadb --no-defaults --socket="$tmp/mysql.sock" -u root -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/stderr.log" "$tmp/server.log" >&2; die "the MariaDB server exited (log above)."; }
    sleep 0.5
done
mariadb --no-defaults --socket="$tmp/mysql.sock" -u root <<SQL >/dev/null 2>&1 ||
CREATE USER 'fluvial'@'127.0.0.1' IDENTIFIED BY 'fluvial';
GRANT ALL PRIVILEGES ON *.* TO 'fluvial'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE fluvial_test;
SQL
    { cat "$tmp/server.log" >&2; die "MariaDB on 127.0.0.1:$port is not ready after 30 s (log above)."; }

export FLUVIAL_TEST_MYSQL_URL="mysql+pymysql://fluvial:fluvial@127.0.0.1:$port/fluvial_test"
echo "with-mariadb: MariaDB ready at 127.0.0.1:$port (FLUVIAL_TEST_MYSQL_URL set)" >&2
set +e
"$@"   # its status becomes ours through the EXIT trap
