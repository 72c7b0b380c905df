"""Browser tests of the web UI: Playwright (Python) driving Debian's ``chromium`` package (never a browser
downloaded by Playwright) against a real ``fluvial server`` started by ``tests/server/_serve.py``.

``page`` collects the page's console errors and uncaught exceptions and fails the test if there are any."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serve import Server, fluvial_server
from _ui import client_for

OPTIONAL_PROBES = ("/ajax-api/2.0/fluvial/users/current",)
@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fluvial_server(tmp_path_factory.mktemp("ui")) as server:
        yield server


@pytest.fixture
def page(browser: Any, ui_server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=ui_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type != "error":
            return
        # The shell asks for the signed-in user; a server without authentication answers 404 (expected).
        if msg.location.get("url", "").endswith(OPTIONAL_PROBES):
            return
        problems.append(f"console.{msg.type}: {msg.text} ({msg.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.problems = problems  # tests that provoke a server error (HTTP 4xx logged by the browser) clear this
    try:
        yield page
    finally:
        context.close()
    assert not problems, "browser reported errors:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def seeded(ui_server: Server) -> dict[str, Any]:
    """The demo data of ``_seed.py`` in this module's server."""
    from _seed import seed

    return seed(client_for(ui_server))
