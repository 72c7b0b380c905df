"""Every route of the server x {anonymous, wrong password, no grant, READ, EDIT, MANAGE, admin}, in raw
HTTP against one ``fluvial server --app-name basic-auth`` (default permission NO_PERMISSIONS).

The routes are enumerated from what the server is built from (the wire table and the app's own routes),
so a route added later is covered without editing this file; the request for each is generated from its
permission declaration (which resource, in which field). For every role below what a route needs, the
answer must be 401 (no or wrong credentials) or 403 with MLflow's JSON error shape, and nothing may
change: both databases and the artifact files are hashed before and after each refusal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from _auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_server, basic, call, ok, snapshot
from _serve import Server

from fluvial.server.app import create_app
from fluvial.server.config import ServerConfig, Stores
from fluvial.server.routes import RouteWithoutPermission, access_of, check_declared, route
from fluvial.wire.access import READ_EXPERIMENT, Access
from fluvial.wire.endpoints import ENDPOINTS, Endpoint

ROLES = ["anonymous", "wrong_password", "no_grant", "reader", "editor", "manager", "admin"]
RANK = {"no_grant": 0, "reader": 1, "editor": 2, "manager": 3}
GRANT = {"reader": "READ", "editor": "EDIT", "manager": "MANAGE"}
NEEDED = {"read": 1, "edit": 2, "manage": 3}


@dataclass
class World:
    server: Server
    experiment_id: str
    experiment_name: str
    run_id: str
    model: str
    logged_model: str
    spare: str | None = None

    @property
    def artifact_dir(self) -> str:
        return f"{self.experiment_id}/{self.run_id}/artifacts"

    @property
    def spare_user(self) -> str:
        """A user for the admin-only user routes to act on (delete, demote...), made on first use (creating
        a user runs the password KDF, which most worlds need not pay for)."""
        if self.spare is None:
            self.spare = f"spare-{uuid.uuid4().hex[:8]}"
            ok(call(self.server, "POST", "/api/2.0/mlflow/users/create", {"username": self.spare,
                                                                          "password": PASSWORD},
                    basic(ADMIN, ADMIN_PASSWORD)))
        return self.spare


def _creds(role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "wrong_password":
        return basic("reader", "not-the-password")
    if role == "admin":
        return basic(ADMIN, ADMIN_PASSWORD)
    return basic(role, PASSWORD)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    with auth_server(tmp_path_factory.mktemp("matrix"), max_failed_logins_per_user="100000",
                     max_failed_logins_per_client="100000") as srv:
        for user in ("owner", "no_grant", "reader", "editor", "manager"):
            ok(call(srv, "POST", "/api/2.0/mlflow/users/create", {"username": user, "password": PASSWORD},
                    basic(ADMIN, ADMIN_PASSWORD)))
        yield srv


def make_world(server: Server) -> World:
    """A fresh experiment with a run (one artifact file), a registered model with a version and a logged
    model, all created by ``owner``; READ/EDIT/MANAGE granted to reader/editor/manager."""
    owner = basic("owner", PASSWORD)
    admin = basic(ADMIN, ADMIN_PASSWORD)
    name = f"exp-{uuid.uuid4().hex[:8]}"
    exp = ok(call(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": name}, owner))["experiment_id"]
    run = ok(call(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp}, owner))["run"]["info"]
    ok(call(server, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run['run_id']}/artifacts/f.txt",
            auth=owner, body=b"secret", headers={"Content-Type": "application/octet-stream"}))
    model = f"model-{uuid.uuid4().hex[:8]}"
    ok(call(server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": model}, owner))
    ok(call(server, "POST", "/api/2.0/mlflow/model-versions/create",
            {"name": model, "source": f"runs:/{run['run_id']}/f.txt", "run_id": run["run_id"]}, owner))
    logged = ok(call(server, "POST", "/api/2.0/mlflow/logged-models", {"experiment_id": exp}, owner))
    for user, permission in GRANT.items():
        ok(call(server, "POST", "/api/2.0/mlflow/experiments/permissions/create",
                {"experiment_id": exp, "username": user, "permission": permission}, admin))
        ok(call(server, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
                {"name": model, "username": user, "permission": permission}, admin))
    return World(server, exp, name, run["run_id"], model, logged["model"]["info"]["model_id"])


_SHARED: dict[int, World] = {}


def shared_world(server: Server) -> World:
    """One world for the routes that change nothing."""
    if server.port not in _SHARED:
        _SHARED[server.port] = make_world(server)
    return _SHARED[server.port]


def _filler(kind: str, name: str) -> Any:
    if kind == "string":
        return "k" if name in ("key", "metric_key", "alias") else f"x{uuid.uuid4().hex[:6]}"
    if kind in ("int64", "int32"):
        return 1
    if kind == "enum":
        return 2
    if kind == "double":
        return 1.0
    if kind == "bool":
        return False
    return None


def request_for(access: Access, fields: dict[str, Any], w: World) -> dict[str, Any]:
    """Field values naming the world's resources where the declaration says the resource is."""
    data: dict[str, Any] = {}
    for name, field in fields.items():
        if field.required and field.kind != "message":
            value = _filler(field.kind, name)
            data[name] = [value] if field.repeated else value
    kind, key = access.resource, access.field
    values = {"experiment": w.experiment_id, "experiment_name": w.experiment_name, "experiments": [w.experiment_id],
              "run": w.run_id, "runs": [w.run_id], "logged_model": w.logged_model, "model": w.model,
              "model_version_source": w.model, "artifact_path": w.artifact_dir, "typed": w.experiment_id}
    if kind is not None and key is not None:
        data[key] = values[kind]
    if kind == "run":
        data["run_uuid"] = w.run_id
    if kind in ("model", "model_version_source"):
        data.update(version="1", source=f"runs:/{w.run_id}/f.txt", run_id=w.run_id)
    if "username" in fields:
        if access.level != "admin":
            data["username"] = "reader"
        elif "password" in fields:  # creating one
            data["username"] = f"new-{uuid.uuid4().hex[:8]}"
        else:
            data["username"] = w.spare_user
    if "resource_type" in fields:  # MLflow 3's per-user grant routes
        data.update(resource_type="experiment", resource_id=w.experiment_id)
    if "permission" in fields:
        data["permission"] = "READ"
    if "password" in fields:
        data["password"] = PASSWORD
    return data


