"""Running the server: bind once, then fork worker processes that each build their own stores and
app from the configuration object (no environment variables between the CLI and the workers)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger("fluvial.server")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only turns Nagle off (TCP_NODELAY) on accepted sockets whose
    # proto says TCP; without it every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _serve_worker(make_app: Callable[[], Any], sock: socket.socket, timeout_keep_alive: int) -> None:
    import uvicorn

    app = make_app()
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=timeout_keep_alive,
                            lifespan="off")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def serve(make_app: Callable[[], Any], host: str, port: int, workers: int = 1, timeout_keep_alive: int = 75,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``make_app()`` on host:port with ``workers`` processes; returns on SIGINT/SIGTERM.

    The server packages are checked first, so a missing one is one error here, not a crash in every
    worker."""
    from fluvial._internal.lazy import require

    require("uvicorn", "server")
    require("starlette", "server")
    sock = bind(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    if workers <= 1:
        if on_ready:
            on_ready(url)
        _serve_worker(make_app, sock, timeout_keep_alive)
        return
    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                _serve_worker(make_app, sock, timeout_keep_alive)
            except BaseException:
                _logger.exception("worker %d crashed", index)
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for i in range(workers):
        spawn(i)
    if on_ready:
        on_ready(url)
    restarts: list[float] = []
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if stopping or index is None:
            continue
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        if len(restarts) > 10:
            print("fluvial server: workers keep crashing; stopping. See the log above.", file=sys.stderr)
            stop(signal.SIGTERM, None)
            continue
        spawn(index)
    sock.close()
