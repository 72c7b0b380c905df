"""``docker_env`` projects, through the container engine's command line (no Docker SDK): ``docker``, or
``podman`` (:mod:`fluvial.environments.container_engine` picks it: ``backend_config["container_engine"]``,
``fluvial run --engine``, $FLUVIAL_CONTAINER_ENGINE, else the first that answers).

Before a run is created the engine is checked (``version``), so a machine without one fails at
once with one clear message. The image is the project's ``docker_env.image`` as it is (pulled when
missing), with the project directory mounted at ``/mlflow/projects/code`` as the working directory;
with ``build_image`` a new image ``<project name>:<commit[:7]>`` is built ``FROM`` it with the project
copied in. The command runs in the container under ``sh -c``. The run's environment variables
(MLFLOW_RUN_ID, MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID and the project's ``environment`` list) are
passed by name (``-e NAME``) with their values in the docker command's environment, so they do not
show up in process listings. A local tracking store (a SQLite file or a tracking directory) is
mounted at ``/mlflow/tmp/mlruns`` and the tracking URI rewritten to it; a local artifact directory of
the run is mounted at the same path inside the container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from fluvial.environments.container_engine import engine_name, probe_engine, wanted_engine
from fluvial.exceptions import ExecutionException, MlflowException

WORKDIR = "/mlflow/projects/code/"
TRACKING_DIR = "/mlflow/tmp/mlruns"
PULL_TIMEOUT = 3600.0


def check_engine(engine: str | None = None) -> str:
    """The container engine's command (docker, or podman), once it answers ``version``
    (:mod:`fluvial.environments.container_engine`: ``engine``, else $FLUVIAL_CONTAINER_ENGINE, else the
    first that answers)."""
    try:
        wanted = wanted_engine(engine)
    except MlflowException as exc:
        raise ExecutionException(exc.message) from None
    probe = probe_engine(wanted)
    if probe.path is not None:
        return probe.path
    if not probe.installed:
        needs = f"the {wanted} command" if wanted else "the docker command (or podman)"
        raise ExecutionException(f"This project has a docker_env, which needs {needs}; it is not installed "
                                 "(https://docs.docker.com/engine/install/). Or run a project without docker_env.")
    raise ExecutionException("This project has a docker_env, but no container engine is reachable: "
                             + "; ".join(probe.failures) + ". Start the Docker engine (or point DOCKER_HOST at one).")


def _docker(docker: str, args: list[str], what: str, *, timeout: float = PULL_TIMEOUT,
            input: str | None = None) -> str:
    try:
        proc = subprocess.run([docker, *args], capture_output=True, text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ExecutionException(f"{what} did not finish within {timeout:.0f} s.") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise ExecutionException(f"{what} failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    return proc.stdout.strip()


def login(docker: str, auth: Mapping[str, Any]) -> None:
    """``docker login`` with ``{"username", "password", "registry"}`` (the password on stdin)."""
    args = ["login", "--username", str(auth.get("username", "")), "--password-stdin"]
    if auth.get("registry"):
        args.append(str(auth["registry"]))
    _docker(docker, args, f"{engine_name(docker)} login", timeout=120, input=str(auth.get("password", "")))


def image_id(docker: str, image: str) -> str | None:
    proc = subprocess.run([docker, "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def base_image(docker: str, image: str) -> str:
    """The id of ``image``, pulled when it is not on this machine."""
    found = image_id(docker, image)
    if found is None:
        _docker(docker, ["pull", image], f"{engine_name(docker)} pull {image}")
        found = image_id(docker, image)
    if found is None:
        raise ExecutionException(f"The image {image} is not available after {engine_name(docker)} pull.")
    return found


def build_image(docker: str, project_dir: str, base: str, tag: str) -> str:
    """Build ``tag`` = ``base`` + the project copied to ``/mlflow/projects/code``; its id."""
    context = tempfile.mkdtemp(prefix="fluvial-docker-")
    try:
        shutil.copytree(project_dir, os.path.join(context, "project"), symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
        with open(os.path.join(context, "Dockerfile"), "w", encoding="utf-8") as fh:
            fh.write(f"FROM {base}\nCOPY project/ {WORKDIR}\nWORKDIR {WORKDIR}\n")
        _docker(docker, ["build", "--quiet", "-t", tag, context], f"{engine_name(docker)} build -t {tag}")
    finally:
        shutil.rmtree(context, ignore_errors=True)
    found = image_id(docker, tag)
    if found is None:
        raise ExecutionException(f"The image {tag} is not there after {engine_name(docker)} build.")
    return found


def image_tag(project_name: str | None, commit: str | None) -> str:
    return (project_name or "docker-project").lower() + (f":{commit[:7]}" if commit else ":latest")


def docker_arg_flags(docker_args: Mapping[str, Any] | None) -> list[str]:
    """``-A`` arguments as ``docker run`` flags: a one-letter name becomes ``-x``, a longer one
    ``--name``; a value of True is a bare flag, anything else follows as the flag's value."""
    flags: list[str] = []
    for name, value in (docker_args or {}).items():
        flag = ("-" if len(name) == 1 else "--") + name
        if value is True:
            flags.append(flag)
        elif value is False or value is None:
            continue
        else:
            flags += [flag, str(value)]
    return flags


