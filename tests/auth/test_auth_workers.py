"""What each worker remembers, and what all workers share: a ``--workers 2`` server plus a second
server (replica) on the same databases.

- The failed-login budget is one for all workers and replicas (kept in the auth database).
- A worker answers a credential or a grant it looked up within ``auth_cache_ttl_seconds`` (1 s) from
  memory; a password change, a revoked grant or token, a demoted admin are refused by every worker once
  that time has passed (checked on many fresh connections, so both workers of each server answer).
- The password KDF runs once per credential, not once per request or per cache period."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_server, basic, call, ok, write_ini

from fluvial.exceptions import MlflowException

pytestmark = pytest.mark.slow
ADMIN_AUTH = basic(ADMIN, ADMIN_PASSWORD)
TTL_S = 1.0  # the default auth_cache_ttl_seconds
FRESH = 12  # fresh connections per check: with 2 workers per server, each worker answers some
BUDGET = 3  # max_failed_logins_per_user


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Any:
    base = tmp_path_factory.mktemp("workers")
    with auth_server(base / "a", workers=2, max_failed_logins_per_user=str(BUDGET)) as a, \
            auth_server(base / "b", workers=2, share=a) as b:
        yield a, b


def _statuses(servers: Any, method: str, path: str, data: dict[str, Any] | None, auth: dict[str, str]) -> set[int]:
    return {call(s, method, path, data, auth).status for s in servers for _ in range(FRESH // len(servers))}


def _user(server: Any, name: str) -> dict[str, str]:
    ok(call(server, "POST", "/api/2.0/mlflow/users/create", {"username": name, "password": PASSWORD}, ADMIN_AUTH))
    return basic(name, PASSWORD)


def test_failed_login_budget_is_shared_by_workers_and_replicas(servers):
    a, b = servers
    _user(a, "mallory-target")
    wrong = basic("mallory-target", "not-the-password")
    for _ in range(BUDGET):  # the whole budget, spent on server a
        assert call(a, "GET", "/api/2.0/fluvial/users/current", auth=wrong).status == 401
    # every worker of both servers now refuses, the right password too, until the window has passed
    assert _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, wrong) == {429}
    assert _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, basic("mallory-target", PASSWORD)) == {429}
    # other users are not affected
    other = _user(b, "innocent")
    assert _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, other) == {200}


def test_password_change_reaches_every_worker_within_the_cache_time(servers):
    a, b = servers
    old = _user(a, "rotating")
    assert _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, old) == {200}  # remembered everywhere
    ok(call(b, "PATCH", "/api/2.0/mlflow/users/update-password", {"username": "rotating",
                                                                     "password": "a-new-password-456"}, ADMIN_AUTH))
    time.sleep(TTL_S + 0.5)
    new = basic("rotating", "a-new-password-456")
    assert _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, new) == {200}
    refused = _statuses(servers, "GET", "/api/2.0/fluvial/users/current", None, old)
    assert refused and refused <= {401, 429}  # wrong password; after BUDGET of them, the lock-out


def test_revoked_grant_token_and_admin_flag_reach_every_worker_within_the_cache_time(servers):
    a, b = servers
    owner = _user(a, "grant-owner")
    worker = _user(a, "grant-holder")
    exp = ok(call(a, "POST", "/api/2.0/mlflow/experiments/create", {"name": "cache-exp"}, owner))["experiment_id"]
    ok(call(a, "POST", "/api/2.0/mlflow/experiments/permissions/create",
            {"experiment_id": exp, "username": "grant-holder", "permission": "READ"}, owner))
    token = ok(call(a, "POST", "/api/2.0/fluvial/tokens/create", {"name": "t"}, worker))
    bearer = {"Authorization": f"Bearer {token['token']}"}
    ok(call(a, "PATCH", "/api/2.0/mlflow/users/update-admin", {"username": "grant-holder", "is_admin": True},
            ADMIN_AUTH))
    time.sleep(TTL_S + 0.5)
    get = ("GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": exp})
    users = ("GET", "/api/2.0/fluvial/users/list", None)
    assert _statuses(servers, *get, bearer) == {200} and _statuses(servers, *users, worker) == {200}
    ok(call(b, "DELETE", "/api/2.0/mlflow/experiments/permissions/delete",
            {"experiment_id": exp, "username": "grant-holder"}, owner))
    ok(call(b, "POST", "/api/2.0/fluvial/tokens/revoke", {"token_id": token["id"]}, worker))
    ok(call(b, "PATCH", "/api/2.0/mlflow/users/update-admin", {"username": "grant-holder", "is_admin": False},
            ADMIN_AUTH))
    time.sleep(TTL_S + 0.5)
    assert _statuses(servers, *get, worker) == {403}  # the grant is gone (default NO_PERMISSIONS)
    assert _statuses(servers, *users, worker) == {403}  # no longer an admin
    assert _statuses(servers, *get, bearer) == {401}  # the token is revoked


# ---- in process: the KDF runs once per credential; config checks ------------------------------------
def test_kdf_runs_once_per_credential_and_again_after_a_password_change(tmp_path, monkeypatch):
    from fluvial.server.auth import check, passwords
    from fluvial.server.auth.config import read_config
    from fluvial.server.auth.store import AuthStore, login_failures

    calls: list[str] = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda stored, pw: calls.append(pw) or real(stored, pw))
    config = read_config(write_ini(tmp_path / "basic_auth.ini", auth_cache_ttl_seconds="0"))  # no 1 s memory
    store = AuthStore(config.database_uri)
    store.create_user("kdf", PASSWORD)
    authority = check.Authority(config, store, None)  # type: ignore[arg-type]  # no run lookups here
    headers = {"authorization": basic("kdf", PASSWORD)["Authorization"]}
    for _ in range(20):
        caller = authority.authenticate(headers, "127.0.0.1")
        assert caller is not None and caller.username == "kdf"
    assert len(calls) == 1  # every request looked the user up (cache time 0), the KDF ran once
    store.update_password("kdf", "another-password-1")
    assert authority.authenticate(headers, "127.0.0.1") is None and len(calls) == 2
    assert authority.authenticate(headers, "127.0.0.1") is None and len(calls) == 2  # the same wrong one: no KDF
    assert authority.failures.retry_after(["user:kdf"]) == 0  # 2 failures counted, under the limit of 10
    for _ in range(8):
        assert authority.authenticate(headers, "127.0.0.1") is None
    with pytest.raises(check.TooManyFailures):  # still counted: the 11th attempt is refused
        authority.authenticate(headers, "127.0.0.1")
    assert len(calls) == 2
    with store.engine.begin() as conn:  # lift the lock-out
        conn.execute(login_failures.delete())
    assert authority.authenticate({"authorization": basic("kdf", "another-password-1")["Authorization"]},
                                  "127.0.0.1") is not None and len(calls) == 3
    assert not any(PASSWORD.encode() in k for k in authority.verified.data if isinstance(k, bytes))


@pytest.mark.parametrize("line, message", [
    ("auth_cache_ttl_seconds = -1", "between 0 and 3600"),
    ("auth_cache_ttl_seconds = soon", "must be numbers"),
    ("grant_default_workspace_access = true", "no workspaces"),
    ("read_database_uri = sqlite:///x.db", "database_uri"),
])
def test_cache_and_mlflow3_config_keys_are_checked(tmp_path, line, message):
    from fluvial.server.auth.config import read_config

    ini = write_ini(tmp_path / "basic_auth.ini")
    ini.write_text(ini.read_text() + line + "\n")
    with pytest.raises(MlflowException, match=message):
        read_config(Path(ini))
