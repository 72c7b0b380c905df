"""The official MLflow clients (2.22.5 and 3.17.2, in their virtualenvs) against ``fluvial server
--app-name basic-auth`` with credentials: experiments, runs, artifacts, the registry, refusals as
MLflow exceptions, bearer tokens; MLflow's auth client (``mlflow.server.get_app_client``) and fluvial's;
and the auth database shared both ways with MLflow 2.22.5's own basic-auth server."""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_server, basic, call, ok, write_ini
from _mlflow import mlflow_python, require_mlflow, run_script
from _servers import RunningServer, _clean_env, _serve, free_port

pytestmark = [pytest.mark.compat, pytest.mark.slow]
ADMIN_AUTH = basic(ADMIN, ADMIN_PASSWORD)

CLIENT_SCRIPT = """
import os, sys, tempfile
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
uri, token = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "bob", sys.argv[3]
exp = mlflow.set_experiment("bob-" + mlflow.__version__)
with mlflow.start_run() as run:
    mlflow.log_metric("m", 1.5, step=1)
    mlflow.log_param("p", "v")
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "f.txt"), "w") as fh:
        fh.write("bob's file")
    mlflow.log_artifact(os.path.join(d, "f.txt"), "sub")
client = MlflowClient()
out = {"files": [f.path for f in client.list_artifacts(run.info.run_id, "sub")]}
out["content"] = open(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="sub/f.txt")).read()
name = "bob-model-" + mlflow.__version__.replace(".", "-")
client.create_registered_model(name)
mv = client.create_model_version(name, f"runs:/{run.info.run_id}/sub", run.info.run_id)
out["version"] = mv.version
out["runs"] = len(client.search_runs([exp.experiment_id]))
out["models"] = [m.name for m in client.search_registered_models()]
# eve may not write to bob's experiment (default READ): a PERMISSION_DENIED MlflowException
os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "eve", sys.argv[3]
try:
    client.log_metric(run.info.run_id, "m", 2.0)
    out["eve_write"] = "allowed"
except MlflowException as exc:
    out["eve_write"] = exc.error_code
out["eve_reads"] = client.get_run(run.info.run_id).data.metrics
# a bearer token (MLFLOW_TRACKING_TOKEN) when no username/password is set
del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
os.environ["MLFLOW_TRACKING_TOKEN"] = token
out["token_runs"] = len(client.search_runs([exp.experiment_id]))
del os.environ["MLFLOW_TRACKING_TOKEN"]
try:
    client.search_runs([exp.experiment_id])
    out["anonymous"] = "allowed"
except MlflowException as exc:
    out["anonymous"] = exc.error_code
emit(out)
"""

AUTH_CLIENT_SCRIPT = """
import os, sys
from mlflow.server import get_app_client
from mlflow.exceptions import MlflowException
os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = sys.argv[2], sys.argv[3]
client = get_app_client("basic-auth", tracking_uri=sys.argv[1])
out = {}
user = client.create_user("carol", "carol-password-1")
out["created"] = [user.username, user.is_admin]
client.update_user_admin("carol", True)
out["admin"] = client.get_user("carol").is_admin
client.update_user_password("carol", "carol-password-2")
ep = client.create_experiment_permission("0", "carol", "EDIT")
out["ep"] = [ep.experiment_id, ep.permission]
client.update_experiment_permission("0", "carol", "MANAGE")
out["ep2"] = client.get_experiment_permission("0", "carol").permission
client.delete_experiment_permission("0", "carol")
rp = client.create_registered_model_permission("some-model", "carol", "READ")
out["rp"] = [rp.name, rp.permission]
client.delete_registered_model_permission("some-model", "carol")
try:
    client.get_experiment_permission("0", "carol")
except MlflowException as exc:
    out["missing"] = exc.error_code
client.delete_user("carol")
try:
    client.get_user("carol")
except MlflowException as exc:
    out["deleted"] = exc.error_code
emit(out)
"""

