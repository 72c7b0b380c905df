#!/usr/bin/env bash
# Usage: scripts/with-podman.sh CMD [ARGS...]
# Make podman usable on private paths (root only), make sure the local test base image is in its
# storage, start its Docker-compatible API socket, run CMD with FLUVIAL_TEST_PODMAN_BASE_IMAGE,
# FLUVIAL_TEST_PODMAN_SOCKET, CONTAINERS_CONF and CONTAINERS_STORAGE_CONF set, then stop the API
# service by its pid (also on failure or Ctrl-C). Exits with CMD's status.
#
# - Installs Debian's podman (and mmdebstrap) with apt-get when missing (`apt-get update` only if the
#   install fails).
# - Rootful podman, configured through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF (files written to a
#   temp dir), so any `podman` command CMD runs uses them: storage (overlay) under $FLUVIAL_PODMAN_DIR
#   (default .cache/podman in the project, an ignored dir; images stay there between runs); runtime runc; cgroupfs; events to a file; containers in the host's network
#   namespace by default (no bridge/NAT set up; fluvial's tests talk to containers on 127.0.0.1).
#   Run state: /tmp/fluvial-podman-state.<hash of the storage dir> (podman keeps the path it first used).
#   default_ulimits are set to limits the process already has: this machine does not permit raising
#   rlimits, and podman's defaults (nofile 1048576, nproc 4194304) make runc fail with "error setting
#   rlimit ... operation not permitted". podman itself lowers its nproc limit to 32768 when it cannot
#   raise it, so containers get at most that.
# - The Docker-compatible API (`podman system service`) listens on <tmp>/podman.sock: the docker CLI
#   with DOCKER_HOST=unix://<that> drives podman.
# - The base image `fluvial-test-base:bookworm` is imported from the tarball scripts/make-test-base.sh
#   makes (shared with with-docker.sh: .cache/docker-base/bookworm-python.tar).
# Without root (or with FLUVIAL_SKIP_PODMAN=1) CMD runs without podman: the podman tests then skip.
# When podman cannot be set up or cannot run a container, CMD still runs, with FLUVIAL_PODMAN_UNAVAILABLE
# saying why: the podman tests skip with that reason (in pytest's summary); the rest of the suite runs.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
cmd=("$@")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
say() { echo "with-podman: $*" >&2; }
die() {
    say "ERROR: $* -- running without podman; the podman tests will SKIP with this reason"
    export FLUVIAL_PODMAN_UNAVAILABLE="$*"
    unset FLUVIAL_TEST_PODMAN_BASE_IMAGE FLUVIAL_TEST_PODMAN_SOCKET CONTAINERS_CONF CONTAINERS_STORAGE_CONF
    set +e
    "${cmd[@]}"
    exit $?
}

if [[ ${FLUVIAL_SKIP_PODMAN:-} == 1 || $(id -u) -ne 0 ]]; then
    say "not root (or FLUVIAL_SKIP_PODMAN=1): running without podman; podman tests will skip"
    exec "$@"
fi

need=()
command -v podman >/dev/null || need+=(podman)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if ((${#need[@]})); then
    say "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; } ||
        die "could not install ${need[*]} with apt-get"
fi
command -v runc >/dev/null || die "podman here needs runc (not installed)"

dir=${FLUVIAL_PODMAN_DIR:-$root/.cache/podman}
mkdir -p "$dir"
exec 9>"$dir/lock"
flock -w 1800 9 || die "another with-podman.sh holds $dir/lock (waited 30 min)"
run=$(mktemp -d /tmp/fluvial-podman.XXXXXX)
sock=$run/podman.sock
# podman records its run root and temp dir in its database at the first use of a storage and keeps
# using those: one fixed path per storage dir (short; emptied at the end)
state=/tmp/fluvial-podman-state.$(printf %s "$dir" | sha1sum | cut -c1-10)

cleanup() {
    local status=$?
    if [[ -f $run/service.pid ]]; then
        local pid; pid=$(cat "$run/service.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done  # bounded: 30 s
        kill -9 "$pid" 2>/dev/null || true
    fi
    # conmon processes of this storage outlive their containers' exec sessions (podman 4.3): stop them by pid
    local p
    for p in $(pgrep -f -- "conmon .*-b $dir/storage/" 2>/dev/null || true); do kill "$p" 2>/dev/null || true; done
    rm -rf --one-file-system "$run" "$state" 2>/dev/null || true
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

limit() {  # the hard limit $1 of this shell, at most $2
    local v; v=$(ulimit -H "$1")
    [[ $v == unlimited || $v -gt $2 ]] && v=$2
    echo "$v"
}
nofile=$(limit -n 1048576)
nproc=$(limit -u 32768)
cat >"$run/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$run/events.log"
tmp_dir = "$state/tmp"
static_dir = "$dir/libpod"
volume_path = "$dir/volumes"
CONF
cat >"$run/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$state/storage"
CONF
export CONTAINERS_CONF=$run/containers.conf CONTAINERS_STORAGE_CONF=$run/storage.conf

base=fluvial-test-base:bookworm
tarball=$root/.cache/docker-base/bookworm-python.tar
if ! podman image exists "$base" 2>/dev/null; then
    bash "$here/make-test-base.sh" "$tarball" || die "could not make the base image tarball $tarball (log above)"
    podman import \
        --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' "$tarball" "$base" >/dev/null 2>"$run/import.log" ||
        { tail -n 5 "$run/import.log" >&2; die "podman import of $tarball failed (log above)"; }
    say "imported $base"
fi
# leftovers of earlier runs in this private storage: containers, untagged images
podman rm -af >/dev/null 2>&1 || true
podman image prune -f >/dev/null 2>&1 || true
# the one check that matters: podman runs a container here
out=$(timeout 120 podman run --rm "$base" python3 -c 'print("ok")' 2>&1) ||
    die "podman cannot run a container here: $(tail -n 1 <<<"$out")"

podman system service --time=0 "unix://$sock" >"$run/service.log" 2>&1 &
echo $! >"$run/service.pid"
for _ in $(seq 60); do   # bounded: at most 30 s
    [[ -S $sock ]] && break
    sleep 0.5
done
[[ -S $sock ]] || { tail -n 20 "$run/service.log" >&2; die "podman system service did not open $sock within 30 s"; }
say "podman $(podman version --format '{{.Client.Version}}') (storage $dir/storage), Docker-compatible API at unix://$sock"
export FLUVIAL_TEST_PODMAN_BASE_IMAGE=$base FLUVIAL_TEST_PODMAN_SOCKET=unix://$sock

set +e
"$@"   # its status becomes ours through the EXIT trap
