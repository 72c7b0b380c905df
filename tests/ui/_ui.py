"""Helpers the UI tests import (``from _ui import ...``): a module of its own, since every test folder's
``conftest`` is imported under the same name and one pytest run may collect several of them."""

from __future__ import annotations

from typing import Any

from _serve import Server


def open_page(page: Any, route: str) -> Any:
    """Open ``#/route`` and wait until the page rendered something other than "Loading…"."""
    page.goto("/#/" + route.lstrip("#/"))
    page.wait_for_selector("main .page")
    return page


def client_for(server: Server) -> Any:
    from fluvial.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)
