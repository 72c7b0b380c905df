"""Where built environments live and how they are reused.

Each environment is a directory ``<root>/<key>`` where ``root`` is ``MLFLOW_ENV_ROOT`` (default
``~/.fluvial/envs``) and ``key`` a hash of everything that goes into it (manager, Python version, build
dependencies, requirements with the contents of their constraint files, overrides, fluvial's own
dependencies). A directory counts only once its ready marker is written, so an interrupted build is
started again; a lock file keeps two processes from building the same environment at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fluvial.environments.base import Report, report_to_stderr

ENV_ROOT_VARIABLE = "MLFLOW_ENV_ROOT"
READY_MARKER = ".fluvial-ready"
FLUVIAL_MARKER = ".fluvial-source"
DIST_CACHE = ".fluvial-dist"


def env_root() -> Path:
    """``MLFLOW_ENV_ROOT`` or ``~/.fluvial/envs``."""
    configured = os.environ.get(ENV_ROOT_VARIABLE)
    return Path(configured).expanduser().resolve() if configured else Path.home() / ".fluvial" / "envs"


def env_key(spec: dict[str, Any]) -> str:
    """A short stable hash of an environment's specification."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


@contextlib.contextmanager
def locked(env_dir: Path, report: Report = report_to_stderr) -> Iterator[None]:
    """Hold ``<env_dir>.lock`` exclusively (waiting, with a note, while another process builds)."""
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(env_dir.with_name(env_dir.name + ".lock"), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report(f"fluvial: waiting for another process that is building {env_dir} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_ready(env_dir: Path) -> bool:
    return (env_dir / READY_MARKER).is_file()


def mark_ready(env_dir: Path, spec: dict[str, Any]) -> None:
    (env_dir / READY_MARKER).write_text(json.dumps({"spec": spec, "created": time.time()}, indent=2, sort_keys=True))


def discard(env_dir: Path) -> None:
    """Remove a half-built environment."""
    if env_dir.exists():
        shutil.rmtree(env_dir)


def installed_fluvial(env_dir: Path) -> str | None:
    """The fingerprint of the fluvial last installed into the environment."""
    try:
        return (env_dir / FLUVIAL_MARKER).read_text().strip() or None
    except OSError:
        return None


def mark_fluvial(env_dir: Path, fingerprint: str) -> None:
    (env_dir / FLUVIAL_MARKER).write_text(fingerprint)


__all__ = ["DIST_CACHE", "ENV_ROOT_VARIABLE", "discard", "env_key", "env_root", "installed_fluvial", "is_ready",
           "locked", "mark_fluvial", "mark_ready"]
