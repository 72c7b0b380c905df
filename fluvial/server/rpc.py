"""The REST API routes as a small ASGI app driven by the wire table: ``/api/<v>/mlflow/<path>``, fluvial's
own ``/api/<v>/fluvial/<path>`` and their ``/ajax-api`` twins are looked up in a dict (no regex routing),
the body is read with a size limit, and ``adapter.call`` does the rest. Everything else goes on to the
next app."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from fluvial.server import adapter
from fluvial.server.config import Stores
from fluvial.server.handlers import Handler
from fluvial.wire.endpoints import ENDPOINTS, Endpoint, Routes

_JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]


class RpcApp:
    def __init__(self, app: ASGIApp, stores: Stores, table: dict[tuple[str, str], Endpoint],
                 handlers: dict[str, Handler], guard: adapter.Guard | None = None) -> None:
        self.app, self.stores, self.table, self.handlers, self.guard = app, stores, table, handlers, guard
        prefix = stores.config.static_prefix.rstrip("/")
        self.prefixes = (("/api/", False), (prefix + "/ajax-api/", True))
        # Paths with parameters (MLflow 3 logged models: /mlflow/logged-models/{model_id}) and paths
        # with several methods (registry aliases: POST/GET/DELETE), tried only when the dict's entry
        # does not take the request's method.
        self.templates = Routes([e for e in ENDPOINTS.values() if e.name in handlers])

    def _route(self, path: str, method: str) -> tuple[Endpoint | None, bool, dict[str, str]] | None:
        for start, ajax in self.prefixes:
            if path.startswith(start):
                version, _, rest = path[len(start):].partition("/")
                if rest.startswith(("mlflow/", "fluvial/")):
                    endpoint = self.table.get((version, "/" + rest))
                    if endpoint is not None and "{" not in endpoint.path and method in endpoint.methods:
                        return endpoint, ajax, {}
                    found, params = self.templates.match(version, "/" + rest)
                    chosen = next((e for e in found if method in e.methods), found[0] if found else None)
                    return chosen, ajax, params
        return None

    async def _send(self, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [*(headers or _JSON_HEADERS), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _body(self, receive: Receive, limit: int, declared: int | None) -> bytes:
        if declared is not None and declared > limit:
            raise adapter.RequestTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise adapter.RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            found = None
        elif "fluvial.route" in scope:  # the auth middleware routed this request already
            found = scope["fluvial.route"]
        else:
            found = self._route(scope["path"], scope["method"])
        endpoint, ajax, path_params = found if found is not None else (None, False, {})
        if endpoint is None:  # not in the table: the app's own routes (upload-artifact, ...) or their 404
            await self.app(scope, receive, send)
            return
        config = self.stores.config
        if config.artifacts_only:
            await self._send(send, *adapter.error_pair(
                503, "TEMPORARILY_UNAVAILABLE", "Endpoint disabled: the server runs with --artifacts-only."))
            return
        if (endpoint.ajax_only and not ajax) or endpoint.name not in self.handlers:
            await self._send(send, *adapter.error_pair(404, "ENDPOINT_NOT_FOUND", "No such endpoint."))
            return
        method = scope["method"]
        if method not in endpoint.methods:
            await self._send(send, *adapter.error_pair(
                405, "BAD_REQUEST", f"Method not allowed; use {', '.join(endpoint.methods)}."))
            return
        content_type = None
        declared = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length" and value.isdigit():
                declared = int(value)
        body = b""
        query: list[tuple[str, str]] = []
        try:
            if method == "GET":
                query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            else:
                body = await self._body(receive, config.max_request_bytes, declared)
        except adapter.RequestTooLarge as exc:
            await self._send(send, *adapter.error_body(exc))
            return
        status, payload = adapter.call(endpoint, self.handlers[endpoint.name], self.stores, method, query,
                                       content_type, body, path_params, self.guard)
        await self._send(send, status, payload)

