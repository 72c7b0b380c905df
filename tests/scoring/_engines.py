"""The real container engines the image and docker_env tests run on, and how to drive each.

- ``docker``: the private dockerd scripts/with-docker.sh starts (DOCKER_HOST, FLUVIAL_TEST_BASE_IMAGE).
- ``podman``: podman's own CLI, set up by scripts/with-podman.sh (CONTAINERS_CONF/CONTAINERS_STORAGE_CONF,
  FLUVIAL_TEST_PODMAN_BASE_IMAGE).
- ``podman-socket``: the docker CLI talking to podman's Docker-compatible API (FLUVIAL_TEST_PODMAN_SOCKET as
  DOCKER_HOST); fluvial finds it by auto-detection (no --engine): ``docker version`` answers.

An engine that is not set up skips its tests with the reason the script gave.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "docker-wheelhouse"


@dataclass(frozen=True)
class Engine:
    name: str  # docker, podman, podman-socket
    command: str  # the CLI the tests use to run containers
    base_image: str
    env: dict[str, str | None] = field(default_factory=dict)  # set (None: removed) for this engine's commands
    engine_args: tuple[str, ...] = ()  # what `fluvial models build-docker` gets to pick it

    def environ(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.command, *args], capture_output=True, text=True, timeout=timeout,
                              env=self.environ(), stdin=subprocess.DEVNULL)


def _unavailable(script: str, reason_var: str) -> str:
    why = os.environ.get(reason_var)
    return f"run under scripts/{script}" + (f": {why}" if why else " (not set up here)")


def find_engine(name: str) -> Engine | str:
    """The engine ``name``, or why it is not set up."""
    if name == "docker":
        base = os.environ.get("FLUVIAL_TEST_BASE_IMAGE", "")
        if not os.environ.get("DOCKER_HOST") or not base:
            return "real Docker tests " + _unavailable("with-docker.sh", "FLUVIAL_DOCKER_UNAVAILABLE")
        return Engine("docker", "docker", base, {"FLUVIAL_CONTAINER_ENGINE": None}, ("--engine", "docker"))
    base = os.environ.get("FLUVIAL_TEST_PODMAN_BASE_IMAGE", "")
    if not base:
        return "real podman tests " + _unavailable("with-podman.sh", "FLUVIAL_PODMAN_UNAVAILABLE")
    if name == "podman":
        return Engine("podman", "podman", base, {"FLUVIAL_CONTAINER_ENGINE": None}, ("--engine", "podman"))
    if name == "podman-socket":
        return Engine("podman-socket", "docker", base, {"DOCKER_HOST": os.environ["FLUVIAL_TEST_PODMAN_SOCKET"],
                                                        "FLUVIAL_CONTAINER_ENGINE": None})
    raise ValueError(name)


def engine(name: str) -> Engine:
    """The engine ``name``; skips the test when it is not set up."""
    found = find_engine(name)
    if isinstance(found, str):
        pytest.skip(found)
    return found


def any_engine_configured() -> bool:
    return bool(os.environ.get("DOCKER_HOST") and os.environ.get("FLUVIAL_TEST_BASE_IMAGE")) or bool(
        os.environ.get("FLUVIAL_TEST_PODMAN_BASE_IMAGE"))
