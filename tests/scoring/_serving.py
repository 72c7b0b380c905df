"""Real ``fluvial models serve`` processes on 127.0.0.1 for the tests, and a small HTTP client.

Processes are started with ``python -m fluvial models serve`` (the command users run), output to a
log file, waited for on ``/ping`` with a bound, stopped with SIGTERM (then SIGKILL)."""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.server._serve import Process, _env, _started, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, method: str, path: str, body: bytes | str | None = None,
            content_type: str | None = "application/json", headers: dict[str, str] | None = None,
            timeout: float = 30.0) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        data = body.encode() if isinstance(body, str) else body
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def invoke(port: int, payload: Any, content_type: str = "application/json", **kwargs: Any) -> Answer:
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return request(port, "POST", "/invocations", body, content_type, **kwargs)


def serve_argv(model: str | Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fluvial", "models", "serve", "-m", str(model), "-h", "127.0.0.1", "-p", str(port),
            *(extra if "--env-manager" in extra else ("--env-manager", "local", *extra))]


@contextlib.contextmanager
def models_serve(model: str | Path, workdir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Process]:
    """``fluvial models serve -m model --env-manager local <extra>`` on a free port until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with _started(serve_argv(model, port, *extra), f"http://127.0.0.1:{port}", workdir / f"serve-{port}.log",
                  workdir, _env(env), "/ping") as process:
        yield process
