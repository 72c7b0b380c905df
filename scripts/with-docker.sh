#!/usr/bin/env bash
# Usage: scripts/with-docker.sh CMD [ARGS...]
# Start a private Docker engine (root only), make sure the local test base image exists, run CMD with
# DOCKER_HOST and FLUVIAL_TEST_BASE_IMAGE set, then stop the engine by its pid (also on failure or
# Ctrl-C). Exits with CMD's status.
#
# - Installs Debian's docker.io and mmdebstrap with apt-get when they are missing (`apt-get update`
#   only if the install fails).
# - dockerd runs on private paths under $FLUVIAL_DOCKER_DIR (default .cache/docker in the project, an
#   ignored dir; images and the build cache stay there between runs), socket <dir>/docker.sock.
#   Its iptables/NAT rules are off (--iptables=false): containers that need the network (pip) use
#   `--network host`; fluvial's tests publish nothing, they talk to the container on 127.0.0.1.
# - No container registry is reachable here, so the base image `fluvial-test-base:bookworm` is made
#   locally by scripts/make-test-base.sh (mmdebstrap of a minimal Debian bookworm with python3, a venv
#   at /opt/python on PATH, the HOST's CA certificates), cached as .cache/docker-base/bookworm-python.tar
#   (shared with scripts/with-podman.sh) and imported once per data root.
# Without root (or with FLUVIAL_SKIP_DOCKER=1) CMD runs without DOCKER_HOST: the docker tests then skip.
# When the engine cannot be set up (apt, dockerd, mmdebstrap failing), CMD still runs, without an
# engine, with FLUVIAL_DOCKER_UNAVAILABLE saying why: the docker tests skip with that reason, so the
# rest of the suite is not lost to a machine problem, and the reason is in pytest's summary.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
cmd=("$@")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
say() { echo "with-docker: $*" >&2; }
# die: no engine after all; run CMD without one (the EXIT trap still stops a started dockerd).
die() {
    say "ERROR: $* -- running without a Docker engine; the docker tests will SKIP with this reason"
    export FLUVIAL_DOCKER_UNAVAILABLE="$*"
    unset DOCKER_HOST FLUVIAL_TEST_BASE_IMAGE
    set +e
    "${cmd[@]}"
    exit $?
}

if [[ ${FLUVIAL_SKIP_DOCKER:-} == 1 || $(id -u) -ne 0 ]]; then
    say "not root (or FLUVIAL_SKIP_DOCKER=1): running without a Docker engine; docker tests will skip"
    exec "$@"
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if ((${#need[@]})); then
    say "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; } ||
        die "could not install ${need[*]} with apt-get"
fi

dir=${FLUVIAL_DOCKER_DIR:-$root/.cache/docker}
mkdir -p "$dir"
# One engine per data root: a second run waits (bounded) for the first.
exec 9>"$dir/lock"
flock -w 1800 9 || die "another with-docker.sh holds $dir/lock (waited 30 min)"
# A private socket path must stay short (unix socket limit ~108 bytes): use a temp dir for exec-root.
run=$(mktemp -d /tmp/fluvial-docker.XXXXXX)
sock=$run/docker.sock

cleanup() {
    local status=$?
    if [[ -f $run/dockerd.pid ]]; then
        local pid; pid=$(cat "$run/dockerd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done  # bounded: 30 s
        kill -9 "$pid" 2>/dev/null || true
    fi
    umount "$run/exec/netns/default" 2>/dev/null || true
    rm -rf "$run"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

dockerd --data-root "$dir/data" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" -H "unix://$sock" \
    --iptables=false --ip6tables=false >"$run/dockerd.log" 2>&1 &
export DOCKER_HOST=unix://$sock
for _ in $(seq 120); do   # bounded: at most 60 s
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 0.5
done
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    { tail -n 30 "$run/dockerd.log" >&2; die "dockerd did not answer on $sock within 60 s (log above)"; }
say "Docker engine $(docker version --format '{{.Server.Version}}') at $DOCKER_HOST"

base=fluvial-test-base:bookworm
tarball=$root/.cache/docker-base/bookworm-python.tar
if ! docker image inspect "$base" >/dev/null 2>&1; then
    bash "$here/make-test-base.sh" "$tarball" || die "could not make the base image tarball $tarball (log above)"
    docker import \
        --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' "$tarball" "$base" >/dev/null || die "docker import of $tarball failed"
    say "imported $base"
fi
docker image prune -f >/dev/null 2>&1 || true  # untagged leftovers of earlier runs (tagged images are the cache)
export FLUVIAL_TEST_BASE_IMAGE=$base

set +e
"$@"   # its status becomes ours through the EXIT trap