def rest_target(e: Endpoint, data: dict[str, Any]) -> str:
    path = e.path
    for name in ("model_id", "tag_key"):
        path = path.replace("{" + name + "}", str(data.get(name, "k"))).replace("{" + name + ":path}", "k")
    return f"/{'ajax-api' if e.ajax_only else 'api'}/{e.version}{path}"


def allowed(access: Access, role: str) -> bool:
    if access.level == "public":
        return True
    if role in ("anonymous", "wrong_password"):
        return False
    if role == "admin" or access.level == "user":
        return True
    if access.level in ("admin",):
        return False
    if access.level == "self":
        return role == "reader"
    return RANK[role] >= NEEDED[access.level]


def _destructive(label: str, access: Access) -> bool:
    """Whether a permitted call may leave the world unusable for the next role (delete, rename, restore)."""
    return access.level == "manage" or label.startswith(("Delete", "Rename", "Update", "Finalize", "DELETE "))


def _check_roles(server: Server, label: str, send: Any, access: Access, mutating: bool,
                 served: bool = True) -> None:
    """``send(credentials, world)``; refusals all go to one world, which they must leave as it was; each
    permitted role of a destructive route gets a fresh world (an earlier one may have renamed or deleted it)."""
    world = shared_world(server) if not mutating else make_world(server)
    if access.level == "admin":
        assert world.spare_user  # made now, not while a refusal is being checked
    for role in ROLES:
        permitted = allowed(access, role)
        before = None if permitted else snapshot(server)
        if permitted and mutating and _destructive(label, access) and access.resource is not None \
                and role != "admin":
            world = make_world(server)
        response = send(_creds(role), world)
        if not served and role not in ("anonymous", "wrong_password"):  # declared, no handler here
            assert response.status == 404, (label, role, response.status)
            continue
        assert response.headers.get("x-content-type-options") == "nosniff", label
        if permitted:
            assert response.status not in (401, 403), (label, role, response.status, response.body[:300])
            continue
        expected = 401 if role in ("anonymous", "wrong_password") else 403
        assert response.status == expected, (label, role, response.status, response.body[:300])
        if label.startswith("HEAD "):
            assert not response.body
        else:
            assert response.json()["error_code"] == ("UNAUTHENTICATED" if expected == 401 else "PERMISSION_DENIED"), label
        assert snapshot(server) == before, f"{label} refused for {role} but changed the store"


# ---- the enumeration --------------------------------------------------------------------------------
def _app_routes(tmp_path) -> list[Any]:
    """The routes of an app built with auth on (so the login routes are there too)."""
    from _auth import write_ini

    from fluvial.server.config import build_stores

    ini = write_ini(tmp_path / "basic_auth.ini")
    config = ServerConfig(backend_store_uri=f"sqlite:///{tmp_path / 'e.db'}",
                          artifacts_destination=str(tmp_path / "art"), app_name="basic-auth",
                          auth_config_path=str(ini))
    app = create_app(build_stores(config))
    while not hasattr(app, "routes"):  # SecurityMiddleware -> RpcApp -> Starlette
        app = app.app
    return list(app.routes)


def test_every_route_declares_a_permission(tmp_path):
    routes = _app_routes(tmp_path)
    assert routes and all(access_of(r) is not None for r in routes)
    assert all(isinstance(e.access, Access) for e in ENDPOINTS.values())


