"""Real server processes for tests: ``fluvial server`` (and moto's S3 server) on 127.0.0.1.

:func:`fluvial_server` runs the ``fluvial server`` command (``python -m fluvial server ...``); settings
the command has no option for (request limits) start ``python -c`` with the calls the command makes
(``ServerConfig`` -> ``build_stores`` -> ``create_app`` -> ``runner.serve``) instead. Every wait is
bounded; output goes to a log file (never a pipe that could fill up) whose tail is shown when a process
fails to start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
from typing import Any

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

_SERVER_CODE = """
import json, sys
from fluvial.server.app import create_app
from fluvial.server.config import ServerConfig, build_stores
from fluvial.server.runner import serve
options = json.loads(sys.argv[1])
host, port, workers = options.pop("host"), options.pop("port"), options.pop("workers")
for key, value in list(options.items()):
    if isinstance(value, list):
        options[key] = tuple(value)
config = ServerConfig(**options)
serve(lambda: create_app(build_stores(config)), host, port, workers=workers,
      on_ready=lambda url: print("ready", url, flush=True))
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A started server: its base URL, process and log file."""

    url: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Server(Process):
    destination: str = ""
    backend_store_uri: str = ""


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _wait_ready(process: Process, probe: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"server exited with {process.proc.returncode} while starting:\n{process.log_tail()}")
        try:
            with urllib.request.urlopen(process.url + probe, timeout=2) as resp:
                resp.read()
                return
        except urllib.error.HTTPError as exc:  # answering at all means it is up
            exc.close()
            return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {probe} within {timeout:.0f}s ({last}):\n{process.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def _started(argv: list[str], url: str, log: Path, cwd: Path, env: dict[str, str], probe: str,
             cls: type[Process] = Process, **fields: Any) -> Iterator[Any]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    process = cls(url=url, proc=proc, log=log, **fields)
    try:
        _wait_ready(process, probe, START_TIMEOUT)
        yield process
    finally:
        _stop(proc)


# ServerConfig field -> ``fluvial server`` option
_FLAGS = {
    "backend_store_uri": "--backend-store-uri",
    "artifacts_destination": "--artifacts-destination",
    "default_artifact_root": "--default-artifact-root",
    "host": "--host",
    "port": "--port",
    "workers": "--workers",
    "static_prefix": "--static-prefix",
    "allowed_hosts": "--allowed-hosts",
    "cors_allowed_origins": "--cors-allowed-origins",
    "allowed_artifact_locations": "--allowed-artifact-location",
    "app_name": "--app-name",
}


def _server_argv(options: dict[str, Any]) -> list[str]:
    if any(key not in _FLAGS and key not in ("serve_artifacts", "artifacts_only") for key in options):
        return [sys.executable, "-c", _SERVER_CODE, json.dumps(options)]
    argv = [sys.executable, "-m", "fluvial", "server"]
    for key, value in options.items():
        if key == "serve_artifacts":
            argv.append("--serve-artifacts" if value else "--no-serve-artifacts")
        elif key == "artifacts_only":
            argv += ["--artifacts-only"] if value else []
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [_FLAGS[key], str(item)]
        elif value is not None:
            argv += [_FLAGS[key], str(value)]
    return argv


@contextlib.contextmanager
def fluvial_server(
    workdir: Path,
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    **config: Any,
) -> Iterator[Server]:
    """A ``fluvial server`` process on a free 127.0.0.1 port; stopped (SIGTERM, then SIGKILL) on exit.

    Defaults: SQLite at ``workdir/mlflow.db`` and proxied artifacts under ``workdir/mlartifacts``.
    ``config`` are further ``ServerConfig`` fields."""
    workdir.mkdir(parents=True, exist_ok=True)
    backend = backend_store_uri or f"sqlite:///{workdir / 'mlflow.db'}"
    destination = artifacts_destination or str(workdir / "mlartifacts")
    port = free_port()
    options = {"backend_store_uri": backend, "artifacts_destination": destination, "host": "127.0.0.1",
               "port": port, "workers": workers, **config}
    with _started(_server_argv(options), f"http://127.0.0.1:{port}", workdir / f"server-{port}.log", workdir,
                  _env(env), "/health", cls=Server, destination=destination, backend_store_uri=backend) as server:
        yield server


def moto_executable() -> str | None:
    candidate = Path(sys.executable).with_name("moto_server")
    return str(candidate) if candidate.exists() else shutil.which("moto_server")


# Credentials moto accepts (any), kept away from the user's real AWS configuration.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "fluvial-test",
    "AWS_SECRET_ACCESS_KEY": "fluvial-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[Process]:
    """moto's S3 server as a real process; ``url`` is its endpoint (MLFLOW_S3_ENDPOINT_URL)."""
    exe = moto_executable()
    if exe is None:
        raise RuntimeError('moto_server is not installed: .venv/bin/pip install "moto[server]"')
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env.update(S3_ENV)
    with _started([exe, "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}",
                  workdir / f"moto-{port}.log", workdir, env, "/moto-api/") as process:
        yield process


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"])
    try:
        client.create_bucket(Bucket=name)
    finally:
        client.close()


# ---- process memory ----------------------------------------------------------------------------------
def proc_status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (VmRSS, VmHWM, ...)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/<pid>/clear_refs``); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ---- raw HTTP ------------------------------------------------------------------------------------------
@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_http(port: int, method: str, target: str | bytes, headers: dict[str, str | None] | None = None,
             body: bytes = b"", timeout: float = 10.0) -> RawResponse:
    """One request written byte for byte (no client-side URL normalisation or validation) to 127.0.0.1:port.

    ``headers`` values of None remove a default header (Host, Content-Length). A large body is sent from a
    second thread while the answer is read, so a server that answers early (413) is heard. The socket
    timeout bounds every wait."""
    import http.client
    import threading

    merged: dict[str, str | None] = {"Host": f"127.0.0.1:{port}", "Connection": "close",
                                     "Content-Length": str(len(body)) if body or method in ("POST", "PUT") else None}
    merged.update(headers or {})
    line = target if isinstance(target, bytes) else target.encode("utf-8")
    head = method.encode() + b" " + line + b" HTTP/1.1\r\n" + b"".join(
        f"{k}: {v}\r\n".encode("latin-1") for k, v in merged.items() if v is not None) + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(head + body)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            content = response.read()
            result = RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
        finally:
            response.close()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout)
    return result
