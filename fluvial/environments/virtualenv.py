"""``--env-manager virtualenv`` and ``uv``: a virtual environment with the model's Python version.

With ``uv`` on PATH (or beside this interpreter) environments are made with ``uv venv --python X`` and
filled with ``uv pip install``; uv can also provide a Python version that is not installed. Without
it, ``python -m venv`` (or the ``virtualenv`` command) runs with an interpreter of the wanted version
found on this machine: this one, ``pythonX.Y`` on PATH, or a pyenv installation. A major.minor match is
accepted when the exact patch release is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from fluvial.environments.base import EnvironmentBuildError, Report, clean_environ, run_step
from fluvial.environments.builder import BuildingEnvManager, ModelEnvSpec
from fluvial.exceptions import MlflowException

_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(getattr(sys, '_base_executable', '') or sys.executable)"


class PythonNotFound(MlflowException):
    """No interpreter of the wanted version, and nothing that could provide one."""


def find_uv() -> str | None:
    beside = Path(sys.executable).with_name("uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.strip().split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _pyenv_roots() -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    return [Path(r) / "versions" for r in roots if r and (Path(r) / "versions").is_dir()]


def _candidates(major: int, minor: int) -> list[str]:
    names = [f"python{major}.{minor}"]
    found: list[str] = []
    for name in names:
        path = shutil.which(name)
        if path:
            found.append(path)
    for versions in _pyenv_roots():
        for entry in sorted(versions.iterdir(), reverse=True):
            if _version_tuple(entry.name)[:2] == (major, minor):
                for exe in (entry / "bin" / f"python{major}.{minor}", entry / "bin" / "python"):
                    if exe.is_file():
                        found.append(str(exe))
                        break
    for prefix in ("/usr/local/bin", "/usr/bin"):
        exe = Path(prefix) / f"python{major}.{minor}"
        if exe.is_file():
            found.append(str(exe))
    return found


def _probe(executable: str) -> tuple[tuple[int, ...], str] | None:
    """(version, real interpreter path) of ``executable``, or None when it does not run."""
    try:
        out = subprocess.run([executable, "-c", _PROBE], capture_output=True, text=True, timeout=20,
                             env=clean_environ(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.split("\n")
    if out.returncode != 0 or len(lines) < 2:
        return None
    return _version_tuple(lines[0]), lines[1].strip() or executable


def find_python(version: str) -> tuple[str, str] | None:
    """(interpreter path, its version) for ``version`` ("3.11.7" or "3.11"): an exact match if one is
    installed, else the newest with the same major.minor; None when there is none."""
    wanted = _version_tuple(version)
    if len(wanted) < 2:
        return None
    major, minor = wanted[0], wanted[1]
    current = tuple(sys.version_info[:3])
    base = getattr(sys, "_base_executable", "") or sys.executable
    options: list[tuple[tuple[int, ...], str]] = []
    if current[:2] == (major, minor):
        options.append((current, base))
    seen = {os.path.realpath(base)}
    for candidate in _candidates(major, minor):
        if os.path.realpath(candidate) in seen:
            continue
        seen.add(os.path.realpath(candidate))
        probed = _probe(candidate)
        if probed and probed[0][:2] == (major, minor):
            options.append(probed)
    if not options:
        return None
    exact = [o for o in options if o[0][: len(wanted)] == wanted]
    chosen = exact[0] if exact else max(options, key=lambda o: o[0])
    return chosen[1], ".".join(map(str, chosen[0]))


def _missing_python(spec: ModelEnvSpec, manager: str) -> PythonNotFound:
    wanted = _version_tuple(spec.python)
    short = ".".join(map(str, wanted[:2]))
    return PythonNotFound(
        f"Python {spec.python} (asked for by {spec.python_from}) is not available for --env-manager {manager}: "
        f"there is no python{short} on PATH or in pyenv, and uv (which can provide it) is not installed. "
        f"Install that Python (e.g. `pyenv install {spec.python}` or `pip install uv`), or run the model with "
        f"this interpreter (Python {sys.version.split()[0]}) using --env-manager local."
    )


class VirtualenvManager(BuildingEnvManager):
    name = "virtualenv"

    def __init__(self) -> None:
        self.uv = find_uv()

    def interpreter(self, env_dir: Path) -> str:
        return str(env_dir / "bin" / "python")

    def create(self, env_dir: Path, spec: ModelEnvSpec, model_dir: str, report: Report) -> str:
        found = find_python(spec.python)
        if found is not None and found[1] != spec.python and len(_version_tuple(spec.python)) > 2:
            report(f"fluvial: Python {spec.python} is not installed; using Python {found[1]} ({found[0]}), the same "
                   "minor release")
        if self.uv is not None:
            python_arg = found[0] if found is not None else spec.python
            run_step([self.uv, "venv", "--python", python_arg, "--no-project", str(env_dir)],
                     f"creating a virtual environment with uv (Python {python_arg})", report=report,
                     env=clean_environ())
        else:
            if found is None:
                raise _missing_python(spec, self.name)
            try:
                run_step([found[0], "-m", "venv", str(env_dir)], f"creating a virtual environment (Python {found[1]})",
                         report=report, env=clean_environ())
            except EnvironmentBuildError:
                virtualenv = shutil.which("virtualenv")
                if virtualenv is None:
                    raise
                shutil.rmtree(env_dir, ignore_errors=True)
                run_step([virtualenv, "-p", found[0], str(env_dir)], "creating a virtual environment with virtualenv",
                         report=report, env=clean_environ())
        python = self.interpreter(env_dir)
        if not os.path.exists(python):
            raise EnvironmentBuildError(f"The new environment in {env_dir} has no bin/python.")
        return python

    def pip_install(self, python: str, args: Sequence[str], what: str, report: Report) -> None:
        if self.uv is None:
            super().pip_install(python, args, what, report)
            return
        run_step([self.uv, "pip", "install", "--python", python, *args], what, report=report, env=clean_environ())


class UvManager(VirtualenvManager):
    """``--env-manager uv``: the same environments, always made and filled by uv."""

    name = "uv"

    def __init__(self) -> None:
        super().__init__()
        if self.uv is None:
            raise MlflowException(
                "--env-manager uv needs the uv command, which is not installed (pip install uv). "
                "--env-manager virtualenv works without it."
            )


__all__ = ["PythonNotFound", "UvManager", "VirtualenvManager", "find_python", "find_uv"]
