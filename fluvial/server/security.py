"""Request checks in front of every route: Host allow-list (DNS rebinding), cross-origin writes
(CSRF, whatever the content type), and CORS for origins the operator allowed; ``nosniff`` on every answer."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _host_only(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _nosniff(send: Send) -> Send:
    """``X-Content-Type-Options: nosniff`` on every response, errors included."""

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
        await send(message)

    return wrapped


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins}

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        body = orjson.dumps({"error_code": code, "message": message})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _nosniff(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if "*" not in self.allowed_hosts and _host_only(host) not in self.allowed_hosts:
            await self._refuse(send, 403, "PERMISSION_DENIED",
                               "Invalid Host header. Start the server with --allowed-hosts to accept this host.")
            return
        origin = headers.get("origin")
        method = scope["method"]
        allowed_origin = origin is not None and origin.rstrip("/").lower() in self.allowed_origins
        if origin and not allowed_origin and origin != "null":
            same = urlsplit(origin).netloc.lower() == host.lower()
            if not same and method in _WRITE_METHODS | {"OPTIONS"}:
                await self._refuse(send, 403, "PERMISSION_DENIED",
                                   "Cross-origin request refused. Allow the origin with --cors-allowed-origins.")
                return
        elif origin == "null" and method in _WRITE_METHODS:
            await self._refuse(send, 403, "PERMISSION_DENIED", "Cross-origin request refused.")
            return
        if headers.get("sec-fetch-site") == "cross-site" and method in _WRITE_METHODS and not allowed_origin:
            await self._refuse(send, 403, "PERMISSION_DENIED", "Cross-site request refused.")
            return
        if allowed_origin:
            if method == "OPTIONS":
                await send({"type": "http.response.start", "status": 204, "headers": [
                    (b"access-control-allow-origin", origin.encode()),  # type: ignore[union-attr]
                    (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
                    (b"access-control-allow-headers", b"content-type, authorization"),
                    (b"vary", b"Origin")]})
                await send({"type": "http.response.body", "body": b""})
                return

            async def send_with_cors(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"access-control-allow-origin", origin.encode()),  # type: ignore[union-attr]
                                                      (b"vary", b"Origin")]}
                await send(message)

            await self.app(scope, receive, send_with_cors)
            return
        await self.app(scope, receive, send)