def test_a_route_without_a_declaration_stops_the_server_naming_it(tmp_path):
    from starlette.routing import Route

    async def handler(_: Any) -> Any:
        raise AssertionError

    with pytest.raises(RouteWithoutPermission, match=r"route GET.* /ajax-api/2.0/fluvial/ui/columns"):
        check_declared([route("/ok", handler, ["GET"], READ_EXPERIMENT),
                        Route("/ajax-api/2.0/fluvial/ui/columns", handler, methods=["GET"])], [])
    bad = Endpoint("CountRuns", ("GET",), "/fluvial/runs/count", {})
    with pytest.raises(RouteWithoutPermission, match=r"endpoint CountRuns \(GET /api/2.0/fluvial/runs/count\)"):
        check_declared([], [bad])
    declared = ENDPOINTS["CountRuns"]
    ENDPOINTS["CountRuns"] = bad
    try:
        with pytest.raises(RouteWithoutPermission, match="CountRuns"):
            create_app(Stores(config=ServerConfig(serve_artifacts=False), tracking=None))
    finally:
        ENDPOINTS["CountRuns"] = declared


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_rest_endpoint_by_role(server, name):
    from fluvial.server.handlers import load_all

    e = ENDPOINTS[name]
    access = e.access
    assert access is not None

    def send(creds: dict[str, str], w: World) -> Any:
        data = request_for(access, e.request, w)
        return call(server, e.method, rest_target(e, data), data, creds)

    served = name in load_all() or name in __import__("fluvial.server.auth.api", fromlist=["x"]).AUTH_HANDLERS
    _check_roles(server, name, send, access, e.method != "GET", served)


def _starlette_cases(w: World) -> list[tuple[str, str, dict[str, Any] | None, bytes | None]]:
    """(method, target, query/json, raw body) for the app's own routes, keyed by route path."""
    from fluvial.server.ui.assets import ASSET_BASE, load_bundle

    art = f"{w.artifact_dir}/f.txt"
    return [
        ("GET", "/health", None, None),
        ("GET", "/version", None, None),
        ("GET", "/login", None, None),
        ("POST", "/api/2.0/fluvial/users/logout", {}, None),
        ("GET", "/get-artifact", {"run_uuid": w.run_id, "path": "f.txt"}, None),
        ("GET", "/get-artifact", {"run_id": w.run_id, "path": "f.txt"}, None),
        ("GET", "/model-versions/get-artifact", {"name": w.model, "version": "1", "path": "f.txt"}, None),
        ("POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={w.run_id}&path=up.txt", None, b"up"),
        ("GET", "/static-files/app.css", None, None),
        ("GET", "/", None, None),
        ("HEAD", "/", None, None),
        ("GET", f"{ASSET_BASE}/{load_bundle().digest}/main.js", None, None),
    ] + [case for base in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts") for case in (
        ("GET", f"{base}/artifacts", {"path": w.artifact_dir}, None),
        ("GET", f"{base}/artifacts/{art}", None, None),
        ("HEAD", f"{base}/artifacts/{art}", None, None),
        ("PUT", f"{base}/artifacts/{w.artifact_dir}/new.txt", None, b"new"),
        ("DELETE", f"{base}/artifacts/{art}", None, None),
        ("POST", f"{base}/mpu/create/{w.artifact_dir}", {"path": "big.bin", "num_parts": 1}, None),
        ("POST", f"{base}/mpu/complete/{w.artifact_dir}", {"path": "big.bin", "upload_id": "u", "parts": []},
         None),
        ("POST", f"{base}/mpu/abort/{w.artifact_dir}", {"path": "big.bin", "upload_id": "u"}, None),
    )]


def _route_for(server_routes: list[Any], method: str, target: str) -> Any:
    from starlette.routing import Match

    path = target.split("?", 1)[0]
    for r in server_routes:
        match, _ = r.matches({"type": "http", "path": path, "method": method, "root_path": ""})
        if match == Match.FULL:
            return r
    raise AssertionError(f"no route for {method} {target}")


@pytest.mark.slow
def test_app_routes_by_role(server, tmp_path):
    routes = _app_routes(tmp_path)
    covered = set()
    template = make_world(server)
    for index, (method, target, _, _) in enumerate(_starlette_cases(template)):
        r = _route_for(routes, method, target)
        covered.add(id(r))
        access = access_of(r)
        assert access is not None

        def send(creds: dict[str, str], w: World, index: int = index) -> Any:
            m, t, d, b = _starlette_cases(w)[index]
            return call(server, m, t, d, creds, body=b,
                        headers={"Content-Type": "application/octet-stream"} if b is not None else None)

        _check_roles(server, f"{method} {target}", send, access, method not in ("GET", "HEAD"))
    missing = [f"{sorted(r.methods or [])} {r.path}" for r in routes
               if id(r) not in covered and r.path not in ("/login/{name}", "/api/2.0/fluvial/users/login",
                                                          "/ajax-api/2.0/fluvial/users/login",
                                                          "/ajax-api/2.0/fluvial/users/logout")]
    assert not missing, f"routes without a case in _starlette_cases: {missing}"
