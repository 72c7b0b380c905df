"""``create_app(stores)``: the tracking server as an ASGI application, built from stores and
configuration only: no globals, no environment variables.

Layers, outermost first: SecurityMiddleware (Host, Origin, CORS) -> RpcApp (the REST API, from the
wire table) -> Starlette (health, version, the proxied artifact service, MLflow's UI-side routes,
JSON 404/405)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fluvial.server import adapter, mlflow_ui_routes, proxy
from fluvial.server.config import Stores
from fluvial.server.handlers import load_all
from fluvial.server.rpc import RpcApp
from fluvial.server.security import SecurityMiddleware
from fluvial.server.ui import assets as ui_assets
from fluvial.version import MLFLOW_COMPAT_VERSION
from fluvial.wire.endpoints import ENDPOINTS


def create_app(stores: Stores) -> Any:
    """The ASGI app serving the REST API and, when enabled, the proxied artifact service."""
    config = stores.config
    handlers = load_all()
    table = {(e.version, e.path): e for e in ENDPOINTS.values()}
    prefix = config.static_prefix.rstrip("/")

    async def health(_: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(_: Request) -> Response:
        return PlainTextResponse(MLFLOW_COMPAT_VERSION)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        *proxy.routes(stores, prefix),
        *ui_assets.routes(prefix),
    ]
    if prefix:
        routes += [Route(prefix + "/health", health, methods=["GET"]), Route(prefix + "/version", version, methods=["GET"])]
    routes += mlflow_ui_routes.routes(stores, prefix)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return adapter.json_error(405, "BAD_REQUEST", "Method not allowed.")
        return adapter.json_error(status, "ENDPOINT_NOT_FOUND", "No such endpoint.")

    async def crash(request: Request, exc: Exception) -> Response:
        return adapter.internal_error(exc)

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: crash})
    return SecurityMiddleware(RpcApp(app, stores, table, handlers), config.allowed_hosts, config.cors_allowed_origins)
