"""Handlers: pure functions ``(stores, request dict) -> response dict``, one module per resource.
They never see the web framework; ``server/adapter.py`` decodes, calls and encodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fluvial.server.config import Stores

Handler = Callable[[Stores, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of the endpoint ``name`` of the wire table."""

    def wrap(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return wrap


def load_all() -> dict[str, Handler]:
    from fluvial.server.handlers import (  # noqa: F401
        artifacts,
        experiments,
        extensions,
        logged_models,
        metrics,
        registry,
        runs,
        ui,
    )

    return HANDLERS
