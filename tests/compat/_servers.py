"""Tracking servers as real processes for the compat suites: ``fluvial server`` and MLflow's
``mlflow server`` (from its virtualenv), each on a free 127.0.0.1 port.

Every wait is bounded. Output goes to a log file (never a pipe that could fill up) whose tail is
shown when a server fails to start. A server runs in its own session, so stopping it signals its
process group (the server and the workers it forked: uvicorn for fluvial, gunicorn for MLflow),
found by the PID of the process started here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    pid: int
    db_path: Path  # the SQLite backend store
    artifacts: Path  # --artifacts-destination
    log: Path

    @property
    def backend_store_uri(self) -> str:
        return f"sqlite:///{self.db_path}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_healthy(server: RunningServer, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} while starting:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc
            exc.close()
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer /health within {timeout:.0f}s ({last}):\n{server.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, then SIGKILL after STOP_TIMEOUT."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    # workers left behind by a master that exited first
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def _serve(argv: list[str], workdir: Path, env: dict[str, str], port: int, name: str) -> Iterator[RunningServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(f"http://127.0.0.1:{port}", proc.pid, workdir / "mlflow.db", workdir / "mlartifacts", log)
    try:
        _wait_healthy(server, proc, START_TIMEOUT)
        yield server
    finally:
        _stop(proc)


def _clean_env(path_first: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH", "VIRTUAL_ENV"))}
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def fluvial_server(workdir: Path, workers: int = 2) -> Iterator[RunningServer]:
    """``fluvial server`` (this checkout) with SQLite at ``workdir/mlflow.db`` and proxied artifacts
    under ``workdir/mlartifacts``."""
    port = free_port()
    env = _clean_env()
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "fluvial", "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination", str(workdir / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    with _serve(argv, workdir, env, port, "fluvial-server") as server:
        yield server


@contextlib.contextmanager
def mlflow_server(python: Path, workdir: Path, workers: int = 1) -> Iterator[RunningServer]:
    """``mlflow server`` from the virtualenv of ``python`` (its bin first on PATH: it starts
    gunicorn/uvicorn from there), SQLite backend, proxied artifacts."""
    port = free_port()
    env = _clean_env(python.parent)
    argv = [str(python.parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination", str(workdir / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    with _serve(argv, workdir, env, port, "mlflow-server") as server:
        yield server