AUTH_CLIENT_3_SCRIPT = """
import os, sys
from mlflow.server import get_app_client
from mlflow.exceptions import MlflowException
def as_user(name, password):
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = name, password
def error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
        return "allowed"
    except MlflowException as exc:
        return exc.error_code
as_user(sys.argv[2], sys.argv[3])
client = get_app_client("basic-auth", tracking_uri=sys.argv[1])
out = {}
user = client.create_user("frank", "frank-password-1")
out["created"] = [user.username, user.is_admin]
client.grant_user_permission("frank", "experiment", "0", "EDIT")
out["granted"] = client.get_user_permission("frank", "experiment", "0").to_json()
client.grant_user_permission("frank", "registered_model", "m3", "DENY")
out["denied"] = client.get_user_permission("frank", "registered_model", "m3").to_json()
out["again"] = error(client.grant_user_permission, "frank", "experiment", "0", "READ")
client.revoke_user_permission("frank", "experiment", "0")
out["revoked"] = client.get_user_permission("frank", "experiment", "0").to_json()
out["wildcard"] = error(client.grant_user_permission, "frank", "experiment", "*", "READ")
out["scorer"] = error(client.grant_user_permission, "frank", "scorer", "s", "READ")
out["use"] = error(client.grant_user_permission, "frank", "experiment", "0", "USE")
out["roles"] = error(client.list_roles, "default")
as_user("frank", "frank-password-1")
out["own"] = client.get_user_permission("frank", "registered_model", "m3").permission
out["other"] = error(client.get_user_permission, "bob", "experiment", "0")
out["grant_unmanaged"] = error(client.grant_user_permission, "frank", "experiment", "0", "MANAGE")
out["wrong_current"] = error(client.update_user_password, "frank", "frank-password-2", current_password="nope-nope-nope")
out["same"] = error(client.update_user_password, "frank", "frank-password-1", current_password="frank-password-1")
client.update_user_password("frank", "frank-password-2", current_password="frank-password-1")
as_user("frank", "frank-password-2")
out["me"] = client.get_user("frank").username
as_user(sys.argv[2], sys.argv[3])
client.update_user_admin("frank", True)
out["admin"] = client.get_user("frank").is_admin
client.delete_user("frank")
out["deleted"] = error(client.get_user, "frank")
emit(out)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    with auth_server(tmp_path_factory.mktemp("compat"), "READ") as srv:
        for user in ("bob", "eve"):
            ok(call(srv, "POST", "/api/2.0/mlflow/users/create", {"username": user, "password": PASSWORD}, ADMIN_AUTH))
        yield srv


@pytest.mark.parametrize("version", ["2.22.5", "3.17.2"])
def test_official_client_with_credentials(server, tmp_path, version):
    python = require_mlflow(version)
    token = ok(call(server, "POST", "/api/2.0/fluvial/tokens/create", {"name": version}, basic("bob", PASSWORD)))
    out = run_script(python, CLIENT_SCRIPT, server.url, token["token"], PASSWORD, cwd=tmp_path)
    assert out["files"] == ["sub/f.txt"] and out["content"] == "bob's file"
    assert out["version"] == "1" and out["runs"] == 1 and out["token_runs"] == 1
    assert f"bob-model-{version.replace('.', '-')}" in out["models"]
    assert out["eve_write"] == "PERMISSION_DENIED" and out["eve_reads"] == {"m": 1.5}
    assert out["anonymous"] == "UNAUTHENTICATED"


def test_mlflow_auth_client(server, tmp_path):
    out = run_script(require_mlflow("2.22.5"), AUTH_CLIENT_SCRIPT, server.url, ADMIN, ADMIN_PASSWORD, cwd=tmp_path)
    assert out == {"created": ["carol", False], "admin": True, "ep": ["0", "EDIT"], "ep2": "MANAGE",
                   "rp": ["some-model", "READ"], "missing": "RESOURCE_DOES_NOT_EXIST",
                   "deleted": "RESOURCE_DOES_NOT_EXIST"}


def test_mlflow3_auth_client(server, tmp_path):
    """MLflow 3.17.2's AuthServiceClient: users, per-user grants by (resource_type, resource_id) on the same
    tables, self-service password change with current_password; roles (MLflow 3's RBAC) are not served."""
    out = run_script(require_mlflow("3.17.2"), AUTH_CLIENT_3_SCRIPT, server.url, ADMIN, ADMIN_PASSWORD, cwd=tmp_path)
    assert out == {
        "created": ["frank", False], "granted": {"allowed": True, "permission": "EDIT"},
        "denied": {"allowed": False, "permission": "DENY"}, "again": "RESOURCE_ALREADY_EXISTS",
        "revoked": {"allowed": False, "permission": "READ"},  # the server's default_permission
        "wildcard": "INVALID_PARAMETER_VALUE", "scorer": "INVALID_PARAMETER_VALUE", "use": "INVALID_PARAMETER_VALUE",
        "roles": "ENDPOINT_NOT_FOUND", "own": "DENY", "other": "PERMISSION_DENIED",
        "grant_unmanaged": "PERMISSION_DENIED", "wrong_current": "INVALID_PARAMETER_VALUE",
        "same": "INVALID_PARAMETER_VALUE", "me": "frank", "admin": True, "deleted": "RESOURCE_DOES_NOT_EXIST"}


def test_fluvial_auth_client(server, monkeypatch):
    from fluvial.exceptions import MlflowException
    from fluvial.server import get_app_client

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    client = get_app_client("basic-auth", tracking_uri=server.url)
    user = client.create_user("dave", "dave-password-1")
    assert (user.username, user.is_admin) == ("dave", False)
    assert client.create_experiment_permission("0", "dave", "READ").permission == "READ"
    assert [p.experiment_id for p in client.get_user("dave").experiment_permissions] == ["0"]
    client.grant_user_permission("dave", "registered_model", "dave-model", "EDIT")
    assert client.get_user_permission("dave", "registered_model", "dave-model").allowed is True
    client.revoke_user_permission("dave", "registered_model", "dave-model")
    assert client.get_user_permission("dave", "registered_model", "dave-model").permission == "READ"  # default
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dave")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "dave-password-1")
    assert client.current_user() == {"username": "dave", "is_admin": False}
    with pytest.raises(MlflowException) as info:
        client.create_user("x", "x-password-12")
    assert info.value.error_code == "PERMISSION_DENIED"


# ---- the auth database, both ways --------------------------------------------------------------------
@contextlib.contextmanager
def mlflow_auth_server(python: Path, workdir: Path, ini: Path) -> Iterator[RunningServer]:
    port = free_port()
    env = _clean_env(python.parent)
    env.update(MLFLOW_AUTH_CONFIG_PATH=str(ini), MLFLOW_FLASK_SERVER_SECRET_KEY="test-secret-key")
    argv = [str(python.parent / "mlflow"), "server", "--app-name", "basic-auth", "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}", "--artifacts-destination", str(workdir / "mlartifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with _serve(argv, workdir, env, port, "mlflow-auth") as server:
        yield server


def _get(url: str, user: str, password: str) -> tuple[int, bytes]:
    import base64

    request = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _post(url: str, user: str, password: str, body: dict[str, Any], method: str = "POST") -> int:
    import base64
    import json

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


def test_auth_database_shared_with_mlflow_both_ways(tmp_path):
    python = mlflow_python("2.22.5")
    if python is None:
        require_mlflow("2.22.5")
    assert python is not None
    import json

    shared = tmp_path / "shared"
    shared.mkdir()
    ini = write_ini(shared / "basic_auth.ini", "NO_PERMISSIONS")
    # 1. MLflow creates the auth database, a user and a grant
    with mlflow_auth_server(python, tmp_path / "m1", ini) as mlflow_srv:
        api = mlflow_srv.url + "/api/2.0/mlflow"
        assert _post(f"{api}/users/create", ADMIN, ADMIN_PASSWORD, {"username": "made-by-mlflow",
                                                                    "password": PASSWORD}) == 200
        assert _post(f"{api}/experiments/permissions/create", ADMIN, ADMIN_PASSWORD,
                     {"experiment_id": "0", "username": "made-by-mlflow", "permission": "READ"}) == 200
    # 2. fluvial opens it: the werkzeug hash verifies, the grant decides
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini)}
    from _serve import fluvial_server

    with fluvial_server(tmp_path / "f", app_name="basic-auth", env=env) as srv:
        status, _ = _get(f"{srv.url}/api/2.0/mlflow/experiments/get?experiment_id=0", "made-by-mlflow", PASSWORD)
        assert status == 200
        assert _post(f"{srv.url}/api/2.0/mlflow/experiments/update", "made-by-mlflow", PASSWORD,
                     {"experiment_id": "0", "new_name": "x"}) == 403
        ok(call(srv, "POST", "/api/2.0/mlflow/users/create", {"username": "made-by-fluvial", "password": PASSWORD},
                ADMIN_AUTH))
        ok(call(srv, "POST", "/api/2.0/mlflow/experiments/permissions/create",
                {"experiment_id": "0", "username": "made-by-fluvial", "permission": "EDIT"}, ADMIN_AUTH))
        ok(call(srv, "POST", "/api/2.0/fluvial/tokens/create", {"name": "t"}, ADMIN_AUTH))  # a fluvial_ table row
    # 3. MLflow opens the database fluvial wrote to: fluvial's scrypt hash verifies there, the grant is there
    with mlflow_auth_server(python, tmp_path / "m2", ini) as mlflow_srv:
        status, body = _get(f"{mlflow_srv.url}/api/2.0/mlflow/users/get?username=made-by-fluvial",
                            "made-by-fluvial", PASSWORD)
        assert status == 200, body
        user = json.loads(body)["user"]
        assert user["experiment_permissions"] == [{"experiment_id": "0", "user_id": user["id"], "permission": "EDIT"}]
    assert os.path.exists(shared / "basic_auth.db")
