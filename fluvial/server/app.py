"""``create_app(stores)``: the tracking server as an ASGI application, built from stores and
configuration only: no globals, no environment variables.

Layers, outermost first: SecurityMiddleware (Host, Origin, CORS, nosniff) -> AuthMiddleware (only with
``--app-name basic-auth``) -> RpcApp (the REST API, from the wire table) -> Starlette (health, version,
the proxied artifact service, MLflow's UI-side routes, the web UI, the login page, JSON 404/405).

Every route declares the permission it needs (``fluvial/wire/access.py``); the app is not built when one
does not, auth or not."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fluvial.server import adapter, mlflow_ui_routes, proxy
from fluvial.server.config import Stores
from fluvial.server.handlers import load_all
from fluvial.server.routes import check_declared, route
from fluvial.server.rpc import RpcApp
from fluvial.server.security import SecurityMiddleware
from fluvial.server.ui import assets as ui_assets
from fluvial.version import MLFLOW_COMPAT_VERSION
from fluvial.wire.access import PUBLIC, USER
from fluvial.wire.endpoints import ENDPOINTS


def create_app(stores: Stores) -> Any:
    """The ASGI app serving the REST API and, when enabled, the proxied artifact service."""
    config = stores.config
    handlers = dict(load_all())
    table = {(e.version, e.path): e for e in ENDPOINTS.values()}
    prefix = config.static_prefix.rstrip("/")

    async def health(_: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(_: Request) -> Response:
        return PlainTextResponse(MLFLOW_COMPAT_VERSION)

    routes = [route("/health", health, ["GET"], PUBLIC), route("/version", version, ["GET"], USER),
              *proxy.routes(stores, prefix), *ui_assets.routes(prefix)]
    if prefix:
        routes += [route(prefix + "/health", health, ["GET"], PUBLIC),
                   route(prefix + "/version", version, ["GET"], USER)]
    routes += mlflow_ui_routes.routes(stores, prefix)
    authority = None
    if "auth_store" in stores.extras:
        from fluvial.server.auth import login
        from fluvial.server.auth.api import AUTH_HANDLERS
        from fluvial.server.auth.check import Authority
        from fluvial.server.auth.config import load_authorization_function

        auth_config = stores.extras["auth_config"]
        authority = Authority(auth_config, stores.extras["auth_store"], stores,
                              load_authorization_function(auth_config.authorization_function))
        stores.extras["auth_authority"] = authority
        handlers.update(AUTH_HANDLERS)
        routes += login.routes(authority, prefix)
    check_declared(routes, ENDPOINTS.values())

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return adapter.json_error(405, "BAD_REQUEST", "Method not allowed.")
        return adapter.json_error(status, "ENDPOINT_NOT_FOUND", "No such endpoint.")

    async def crash(request: Request, exc: Exception) -> Response:
        return adapter.internal_error(exc)

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: crash})
    if authority is None:
        inner: Any = RpcApp(app, stores, table, handlers)
    else:
        from fluvial.server.auth.guard import Guard
        from fluvial.server.auth.middleware import AuthMiddleware

        inner = AuthMiddleware(RpcApp(app, stores, table, handlers, Guard(authority)), authority, routes, prefix)
    return SecurityMiddleware(inner, config.allowed_hosts, config.cors_allowed_origins)
