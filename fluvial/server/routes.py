"""Routes outside the REST table declare their permission too: build them with :func:`route` (or
:func:`mount`), never with Starlette's ``Route``/``Mount`` directly. ``create_app`` refuses to start when
any route or wire endpoint has no declaration, naming it (:func:`check_declared`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from fluvial.wire.access import Access
from fluvial.wire.endpoints import Endpoint


class RouteWithoutPermission(RuntimeError):
    """A route was built without a permission declaration."""


class GuardedRoute(Route):
    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: list[str], access: Access) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.access = access


class GuardedMount(Mount):
    def __init__(self, path: str, app: Any, *, access: Access, name: str | None = None) -> None:
        super().__init__(path, app=app, name=name)
        self.access = access


def route(path: str, endpoint: Callable[..., Any], methods: list[str], access: Access) -> GuardedRoute:
    """A Starlette route with the permission it needs (``fluvial.wire.access``)."""
    return GuardedRoute(path, endpoint, methods=methods, access=access)


def mount(path: str, app: Any, access: Access, name: str | None = None) -> GuardedMount:
    """A mounted app (static files) with the permission every path under it needs."""
    return GuardedMount(path, app, access=access, name=name)


def access_of(r: BaseRoute) -> Access | None:
    access = getattr(r, "access", None)
    return access if isinstance(access, Access) else None


def describe(r: BaseRoute) -> str:
    methods = sorted(getattr(r, "methods", None) or [])
    return f"{' '.join(methods) or 'ANY'} {getattr(r, 'path', r)!s}"


def check_declared(routes: Iterable[BaseRoute], endpoints: Iterable[Endpoint]) -> None:
    missing = [f"route {describe(r)}" for r in routes if access_of(r) is None]
    missing += [f"endpoint {e.name} ({'/'.join(e.methods)} /api/{e.version}{e.path})" for e in endpoints
                if not isinstance(e.access, Access)]
    if missing:
        raise RouteWithoutPermission(
            "The server refuses to start: these routes declare no permission: " + "; ".join(missing)
            + ". Declare one with access=... (fluvial/wire/access.py) on the Endpoint, or build the route "
            "with fluvial.server.routes.route(path, handler, methods, access).")
