"""The container engine fluvial drives through its command line, for model images and ``docker_env`` projects.

Two engines: Docker (the ``docker`` command and the daemon it reaches: ``DOCKER_HOST``, which may also
be podman's Docker-compatible API socket from ``podman system service``) and podman (its own
``podman`` command, daemonless). One is chosen by name (``--engine``, or ``$FLUVIAL_CONTAINER_ENGINE``)
or, without a name, the first of docker and podman that answers ``version --format``: the one check
that works for both (``docker info --format '{{.ServerVersion}}'`` has no podman equivalent). For
docker the template asks for the server's version, so the check fails when no daemon answers;
podman's own command is its engine, so its client version is enough.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from fluvial.exceptions import MlflowException

ENGINES = ("docker", "podman")
ENGINE_ENV = "FLUVIAL_CONTAINER_ENGINE"
VERSION_TIMEOUT = 60.0


@dataclass(frozen=True)
class Probe:
    """What looking for an engine found: the command of the one that answered, else why none did."""

    path: str | None
    failures: tuple[str, ...] = ()
    installed: tuple[str, ...] = ()  # engines whose command is on PATH


def wanted_engine(engine: str | None = None) -> str | None:
    """The engine asked for (``engine``, else ``$FLUVIAL_CONTAINER_ENGINE``), or None for the first that answers."""
    wanted = (engine or os.environ.get(ENGINE_ENV) or "").strip().lower()
    if wanted and wanted not in ENGINES:
        source = "" if engine else f" (${ENGINE_ENV})"
        raise MlflowException(f"Unknown container engine {wanted!r}{source}: use docker or podman.",
                              error_code="INVALID_PARAMETER_VALUE")
    return wanted or None


def _version(path: str, engine: str) -> subprocess.CompletedProcess[str]:
    template = "{{.Server.Version}}" if engine == "docker" else "{{.Client.Version}}"
    return subprocess.run([path, "version", "--format", template], capture_output=True, text=True,
                          timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL)


def probe_engine(engine: str | None = None) -> Probe:
    """Look for the engine (see the module doc); never raises for a missing or silent engine."""
    wanted = wanted_engine(engine)
    failures: list[str] = []
    installed: list[str] = []
    for name in [wanted] if wanted else list(ENGINES):
        path = shutil.which(name)
        if path is None:
            failures.append(f"{name} is not installed")
            continue
        installed.append(name)
        try:
            proc = _version(path, name)
        except subprocess.TimeoutExpired:
            failures.append(f"`{name} version` did not answer within {VERSION_TIMEOUT:.0f} s")
            continue
        answer = proc.stdout.strip()
        if proc.returncode == 0 and answer and answer != "<no value>":
            return Probe(path, tuple(failures), tuple(installed))
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "cannot connect" in ln.lower()]
        failures.append(f"`{name} version` failed ({(errors or lines or [f'exit status {proc.returncode}'])[-1]})")
    return Probe(None, tuple(failures), tuple(installed))


def engine_name(path: str) -> str:
    """docker or podman, for messages: the command's name."""
    return os.path.basename(path)


__all__ = ["ENGINES", "ENGINE_ENV", "Probe", "engine_name", "probe_engine", "wanted_engine"]