def tracking_mount(tracking_uri: str) -> tuple[list[str], str]:
    """(volume flags, tracking URI inside the container) for a local tracking store; a remote one is
    passed unchanged."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite" and tracking_uri.startswith("sqlite:////"):
        path = tracking_uri[len("sqlite:///"):].split("?", 1)[0]
        query = tracking_uri[len("sqlite:///") + len(path):]
        directory, name = os.path.split(path)
        return ["-v", f"{directory}:{TRACKING_DIR}"], f"sqlite:///{TRACKING_DIR}/{name}{query}"
    if parsed.scheme in ("", "file") and not parsed.netloc:
        path = parsed.path if parsed.scheme == "file" else tracking_uri
        return ["-v", f"{os.path.abspath(path)}:{TRACKING_DIR}"], TRACKING_DIR
    return [], tracking_uri


@dataclass
class DockerRun:
    """What ``docker run`` needs besides the image and the command."""

    docker_args: Mapping[str, Any] | None = None
    volumes: list[str] = field(default_factory=list)
    environment: list[Any] = field(default_factory=list)  # NAME (copied from here) or [NAME, value]
    mount_project: str | None = None  # a project directory to mount as the working directory


def run_command(docker: str, image: str, command: str, spec: DockerRun, run_env: Mapping[str, str],
                artifact_dir: str | None, host_env: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment of the docker process) that run ``command`` in ``image``."""
    host_env = dict(os.environ if host_env is None else host_env)
    argv = [docker, "run", "--rm", *docker_arg_flags(spec.docker_args)]
    passed: dict[str, str] = {}
    tracking_flags, container_uri = tracking_mount(run_env["MLFLOW_TRACKING_URI"])
    argv += tracking_flags
    passed.update(run_env)
    passed["MLFLOW_TRACKING_URI"] = container_uri
    if artifact_dir:
        argv += ["-v", f"{artifact_dir}:{artifact_dir}"]
    if spec.mount_project:
        argv += ["-v", f"{spec.mount_project}:{WORKDIR}", "-w", WORKDIR]
    for volume in spec.volumes:
        argv += ["-v", volume]
    for entry in spec.environment:
        if isinstance(entry, list):
            passed[entry[0]] = entry[1]
        else:
            if entry not in host_env:
                names = ", ".join(e if isinstance(e, str) else e[0] for e in spec.environment)
                raise ExecutionException(f"This project expects the {names} environment variables to be set on the "
                                         f"machine running the project, but {entry} was not set.")
            passed[entry] = host_env[entry]
    for name in passed:
        argv += ["-e", name]
    argv += [image, "sh", "-c", command]
    return argv, {**host_env, **passed}


__all__ = ["DockerRun", "base_image", "build_image", "check_engine", "docker_arg_flags",
           "image_id", "image_tag", "login", "run_command", "tracking_mount"]
