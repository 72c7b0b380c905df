"""``create_app(stores)``: the tracking server as an ASGI application (Starlette), built from stores
and configuration only: no globals, no environment variables."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fluvial.server import adapter, proxy
from fluvial.server.config import Stores
from fluvial.server.handlers import load_all
from fluvial.server.security import SecurityMiddleware
from fluvial.version import MLFLOW_COMPAT_VERSION
from fluvial.wire.endpoints import ENDPOINTS, Endpoint

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _rpc_table() -> dict[tuple[str, str], Endpoint]:
    return {(e.version, e.path): e for e in ENDPOINTS.values()}


def create_app(stores: Stores) -> Any:
    """The ASGI app serving the REST API (and, when enabled, the proxied artifact service)."""
    config = stores.config
    handlers = load_all()
    table = _rpc_table()
    prefix = config.static_prefix.rstrip("/")

    def make_rpc(ajax: bool) -> Any:
        async def rpc(request: Request) -> Response:
            if config.artifacts_only:
                return PlainTextResponse("Endpoint disabled: the server runs with --artifacts-only.", status_code=503)
            version = request.path_params["version"]
            endpoint = table.get((version, "/mlflow/" + request.path_params["rest"]))
            if endpoint is None or (endpoint.ajax_only and not ajax) or endpoint.name not in handlers:
                return adapter.json_error(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")
            if request.method not in endpoint.methods:
                return adapter.json_error(405, "BAD_REQUEST", f"Method not allowed; use {', '.join(endpoint.methods)}.")
            return await adapter.call(endpoint, handlers[endpoint.name], stores, request)

        return rpc

    async def health(_: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(_: Request) -> Response:
        return PlainTextResponse(MLFLOW_COMPAT_VERSION)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/api/{version}/mlflow/{rest:path}", make_rpc(False), methods=ALL_METHODS),
        Route(prefix + "/ajax-api/{version}/mlflow/{rest:path}", make_rpc(True), methods=ALL_METHODS),
        *proxy.routes(stores, prefix),
    ]
    if prefix:
        routes += [Route(prefix + "/health", health, methods=["GET"]), Route(prefix + "/version", version, methods=["GET"])]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return adapter.json_error(405, "BAD_REQUEST", "Method not allowed.")
        return adapter.json_error(status, "ENDPOINT_NOT_FOUND", "No such endpoint.")

    async def crash(request: Request, exc: Exception) -> Response:
        return adapter.internal_error(exc)

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: crash})
    return SecurityMiddleware(app, config.allowed_hosts, config.cors_allowed_origins)
