"""What every environment manager shares: the :class:`Environment` it hands back, the manager
interface, and running build steps (pip, uv, conda) with their output shown on stderr."""

from __future__ import annotations

import abc
import collections
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, NoReturn

from fluvial.exceptions import MlflowException

Report = Callable[[str], None]

# Variables that would make the environment's interpreter import code from elsewhere.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
                    "__PYVENV_LAUNCHER__")


def report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Environment:
    """A ready environment: the interpreter that runs fluvial and the model in it.

    ``root`` is the environment's directory (None for ``local``: the running interpreter)."""

    manager: str
    python: str
    root: str | None = None

    @property
    def bin_dir(self) -> str:
        return os.path.dirname(self.python)

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment to run in: the current one, with this environment's ``bin``
        first on PATH and nothing (PYTHONPATH, another virtualenv) pulling in outside code."""
        env = dict(os.environ)
        if self.root is not None:
            for name in _LEAKY_VARIABLES:
                env.pop(name, None)
            env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "")
            if self.manager == "conda":
                env["CONDA_PREFIX"] = self.root
            else:
                env["VIRTUAL_ENV"] = self.root
        env.update(extra or {})
        return env

    def fluvial_command(self, *args: str) -> list[str]:
        """``python -m fluvial <args>`` with this environment's interpreter."""
        return [self.python, "-m", "fluvial", *args]

    def run(self, argv: Sequence[str], *, extra_env: Mapping[str, str] | None = None,
            stdin: IO[bytes] | int | None = None, stdout: IO[bytes] | int | None = None) -> int:
        """Run ``argv`` in this environment and return its exit status."""
        return subprocess.call(list(argv), env=self.environ(extra_env), stdin=stdin, stdout=stdout)

    def exec(self, argv: Sequence[str], *, extra_env: Mapping[str, str] | None = None) -> NoReturn:
        """Replace this process with ``argv`` run in this environment (signals then reach it directly)."""
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(argv[0], list(argv), self.environ(extra_env))


class EnvManager(abc.ABC):
    """Builds (or finds in its cache) the environment a model runs in."""

    name: str = ""

    @abc.abstractmethod
    def prepare(self, model_dir: str, *, pip_requirements_override: Sequence[str] | None = None,
                report: Report = report_to_stderr) -> Environment:
        """The environment for the model in the local directory ``model_dir``: its Python version and
        requirements, plus fluvial; ``pip_requirements_override`` are installed last, over the model's."""

    @property
    def is_local(self) -> bool:
        return False


class EnvironmentBuildError(MlflowException):
    """A step of building an environment failed (pip, uv, conda or venv exited non-zero)."""


def run_step(argv: Sequence[str], what: str, *, env: Mapping[str, str] | None = None,
             report: Report = report_to_stderr, cwd: str | None = None) -> None:
    """Run one build step; on a terminal its latest output line is shown as a progress line, elsewhere
    it runs quietly. On failure its last 40 lines go to stderr and EnvironmentBuildError names the
    step and its error lines."""
    from fluvial._internal.progress import Progress, on_terminal

    report(f"fluvial: {what}")
    live = Progress(f"  {what}") if on_terminal() else None
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env) if env is not None else None, cwd=cwd)
    except OSError as exc:
        raise EnvironmentBuildError(f"{what} failed: cannot run {argv[0]}: {exc.strerror or exc}") from None
    tail: collections.deque[str] = collections.deque(maxlen=40)
    with proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            tail.append(line.rstrip())
            if live is not None and line.strip():
                live.status(line.strip())
        code = proc.wait()
    if live is not None:
        live.finish()
    if code != 0:  # the quiet output matters now: its last lines, then the one-line error
        sys.stderr.write("".join(line + "\n" for line in tail))
        sys.stderr.flush()
        errors = [ln for ln in tail if ln.strip().lower().startswith(("error", "critical", "\u00d7", "condaerror"))]
        detail = " | ".join((errors or [ln for ln in tail if ln.strip()])[-4:])
        raise EnvironmentBuildError(f"{what} failed (exit status {code}): {detail or 'no output'}")


def clean_environ() -> dict[str, str]:
    """The current environment without variables that would point a tool at another interpreter."""
    env = dict(os.environ)
    for name in _LEAKY_VARIABLES:
        env.pop(name, None)
    return env


__all__ = ["EnvManager", "Environment", "EnvironmentBuildError", "Report", "clean_environ", "report_to_stderr",
           "run_step"]
