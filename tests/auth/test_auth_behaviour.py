"""What MLflow 2.22.5's basic-auth app leaves open (reference section 11), as regression tests, plus
fluvial's additions: filtered searches that page correctly, model versions only from readable sources,
API tokens, the login page and its session cookie, rate-limited logins, MLflow-format password hashes.

One server, ``default_permission = READ``: ``victim`` owns an experiment and a model and ``eve`` holds an
explicit NO_PERMISSIONS grant on both (the setting in which MLflow's path tricks leaked files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_server, basic, call, ok, snapshot
from _serve import Server

ADMIN_AUTH = basic(ADMIN, ADMIN_PASSWORD)
EVE = basic("eve", PASSWORD)
VICTIM = basic("victim", PASSWORD)
ART = ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts")


@dataclass
class World:
    server: Server
    exp: str
    run: str
    model: str
    eve_exp: str
    eve_run: str
    eve_model: str


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    with auth_server(tmp_path_factory.mktemp("failopen"), "READ", max_failed_logins_per_user="3",
                     max_failed_logins_per_client="100000") as srv:
        for user in ("victim", "eve", "locked"):
            ok(call(srv, "POST", "/api/2.0/mlflow/users/create", {"username": user, "password": PASSWORD}, ADMIN_AUTH))
        exp = ok(call(srv, "POST", "/api/2.0/mlflow/experiments/create", {"name": "victim-exp"}, VICTIM))["experiment_id"]
        run = ok(call(srv, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp}, VICTIM))["run"]["info"]["run_id"]
        ok(call(srv, "PUT", f"{ART[0]}/{exp}/{run}/artifacts/f.txt", auth=VICTIM, body=b"victim-secret",
                headers={"Content-Type": "application/octet-stream"}))
        ok(call(srv, "POST", "/api/2.0/mlflow/runs/log-metric",
                {"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}, VICTIM))
        ok(call(srv, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "victim-model"}, VICTIM))
        ok(call(srv, "POST", "/api/2.0/mlflow/model-versions/create",
                {"name": "victim-model", "source": f"runs:/{run}/f.txt", "run_id": run}, VICTIM))
        ok(call(srv, "POST", "/api/2.0/mlflow/experiments/permissions/create",
                {"experiment_id": exp, "username": "eve", "permission": "NO_PERMISSIONS"}, VICTIM))
        ok(call(srv, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
                {"name": "victim-model", "username": "eve", "permission": "NO_PERMISSIONS"}, VICTIM))
        eve_exp = ok(call(srv, "POST", "/api/2.0/mlflow/experiments/create", {"name": "eve-exp"}, EVE))["experiment_id"]
        eve_run = ok(call(srv, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": eve_exp},
                          EVE))["run"]["info"]["run_id"]
        ok(call(srv, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "eve-model"}, EVE))
        yield World(srv, exp, run, "victim-model", eve_exp, eve_run, "eve-model")


def _refused(response: Any, *statuses: int) -> None:
    assert response.status in (statuses or (403,)), (response.status, response.body[:300])
    assert b"victim-secret" not in response.body


# ---- MLflow 2.22.5's fail-open routes, each refused here ---------------------------------------------
def test_run_search_naming_a_hidden_experiment_is_refused(world):
    for prefix in ("/api", "/ajax-api"):
        _refused(call(world.server, "POST", f"{prefix}/2.0/mlflow/runs/search", {"experiment_ids": [world.exp]}, EVE))
    both = call(world.server, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": [world.eve_exp, world.exp]}, EVE)
    _refused(both)


def test_model_version_search_hides_versions_of_hidden_models(world):
    versions = ok(call(world.server, "GET", "/api/2.0/mlflow/model-versions/search", {}, EVE)).get("model_versions", [])
    assert all(v["name"] != world.model for v in versions)
    mine = ok(call(world.server, "GET", "/api/2.0/mlflow/model-versions/search", {}, VICTIM))["model_versions"]
    assert any(v["name"] == world.model for v in mine)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_artifact_downloads_of_a_hidden_run_are_refused_on_every_mount(world, method):
    for base in ART:
        _refused(call(world.server, method, f"{base}/{world.exp}/{world.run}/artifacts/f.txt", auth=EVE))
    _refused(call(world.server, method, "/get-artifact", {"run_uuid": world.run, "path": "f.txt"}, EVE))


@pytest.mark.parametrize("path", ["", "{exp}", "./{exp}", "{exp}/{run}", "{exp}/{run}/artifacts"])
def test_artifact_listing_without_trailing_slash_is_checked(world, path):
    for base in ART:
        _refused(call(world.server, "GET", base, {"path": path.format(exp=world.exp, run=world.run)}, EVE))


@pytest.mark.parametrize("spelling", ["%25{d}/{run}/artifacts/f.txt", "./{exp}/{run}/artifacts/f.txt",
                                      "%2E/{exp}/{run}/artifacts/f.txt", "{exp}/./{run}/artifacts/f.txt",
                                      "{exp}//{run}/artifacts/f.txt", "%2E%2F{exp}/{run}/artifacts/f.txt"])
def test_path_spellings_never_fall_back_to_the_default_permission(world, spelling):
    target = spelling.format(exp=world.exp, run=world.run, d=f"3{world.exp}")
    for base in ART:
        response = call(world.server, "GET", f"{base}/{target}", auth=EVE)
        assert response.status in (400, 403, 404), (target, response.status)
        assert b"victim-secret" not in response.body


def test_bulk_metric_routes_and_log_inputs_are_checked(world):
    _refused(call(world.server, "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                  {"run_id": world.run, "metric_key": "m"}, EVE))
    for prefix in ("/api", "/ajax-api"):
        _refused(call(world.server, "GET", f"{prefix}/2.0/mlflow/metrics/get-history-bulk-interval",
                      {"run_ids": world.run, "metric_key": "m"}, EVE))
    before = snapshot(world.server)
    _refused(call(world.server, "POST", "/api/2.0/mlflow/runs/log-inputs", {"run_id": world.run, "datasets": []}, EVE))
    assert snapshot(world.server) == before


def test_artifact_writes_and_deletes_through_the_ajax_mount_are_checked(world):
    before = snapshot(world.server)
    _refused(call(world.server, "PUT", f"{ART[1]}/{world.exp}/{world.run}/artifacts/evil.txt", auth=EVE, body=b"x",
                  headers={"Content-Type": "application/octet-stream"}))
    _refused(call(world.server, "DELETE", f"{ART[1]}/{world.exp}/{world.run}/artifacts/f.txt", auth=EVE))
    assert snapshot(world.server) == before


@pytest.mark.parametrize("source", ["runs:/{run}/f.txt", "mlflow-artifacts:/{exp}/{run}/artifacts/f.txt",
                                    "http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts",
                                    "/etc", "file:///etc", "s3://bucket/x", "models:/victim-model/1"])
def test_model_versions_only_from_readable_sources(world, source):
    before = snapshot(world.server)
    data = {"name": world.eve_model, "source": source.format(exp=world.exp, run=world.run)}
    _refused(call(world.server, "POST", "/api/2.0/mlflow/model-versions/create", data, EVE))
    _refused(call(world.server, "POST", "/api/2.0/mlflow/model-versions/create",
                  {**data, "source": f"runs:/{world.eve_run}/m", "run_id": world.run}, EVE))
    assert snapshot(world.server) == before


def test_model_version_from_own_run_is_allowed(world):
    ok(call(world.server, "POST", "/api/2.0/mlflow/model-versions/create",
            {"name": world.eve_model, "source": f"runs:/{world.eve_run}/m", "run_id": world.eve_run}, EVE))


def test_unknown_paths_need_credentials(world):
    assert call(world.server, "GET", "/graphql").status == 401
    assert call(world.server, "GET", "/no/such/path").status == 401
    assert call(world.server, "GET", "/graphql", auth=EVE).status == 404


def test_bearer_scheme_and_digest_without_password_are_plain_401(world):
    for header in ("Bearer nonsense", "Digest username=eve", "Basic !!!", "Basic " + "ZXZl"):  # "eve", no colon
        response = call(world.server, "GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": "0"},
                        {"Authorization": header})
        assert response.status == 401, header


# ---- the web UI's routes (issue 12) -------------------------------------------------------------------
def test_ui_data_routes_check_every_run_and_experiment_they_name(world):
    s, ui = world.server, "/ajax-api/2.0/fluvial"
    _refused(call(s, "POST", f"{ui}/ui/compare", {"run_ids": [world.eve_run, world.run]}, EVE))
    assert ok(call(s, "POST", f"{ui}/ui/compare", {"run_ids": [world.eve_run]}, EVE))["runs"]
    _refused(call(s, "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                  {"run_ids": [world.eve_run, world.run], "metric_key": "m"}, EVE))
    for path, data in (("ui/runs-page", {"experiment_ids": [world.eve_exp, world.exp]}),
                       ("ui/columns", {"experiment_ids": [world.exp]}),
                       ("runs/count", {"experiment_ids": [world.eve_exp, world.exp]})):
        _refused(call(s, "POST", f"{ui}/{path}", data, EVE))
    _refused(call(s, "GET", "/api/2.0/fluvial/runs/count", {"experiment_ids": [world.eve_exp, world.exp]}, EVE))
    assert ok(call(s, "GET", "/api/2.0/fluvial/runs/count", {"experiment_ids": [world.eve_exp]}, EVE)) == {"count": 1}
    _refused(call(s, "GET", "/api/2.0/fluvial/metrics/get-history-reduced",
                  {"run_id": world.run, "metric_key": "m"}, EVE))
    assert ok(call(s, "GET", "/api/2.0/fluvial/metrics/get-history-reduced",
                   {"run_id": world.run, "metric_key": "m"}, VICTIM))["metrics"][0]["value"] == 1.0
    assert ok(call(s, "GET", "/ajax-api/2.0/mlflow/gateway-proxy", {}, EVE)) == {"endpoints": []}


def test_ui_artifact_routes_check_the_run_or_model_they_read_and_write(world):
    s = world.server
    # get-artifact reads run_id, else run_uuid: the check follows the same field
    _refused(call(s, "GET", "/get-artifact", {"run_uuid": world.run, "path": "f.txt"}, EVE))
    _refused(call(s, "GET", "/get-artifact", {"run_id": world.run, "run_uuid": world.eve_run, "path": "f.txt"}, EVE))
    assert call(s, "GET", "/get-artifact", {"run_id": world.run, "path": "f.txt"}, VICTIM).body == b"victim-secret"
    # upload-artifact writes to run_uuid, whatever run_id says
    before = snapshot(s)
    for query in (f"run_uuid={world.run}", f"run_id={world.eve_run}&run_uuid={world.run}"):
        _refused(call(s, "POST", f"/ajax-api/2.0/mlflow/upload-artifact?{query}&path=evil.txt", auth=EVE, body=b"x",
                      headers={"Content-Type": "application/octet-stream"}))
    assert snapshot(s) == before
    ok(call(s, "POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={world.eve_run}&path=mine.txt", auth=EVE,
            body=b"mine", headers={"Content-Type": "application/octet-stream"}))
    # a model version's files: the model's grant decides, and what is read is the version's own source
    version = ok(call(s, "POST", "/api/2.0/mlflow/model-versions/create",
                      {"name": world.model, "source": f"runs:/{world.run}", "run_id": world.run}, VICTIM))
    number = version["model_version"]["version"]
    query = {"name": world.model, "version": number, "path": "f.txt"}
    _refused(call(s, "GET", "/model-versions/get-artifact", query, EVE))
    assert call(s, "GET", "/model-versions/get-artifact", query, VICTIM).body == b"victim-secret"
    _refused(call(s, "GET", "/model-versions/get-artifact", {**query, "name": world.eve_model, "version": "1"},
                  EVE), 404)


def test_ui_pages_need_a_session_and_only_the_login_page_is_public(world):
    s = world.server
    browser = {"Accept": "text/html,application/xhtml+xml"}
    for path in ("/", "/static-files/app.css", "/ui-assets/0000/main.js"):
        redirect = call(s, "GET", path, headers=browser)
        assert redirect.status == 302 and redirect.headers["location"].startswith("/login?next="), path
        assert call(s, "GET", path).status == 401, path
    login = ok(call(s, "POST", "/api/2.0/fluvial/users/login", {"username": "eve", "password": PASSWORD}))
    assert login["user"]["username"] == "eve"
    page = call(s, "GET", "/", auth=EVE, headers=browser)
    assert page.status == 200 and b"<html" in page.body.lower()
    asset = re.search(r'/ui-assets/[0-9a-f]+/', page.body.decode())
    assert asset is not None
    assert call(s, "GET", asset.group(0) + "main.js", auth=EVE).status == 200


# ---- filtered searches page correctly ----------------------------------------------------------------
def _pages(world: World, path: str, key: str, method: str, size: int) -> list[list[str]]:
    pages, token = [], None
    for _ in range(100):
        data: dict[str, Any] = {"max_results": size, **({"page_token": token} if token else {})}
        page = ok(call(world.server, method, path, data, EVE))
        pages.append([item["name"] for item in page.get(key, [])])
        token = page.get("next_page_token")
        if not token:
            return pages
    raise AssertionError("paging did not end")


def test_experiment_search_pages_hold_only_readable_items_and_are_never_empty(world):
    for i in range(7):
        name = f"page-{i}"
        exp = ok(call(world.server, "POST", "/api/2.0/mlflow/experiments/create", {"name": name}, VICTIM))
        if i % 3 != 0:
            ok(call(world.server, "POST", "/api/2.0/mlflow/experiments/permissions/create",
                    {"experiment_id": exp["experiment_id"], "username": "eve", "permission": "NO_PERMISSIONS"},
                    VICTIM))
    for size in (1, 2, 3):
        pages = _pages(world, "/api/2.0/mlflow/experiments/search", "experiments", "POST", size)
        names = [n for page in pages for n in page]
        assert all(page for page in pages) or names == []
        assert all(len(page) <= size for page in pages)
        assert "victim-exp" not in names and len(names) == len(set(names))
        assert {n for n in names if n.startswith("page-")} == {"page-0", "page-3", "page-6"}


def test_registered_model_search_filters_and_pages(world):
    for i in range(4):
        ok(call(world.server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": f"rm-{i}"}, VICTIM))
        if i % 2:
            ok(call(world.server, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
                    {"name": f"rm-{i}", "username": "eve", "permission": "NO_PERMISSIONS"}, VICTIM))
    pages = _pages(world, "/api/2.0/mlflow/registered-models/search", "registered_models", "GET", 1)
    names = [n for page in pages for n in page]
    assert all(pages) and len(names) == len(set(names))
    assert world.model not in names and {"rm-0", "rm-2", world.eve_model} <= set(names)
    assert not {"rm-1", "rm-3"} & set(names)


# ---- ownership and grants follow the models ---------------------------------------------------------
def test_rename_moves_grants_and_delete_drops_them(world):
    ok(call(world.server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "moving"}, VICTIM))
    ok(call(world.server, "POST", "/api/2.0/mlflow/registered-models/rename", {"name": "moving", "new_name": "moved"},
            VICTIM))
    grant = ok(call(world.server, "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                    {"name": "moved", "username": "victim"}, VICTIM))
    assert grant["registered_model_permission"]["permission"] == "MANAGE"
    ok(call(world.server, "DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "moved"}, VICTIM))
    ok(call(world.server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "moved"}, EVE))
    user = ok(call(world.server, "GET", "/api/2.0/mlflow/users/get", {"username": "victim"}, VICTIM))["user"]
    assert all(p["name"] != "moved" for p in user["registered_model_permissions"])


# ---- users API shapes and errors ---------------------------------------------------------------------
def test_users_api_errors(world):
    s = world.server
    assert call(s, "POST", "/api/2.0/mlflow/users/create", {"username": "x", "password": "short"},
                ADMIN_AUTH).json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert call(s, "POST", "/api/2.0/mlflow/users/create", {"username": "eve", "password": PASSWORD},
                ADMIN_AUTH).json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    missing = call(s, "GET", "/api/2.0/mlflow/users/get", {"username": "nobody-here"}, ADMIN_AUTH)
    assert missing.status == 404 and b"nobody-here" not in missing.body
    bad = call(s, "POST", "/api/2.0/mlflow/experiments/permissions/create",
               {"experiment_id": world.eve_exp, "username": "victim", "permission": "OWNER"}, EVE)
    assert bad.status == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert call(s, "GET", "/api/2.0/mlflow/users/get", {"username": "victim"}, EVE).status == 403
    user = ok(call(s, "GET", "/api/2.0/mlflow/users/get", {"username": "eve"}, EVE))["user"]
    assert set(user) == {"id", "username", "is_admin", "experiment_permissions", "registered_model_permissions"}
    assert call(s, "POST", "/api/2.0/mlflow/users/create", {"username": "y", "password": PASSWORD}, EVE).status == 403


def test_mlflow3_current_user_list_and_own_password_change(world):
    s = world.server
    for base in ("/api", "/ajax-api"):
        me = ok(call(s, "GET", f"{base}/2.0/mlflow/users/current", auth=EVE))
        assert me["user"]["username"] == "eve" and me["user"]["is_admin"] is False and me["is_basic_auth"] is True
    assert call(s, "GET", "/api/2.0/mlflow/users/list", auth=EVE).status == 403
    listed = ok(call(s, "GET", "/api/2.0/mlflow/users/list", auth=ADMIN_AUTH))["users"]
    assert {"id", "username", "is_admin", "roles"} == set(listed[0]) and "eve" in {u["username"] for u in listed}
    ok(call(s, "POST", "/api/2.0/mlflow/users/create", {"username": "rotator", "password": PASSWORD}, ADMIN_AUTH))
    bearer = {"Authorization": "Bearer " + ok(call(s, "POST", "/api/2.0/fluvial/tokens/create", {"name": "t"},
                                                    basic("rotator", PASSWORD)))["token"]}
    change = {"username": "rotator", "password": "second-password-1"}
    for extra in ({}, {"current_password": "not-the-password"}, {"current_password": "second-password-1"}):
        refused = call(s, "PATCH", "/api/2.0/mlflow/users/update-password", {**change, **extra}, bearer)
        assert refused.status == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    ok(call(s, "PATCH", "/api/2.0/mlflow/users/update-password", {**change, "current_password": PASSWORD}, bearer))
    # over Basic the header proves the current password (MLflow 2.x's client sends none)
    ok(call(s, "PATCH", "/api/2.0/mlflow/users/update-password", {"username": "rotator", "password": PASSWORD},
            basic("rotator", "second-password-1")))
    assert ok(call(s, "GET", "/api/2.0/fluvial/users/current", auth=basic("rotator", PASSWORD)))


# ---- tokens, sessions, the login page, rate limiting, hashes -----------------------------------------
def test_api_tokens_work_until_revoked(world):
    s = world.server
    made = ok(call(s, "POST", "/api/2.0/fluvial/tokens/create", {"name": "ci", "expires_in_days": 1}, EVE))
    assert made["token"].startswith("fluvial_")
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert ok(call(s, "GET", "/api/2.0/fluvial/users/current", auth=bearer))["user"]["username"] == "eve"
    _refused(call(s, "GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": world.exp}, bearer))
    listed = ok(call(s, "GET", "/api/2.0/fluvial/tokens/list", auth=EVE))["tokens"]
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    assert call(s, "POST", "/api/2.0/fluvial/tokens/revoke", {"token_id": made["id"]}, VICTIM).status == 404
    ok(call(s, "POST", "/api/2.0/fluvial/tokens/revoke", {"token_id": made["id"]}, EVE))
    assert call(s, "GET", "/api/2.0/fluvial/users/current", auth=bearer).status == 401
    assert call(s, "POST", "/api/2.0/fluvial/tokens/create", {"name": "x", "expires_in_days": 0}, EVE).status == 400


def test_expired_tokens_are_refused(world):
    from fluvial.server.auth.store import AuthStore

    store = AuthStore(f"sqlite:///{Path(world.server.log).parent / 'basic_auth.db'}")
    user = store.get_user("eve")
    assert user is not None
    _, token, _ = store.create_token(user.id, "old", -1.0)
    assert call(world.server, "GET", "/api/2.0/fluvial/users/current",
                auth={"Authorization": f"Bearer {token}"}).status == 401


def test_login_page_session_cookie_and_logout(world):
    s = world.server
    page = call(s, "GET", "/login", headers={"Accept": "text/html"})
    assert page.status == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    html = page.body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and not re.search(r"\son\w+=", html)
    assert call(s, "GET", "/login/login.js").status == 200
    redirect = call(s, "GET", "/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert redirect.status == 302 and redirect.headers["location"].startswith("/login?next=")
    assert "www-authenticate" not in redirect.headers
    assert call(s, "POST", "/api/2.0/fluvial/users/login", {"username": "eve", "password": "nope"}).status == 401
    login = call(s, "POST", "/api/2.0/fluvial/users/login", {"username": "eve", "password": PASSWORD})
    cookie = ok(login) and login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = {"Cookie": cookie.split(";", 1)[0]}
    assert ok(call(s, "GET", "/api/2.0/fluvial/users/current", auth=session))["user"] == {
        "username": "eve", "is_admin": False}
    ok(call(s, "POST", "/api/2.0/fluvial/users/logout", auth=session))
    assert call(s, "GET", "/api/2.0/fluvial/users/current", auth=session).status == 401


def test_failed_logins_are_rate_limited(world):
    s = world.server
    for _ in range(3):
        assert call(s, "GET", "/api/2.0/fluvial/users/current", auth=basic("locked", "wrong-password")).status == 401
    limited = call(s, "GET", "/api/2.0/fluvial/users/current", auth=basic("locked", PASSWORD))
    assert limited.status == 429 and int(limited.headers["retry-after"]) > 0
    assert ok(call(s, "GET", "/api/2.0/fluvial/users/current", auth=EVE))["user"]["username"] == "eve"


def test_mlflow_password_hashes_verify_and_new_ones_are_scrypt(world):
    import hashlib

    from fluvial.server.auth.passwords import verify_password
    from fluvial.server.auth.store import AuthStore

    store = AuthStore(f"sqlite:///{Path(world.server.log).parent / 'basic_auth.db'}")
    user = store.get_user("victim")
    assert user is not None and user.password_hash.startswith("scrypt:32768:8:1$")
    pbkdf2 = "pbkdf2:sha256:1000$salt$" + hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex()
    assert verify_password(pbkdf2, "pw") and not verify_password(pbkdf2, "px")
    assert not verify_password("plain", "plain") and not verify_password("scrypt:99999999999:8:1$s$00", "x")


def test_audit_log_records_grant_changes_and_deletes(world):
    entries = ok(call(world.server, "GET", "/api/2.0/fluvial/audit-log/list", {"max_results": 1000}, ADMIN_AUTH))
    actions = {(e["actor"], e["action"]) for e in entries["entries"]}
    assert ("victim", "CreateExperimentPermission") in actions and ("admin", "CreateUser") in actions
    ok(call(world.server, "PUT", f"{ART[0]}/{world.eve_exp}/{world.eve_run}/artifacts/gone.txt", auth=EVE, body=b"x",
            headers={"Content-Type": "application/octet-stream"}))
    ok(call(world.server, "DELETE", f"{ART[0]}/{world.eve_exp}/{world.eve_run}/artifacts/gone.txt", auth=EVE))
    entries = ok(call(world.server, "GET", "/api/2.0/fluvial/audit-log/list", {"max_results": 1}, ADMIN_AUTH))
    assert entries["entries"][0]["action"] == "DeleteArtifact" and entries["entries"][0]["actor"] == "eve"
    assert call(world.server, "GET", "/api/2.0/fluvial/audit-log/list", auth=EVE).status == 403
