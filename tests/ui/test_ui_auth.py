"""The web UI behind ``--app-name basic-auth``: a browser without a session lands on the login page, logs
in, sees the experiments page and the user menu with its username, and logs out (the session is gone)."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from _serve import Server, fluvial_server

ADMIN, ADMIN_PASSWORD = "admin", "ui-admin-password-123"
USER, PASSWORD = "alice", "alice-password-123"


def _post(server: Server, path: str, body: dict[str, Any], user: str, password: str) -> dict[str, Any]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(server.url + path, json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def auth_ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("ui-auth")
    ini = workdir / "basic_auth.ini"
    ini.write_text(f"[mlflow]\ndefault_permission = NO_PERMISSIONS\ndatabase_uri = sqlite:///{workdir / 'auth.db'}\n"
                   f"admin_username = {ADMIN}\nadmin_password = {ADMIN_PASSWORD}\n")
    with fluvial_server(workdir, app_name="basic-auth", env={"MLFLOW_AUTH_CONFIG_PATH": str(ini)}) as server:
        _post(server, "/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD}, ADMIN, ADMIN_PASSWORD)
        _post(server, "/api/2.0/mlflow/experiments/create", {"name": "alice-experiment"}, USER, PASSWORD)
        _post(server, "/api/2.0/mlflow/experiments/create", {"name": "admin-only-experiment"}, ADMIN, ADMIN_PASSWORD)
        yield server


def test_login_experiments_user_menu_and_logout(browser: Any, auth_ui_server: Server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=auth_ui_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    try:
        page.goto("/#/experiments")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.fill("#username", USER)
        page.fill("#password", "wrong-password")
        page.click("button[type=submit]")
        page.wait_for_selector("#login-error:not([hidden])")
        problems.clear()  # the refused login (HTTP 401) is logged by the browser
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("main .page")
        assert "/login" not in page.url
        page.get_by_text("alice-experiment").first.wait_for()
        assert page.get_by_text("admin-only-experiment").count() == 0  # searches show what alice may read
        menu = page.locator(".usermenu")
        menu.wait_for()
        assert USER in menu.inner_text() and "(admin)" not in menu.inner_text()
        menu.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r"/login$"))
        page.goto("/")  # the session is gone: back to the login page
        page.wait_for_url(re.compile(r"/login\?next="))
        assert page.locator("#login-form").is_visible()
    finally:
        context.close()
    assert not problems, "browser reported errors:\n" + "\n".join(problems)
