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
MAX_RETRIES_LIMIT, MAX_BACKOFF_FACTOR_LIMIT = 10, 120  # MLflow's limits (a value at the limit is refused)
# What the transport reads from the environment; the default transport is rebuilt when one changes.
_SETTINGS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
             "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "MLFLOW_TRACKING_INSECURE_TLS",
             "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH", "REQUESTS_CA_BUNDLE",
             "CURL_CA_BUNDLE")
_TLS_HINT = ("set MLFLOW_TRACKING_SERVER_CERT_PATH (or REQUESTS_CA_BUNDLE) to the CA bundle that signed the "
             "server's certificate, or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification")


def _env_number(name: str, kind: type, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)  # type: ignore[no-any-return]
    except ValueError:
        raise MlflowException(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}",
                              error_code="INVALID_PARAMETER_VALUE") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "1", "false", "0"):
        return raw in ("true", "1")
    raise MlflowException(f"{name} must be 'true' or 'false', got {raw!r}", error_code="INVALID_PARAMETER_VALUE")


def environment_key() -> tuple[tuple[str, str], ...]:
    """The environment variables that configure HTTP (MLflow's, the CA bundles, the proxies)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k in _SETTINGS or k.lower().endswith("_proxy")))


class _Proxy:
    """An ``http://[user:password@]host:port`` proxy from HTTP(S)_PROXY / ALL_PROXY."""

    def __init__(self, url: str) -> None:
        from base64 import b64encode
        from urllib.parse import unquote

        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise MlflowException(
                f"Unsupported proxy {url!r}: fluvial talks to proxies over plain HTTP (http://host:port); "
                "HTTPS still goes end to end through it with CONNECT.", error_code="INVALID_PARAMETER_VALUE")
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers["Proxy-Authorization"] = "Basic " + b64encode(credentials).decode()


class HttpTransport(Transport):
    """Settings default to MLflow's environment variables (reference §1.4); proxies come from
    ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (either case), as requests reads them."""

    def __init__(
        self,
        max_retries: int | None = None,
        backoff_factor: float | None = None,
        backoff_jitter: float | None = None,
        timeout: float | None = None,
        verify: bool | str = True,
        client_cert: str | None = None,
    ) -> None:
        self.max_retries = int(max_retries if max_retries is not None else _env_number(
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES", int, 7))
        self.backoff_factor = backoff_factor if backoff_factor is not None else _env_number(
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", int, 2)
        self.backoff_jitter = backoff_jitter if backoff_jitter is not None else _env_number(
            "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", float, 1.0)
        self.timeout = timeout if timeout is not None else _env_number("MLFLOW_HTTP_REQUEST_TIMEOUT", int, 120)
        self.respect_retry_after = _env_bool("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", True)
        if not 0 <= self.max_retries < MAX_RETRIES_LIMIT:
            raise MlflowException(f"The configured max_retries value ({self.max_retries}) must be at least 0 and "
                                  f"below the maximum allowable retries ({MAX_RETRIES_LIMIT}).",
                                  error_code="INVALID_PARAMETER_VALUE")
        if not 0 <= self.backoff_factor < MAX_BACKOFF_FACTOR_LIMIT:
            raise MlflowException(f"The configured backoff_factor value ({self.backoff_factor}) must be at least 0 "
                                  f"and below the maximum allowable limit ({MAX_BACKOFF_FACTOR_LIMIT}).",
                                  error_code="INVALID_PARAMETER_VALUE")
        if self.timeout <= 0:
            raise MlflowException(f"MLFLOW_HTTP_REQUEST_TIMEOUT must be positive, got {self.timeout}",
                                  error_code="INVALID_PARAMETER_VALUE")
        insecure = _env_bool("MLFLOW_TRACKING_INSECURE_TLS", False)
        cert_path = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
        if verify is True and insecure and cert_path:
            raise MlflowException("When 'MLFLOW_TRACKING_INSECURE_TLS' is true then 'MLFLOW_TRACKING_SERVER_CERT_PATH' "
                                  "must not be set.", error_code="INVALID_PARAMETER_VALUE")
        if verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            verify = False if insecure else (cert_path or bundle or True)
        self.verify = verify
        self.client_cert = client_cert or os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
        from urllib.request import getproxies_environment

        self._proxy_env = getproxies_environment()  # {"https": url, "http": url, "all": url, "no": hosts}
        self._proxies: dict[str, _Proxy | None] = {}
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    def proxy_for(self, scheme: str, host: str) -> _Proxy | None:
        """The proxy a request to ``scheme://host`` goes through (None: direct), as requests picks it."""
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

        url = self._proxy_env.get(scheme) or self._proxy_env.get("all")
        if not url or proxy_bypass_environment(host, self._proxy_env):
            return None
        if url not in self._proxies:
            self._proxies[url] = _Proxy(url)
        return self._proxies[url]

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
                try:
                    ctx.load_cert_chain(self.client_cert)
                except (OSError, ssl.SSLError) as exc:
                    raise MlflowException(
                        f"Cannot use the client certificate MLFLOW_TRACKING_CLIENT_CERT_PATH={self.client_cert!r}: {exc} "
                        "(it must be a PEM file holding the certificate and its private key)."
                    ) from None
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
        proxy = self.proxy_for(scheme, host)
        if scheme == "https":
            if proxy is None:
                return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context())
            conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=self._ssl_context())
            conn.set_tunnel(host, port, headers=proxy.headers)  # CONNECT; TLS is then end to end
            return conn
        if proxy is None:
            return http.client.HTTPConnection(host, port, timeout=timeout)
        return http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)

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
        retry_after = response.headers.get("retry-after") if response is not None and self.respect_retry_after else None
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
        headers = request.headers
        proxy = self.proxy_for(parts.scheme, parts.hostname) if parts.scheme == "http" else None
        if proxy is not None:  # plain HTTP through a proxy: absolute-form target, credentials per request
            target = f"http://{parts.netloc.rpartition('@')[2]}{target}"
            headers = {**request.headers, **proxy.headers}
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
                conn.request(request.method, target, body=request.body, headers=headers)
                raw = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:  # retrying cannot help
                conn.close()
                raise MlflowException(f"API request to {request.url} failed: the server's TLS certificate could not be "
                                      f"verified ({exc.verify_message or exc}); "
                                      f"{_TLS_HINT}.") from None
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
_default_key: tuple[tuple[str, str], ...] | None = None
_default_lock = threading.Lock()


class _CurrentTransport(Transport):
    """What REST stores and artifact repositories hold: each request goes through the transport
    matching the environment at that moment."""

    def send(self, request: HttpRequest, stream: bool = False) -> HttpResponse:
        return current_transport().send(request, stream)


_CURRENT = _CurrentTransport()


def default_transport() -> Transport:
    """The process-wide transport for stores to hold (see ``current_transport``)."""
    return _CURRENT


def current_transport() -> HttpTransport:
    """The process-wide transport (one pool of keep-alive connections), rebuilt when the environment
    variables it reads change (so a setting made after the first request still applies)."""
    global _default, _default_key
    key = environment_key()
    if _default is not None and key == _default_key:
        return _default
    with _default_lock:
        if _default is None or key != _default_key:
            import atexit

            fresh = HttpTransport()
            old, _default, _default_key = _default, fresh, key
            atexit.register(fresh.close)  # idle keep-alive sockets closed cleanly at exit
            if old is not None:
                old.close()
        return _default
