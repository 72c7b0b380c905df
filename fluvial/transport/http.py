"""The real HTTP transport (stdlib ``http.client``): keep-alive connection pools per host, retries
with exponential backoff on 408/429/5xx and connection errors, timeouts, TLS options."""

from __future__ import annotations

import http.client
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from fluvial.exceptions import MlflowException
from fluvial.transport.base import HttpRequest, HttpResponse, Transport

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class HttpTransport(Transport):
    """Settings default to MLflow's environment variables (reference §1.4)."""

    def __init__(
        self,
        max_retries: int | None = None,
        backoff_factor: float | None = None,
        backoff_jitter: float | None = None,
        timeout: float | None = None,
        verify: bool | str = True,
        client_cert: str | None = None,
    ) -> None:
        self.max_retries = int(max_retries if max_retries is not None else _env_float("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7))
        self.max_retries = min(self.max_retries, 10)
        self.backoff_factor = backoff_factor if backoff_factor is not None else _env_float(
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2)
        self.backoff_jitter = backoff_jitter if backoff_jitter is not None else _env_float(
            "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0)
        self.timeout = timeout if timeout is not None else _env_float("MLFLOW_HTTP_REQUEST_TIMEOUT", 120)
        if verify is True and os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
            verify = False
        if verify is True and os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        self.verify = verify
        self.client_cert = client_cert or os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    # ---- connections -------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            if self.verify is False:
                ctx = ssl._create_unverified_context()
            elif isinstance(self.verify, str):
                ctx = ssl.create_default_context(cafile=self.verify)
            else:
                ctx = ssl.create_default_context()
            if self.client_cert:
                ctx.load_cert_chain(self.client_cert)
            self._ssl = ctx
        return self._ssl

    def _connection(self, key: tuple[str, str, int], timeout: float) -> http.client.HTTPConnection:
        with self._lock:
            pool = self._idle.get(key)
            if pool:
                conn = pool.pop()
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _release(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            pool = self._idle.setdefault(key, [])
            if len(pool) < 16:
                pool.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            for pool in self._idle.values():
                for conn in pool:
                    conn.close()
            self._idle.clear()

    # ---- sending -----------------------------------------------------------------------------
    def _sleep_before_retry(self, attempt: int, response: HttpResponse | None) -> None:
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after and retry_after.isdigit():
            delay = float(retry_after)
        else:
            delay = self.backoff_factor * (2 ** max(attempt - 1, 0)) if attempt else 0.0
            delay += random.uniform(0, self.backoff_jitter) if self.backoff_jitter else 0.0
        time.sleep(min(delay, 120.0))

    def send(self, request: HttpRequest, stream: bool = False) -> HttpResponse:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MlflowException(f"Invalid URL {request.url!r}: expected http(s)://host[:port]/...")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        timeout = request.timeout or self.timeout
        seekable = request.body is None or isinstance(request.body, bytes) or hasattr(request.body, "seek")
        start = request.body.tell() if hasattr(request.body, "tell") else 0  # type: ignore[union-attr]
        last_error: Exception | None = None
        response: HttpResponse | None = None
        attempt = 0
        stale_retries = 0
        while attempt <= self.max_retries:
            conn = self._connection(key, timeout)
            reused = conn.sock is not None
            try:
                conn.request(request.method, target, body=request.body, headers=request.headers)
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                last_error = exc
                if not seekable:
                    break
                if hasattr(request.body, "seek"):
                    request.body.seek(start)  # type: ignore[union-attr]
                if reused and stale_retries < 16:  # the server closed an idle keep-alive connection
                    stale_retries += 1
                    continue
                attempt += 1
                if attempt <= self.max_retries:
                    self._sleep_before_retry(attempt, None)
                continue
            last_error = None
            headers = {k.lower(): v for k, v in raw.getheaders()}
            if stream and raw.status == 200:
                return HttpResponse(raw.status, headers, stream=_Stream(raw, conn, key, self._release))
            body = raw.read()
            if raw.will_close:
                conn.close()
            else:
                self._release(key, conn)
            response = HttpResponse(raw.status, headers, body)
            if raw.status in RETRY_STATUSES and attempt < self.max_retries and seekable:
                attempt += 1
                self._sleep_before_retry(attempt, response)
                if hasattr(request.body, "seek"):
                    request.body.seek(start)  # type: ignore[union-attr]
                continue
            return response
        if last_error is not None:
            if isinstance(last_error, TimeoutError):
                raise MlflowException(
                    f"API request to {request.url} failed: timed out after {timeout} s "
                    "(set MLFLOW_HTTP_REQUEST_TIMEOUT to wait longer)."
                )
            raise MlflowException(f"API request to {request.url} failed with exception {last_error}")
        assert response is not None
        return response


class _Stream:
    """Chunks of a streamed response body; the connection goes back to the pool when fully read."""

    def __init__(self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection, key: Any,
                 release: Callable[[Any, http.client.HTTPConnection], None]) -> None:
        self.raw, self.conn, self.key, self.release = raw, conn, key, release
        self.done = False

    def __call__(self, chunk_size: int) -> Iterator[bytes]:
        while True:
            chunk = self.raw.read(chunk_size)
            if not chunk:
                break
            yield chunk
        self.done = True
        self.close()

    def close(self) -> None:
        if self.conn is None:
            return
        if self.done and not self.raw.will_close:
            self.release(self.key, self.conn)
        else:
            self.conn.close()
        self.conn = None  # type: ignore[assignment]


_default: HttpTransport | None = None


def default_transport() -> HttpTransport:
    """The process-wide transport (one pool of keep-alive connections)."""
    global _default
    if _default is None:
        import atexit

        _default = HttpTransport()
        atexit.register(_default.close)  # idle keep-alive sockets closed cleanly at exit
    return _default
