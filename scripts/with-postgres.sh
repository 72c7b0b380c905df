#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
# Start a throwaway PostgreSQL server on 127.0.0.1 (free port, fresh cluster in a temp dir), run
# CMD with FLUVIAL_TEST_POSTGRES_URL=postgresql+psycopg://fluvial:fluvial@127.0.0.1:PORT/fluvial_test,
# then stop the server and delete the cluster (also on failure or Ctrl-C). Exits with CMD's status.
# As root, the server runs as the `postgres` system user (initdb refuses root).
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "with-postgres: ERROR: $*" >&2; exit 1; }

bindir=$(bash "$here/ensure-postgres.sh") || die "PostgreSQL is not available (see above)."

# Who runs the server: ourselves, or `postgres` when we are root.
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home postgres ||
        die "no 'postgres' user and could not create one; run: useradd --system postgres"
    as_pg() { (cd "$tmp" && runuser -u postgres -- "$@"); }
else
    as_pg() { (cd "$tmp" && "$@"); }
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    die "could not pick a free port (is python3 on PATH?)"
# As root use /tmp: the postgres user must be able to reach the cluster dir.
if [[ $(id -u) -eq 0 ]]; then tmp=$(mktemp -d /tmp/fluvial-pg.XXXXXX) && chown postgres: "$tmp"
else tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluvial-pg.XXXXXX"); fi

cleanup() {
    local status=$?
    if [[ -f $tmp/data/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$tmp/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            kill -9 "$(head -n 1 "$tmp/data/postmaster.pid")" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fresh cluster: superuser fluvial/fluvial, password auth over TCP, trust on the private socket.
echo fluvial >"$tmp/pw"
[[ $(id -u) -eq 0 ]] && chown postgres: "$tmp/pw"
as_pg "$bindir/initdb" -D "$tmp/data" -U fluvial --pwfile="$tmp/pw" -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log" >&2; die "initdb failed (output above)."; }
cat >>"$tmp/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 start >/dev/null ||
    { cat "$tmp/server.log" >&2; die "the PostgreSQL server did not start (log above)."; }
for _ in $(seq 60); do   # bounded: at most 30 s
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" ||
    { cat "$tmp/server.log" >&2; die "PostgreSQL on 127.0.0.1:$port is not ready after 30 s."; }
PGPASSWORD=fluvial "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fluvial fluvial_test ||
    die "could not create database fluvial_test."

export FLUVIAL_TEST_POSTGRES_URL="postgresql+psycopg://fluvial:fluvial@127.0.0.1:$port/fluvial_test"
echo "with-postgres: PostgreSQL ready at 127.0.0.1:$port (FLUVIAL_TEST_POSTGRES_URL set)" >&2
set +e
"$@"   # its status becomes ours through the EXIT trap
