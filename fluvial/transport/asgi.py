"""An in-process transport: requests go straight to an ASGI app on a private event loop thread.
Used by tests to run the REST client against the server without sockets."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from fluvial.transport.base import HttpRequest, HttpResponse, Transport


class AsgiTransport(Transport):
    def __init__(self, app: Any) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asgi-transport", daemon=True)
        self._thread.start()

    async def _call(self, request: HttpRequest) -> HttpResponse:
        parts = urlsplit(request.url)
        body = request.body if isinstance(request.body, bytes) or request.body is None else request.body.read()
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]
        if not any(k == b"host" for k, _ in headers):
            headers.append((b"host", (parts.netloc or "localhost").encode()))
        if body is not None and not any(k == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "scheme": parts.scheme or "http", "path": unquote(parts.path), "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(), "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 12345), "server": (parts.hostname or "localhost", parts.port or 80),
        }
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body or b"", "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        status = 500
        out_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update({k.decode().lower(): v.decode() for k, v in message.get("headers", [])})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return HttpResponse(status, out_headers, b"".join(chunks))

    def send(self, request: HttpRequest, stream: bool = False) -> HttpResponse:
        future = asyncio.run_coroutine_threadsafe(self._call(request), self._loop)
        return future.result(timeout=request.timeout or 120)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
