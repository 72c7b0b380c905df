"""Driving a real MLflow, installed in its own virtualenv under ``.venvs/``, from tests.

MLflow is never imported here: scripts run in a subprocess of that virtualenv's Python, with a timeout,
and talk back through JSON on stdout (the last line that starts with ``RESULT_PREFIX``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MLFLOW_VERSION = "2.22.5"
RESULT_PREFIX = "COMPAT-RESULT "
DEFAULT_TIMEOUT = 240.0

# Prepended to every script: print(result(obj)) sends obj back to the test as JSON.
_PRELUDE = f'''
import json as _json, math as _math, sys as _sys

def _plain(value):
    """JSON has no NaN/inf: send them as strings."""
    if isinstance(value, float) and not _math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {{str(k): _plain(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

def emit(value):
    _sys.stdout.write({RESULT_PREFIX!r} + _json.dumps(_plain(value), sort_keys=True) + "\\n")
    _sys.stdout.flush()
'''


def mlflow_python(version: str = MLFLOW_VERSION) -> Path | None:
    """The Python of ``.venvs/mlflow-<version>``, or None when that virtualenv does not exist."""
    python = REPO / ".venvs" / f"mlflow-{version}" / "bin" / "python"
    return python if python.exists() else None


def require_mlflow(version: str = MLFLOW_VERSION) -> Path:
    """The MLflow virtualenv's Python; skips the test (with how to create it) when it is missing."""
    python = mlflow_python(version)
    if python is None:
        pytest.skip(
            f"MLflow {version} is not installed: .venvs/mlflow-{version}/bin/python is missing "
            "(create it with `make mlflow-venvs`)"
        )
    return python


def _env(python: Path | str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_PYTHON_REFRESH"] = "quiet"
    # Make sure the fluvial side imports this checkout whatever the install state of .venv.
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def run_script(
    python: Path | str,
    source: str,
    *args: str,
    cwd: Path,
    timeout: float = DEFAULT_TIMEOUT,
    env: dict[str, str] | None = None,
    name: str = "script.py",
) -> Any:
    """Write ``source`` (after a prelude defining ``emit(obj)``) to ``cwd/name``, run it with ``python``
    and the ``args`` within ``timeout`` seconds, and return the last object it emitted.

    A non-zero exit, a timeout or no emitted result fails the test with the script's stderr.
    """
    path = Path(cwd) / name
    path.write_text(_PRELUDE + "\n" + textwrap.dedent(source))
    try:
        proc = subprocess.run(
            [str(python), str(path), *args],
            cwd=cwd,
            env=_env(python, env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        pytest.fail(f"{name} ({python}) did not finish within {timeout:.0f}s; stderr tail:\n{stderr[-3000:]}")
    results = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not results:
        pytest.fail(
            f"{name} ({python}) exited with {proc.returncode}"
            f"{'' if results else ' and emitted no result'}; stderr tail:\n{proc.stderr[-4000:]}"
        )
    return json.loads(results[-1][len(RESULT_PREFIX):])


def run_mlflow(source: str, *args: str, cwd: Path, timeout: float = DEFAULT_TIMEOUT, name: str = "mlflow_script.py") -> Any:
    """``run_script`` with MLflow's Python (skipping the test when it is not installed)."""
    return run_script(require_mlflow(), source, *args, cwd=cwd, timeout=timeout, name=name)


def run_fluvial(source: str, *args: str, cwd: Path, timeout: float = DEFAULT_TIMEOUT, name: str = "fluvial_script.py") -> Any:
    """``run_script`` with fluvial's own Python (this interpreter)."""
    return run_script(sys.executable, source, *args, cwd=cwd, timeout=timeout, name=name)
