"""Handlers of the users/permissions API (``wire/auth_endpoints.py``): the permission check already
ran (``guard``); these do the work. JSON shapes are MLflow 2.x's; users never carry a password hash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fluvial.exceptions import InvalidParameterValue, Unauthenticated
from fluvial.server.auth import passwords
from fluvial.server.auth.check import CURRENT, Caller, typed_resource
from fluvial.server.auth.config import BUILTIN_AUTHORIZATION
from fluvial.server.auth.store import AuthStore, UserRow
from fluvial.server.config import Stores

Handler = Callable[[Stores, dict[str, Any]], dict[str, Any]]
AUTH_HANDLERS: dict[str, Handler] = {}
MAX_TOKEN_DAYS = 3650


def _handler(name: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        AUTH_HANDLERS[name] = fn
        return fn

    return wrap


def _store(stores: Stores) -> AuthStore:
    return stores.extras["auth_store"]  # type: ignore[no-any-return]


def _caller() -> Caller:
    caller = CURRENT.get()
    if caller is None:
        raise Unauthenticated("You are not authenticated.")
    return caller


def user_json(store: AuthStore, user: UserRow) -> dict[str, Any]:
    grants = store.grants_of(user.id)
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin,
            "experiment_permissions": grants["experiment"], "registered_model_permissions": grants["model"]}


@_handler("CreateUser")
def create_user(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    store = _store(stores)
    return {"user": user_json(store, store.create_user(req["username"], req["password"]))}


@_handler("GetUser")
def get_user(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    store = _store(stores)
    return {"user": user_json(store, store.require_user(req["username"]))}


@_handler("UpdateUserPassword")
def update_user_password(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """As MLflow 3: changing one's own password needs ``current_password`` (checked, rate limited, and
    different from the new one), except over HTTP Basic, whose header just proved it (so MLflow 2.x's
    client, which never sends it, still works); admins changing another user's password need none."""
    store, caller = _store(stores), _caller()
    current = req.get("current_password")
    if caller.username == req["username"] and (current is not None or caller.via != "basic"):
        if not current:
            raise InvalidParameterValue("current_password is required to change your own password.")
        user = store.require_user(req["username"])
        failures = stores.extras["auth_authority"].failures
        keys = [f"user:{user.username}"]
        failures.check(keys)
        if not passwords.verify_password(user.password_hash, current):
            failures.add(keys)
            raise InvalidParameterValue("Current password does not match.")
        if current == req["password"]:
            raise InvalidParameterValue("The new password must differ from the current password.")
    store.update_password(req["username"], req["password"])
    return {}


@_handler("UpdateUserAdmin")
def update_user_admin(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _store(stores).update_admin(req["username"], req["is_admin"])
    return {}


@_handler("DeleteUser")
def delete_user(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    if req["username"] == _caller().username:
        raise InvalidParameterValue("An admin cannot delete their own account.")
    _store(stores).delete_user(req["username"])
    return {}


def _grant_handlers(kind: str, key: str, prefix: str, field: str) -> None:
    def create(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
        return {field: _store(stores).create_grant(kind, req[key], req["username"], req["permission"])}

    def get(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
        return {field: _store(stores).get_grant(kind, req[key], req["username"])}

    def update(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
        _store(stores).update_grant(kind, req[key], req["username"], req["permission"])
        return {}

    def delete(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
        _store(stores).delete_grant(kind, req[key], req["username"])
        return {}

    for verb, fn in (("Create", create), ("Get", get), ("Update", update), ("Delete", delete)):
        AUTH_HANDLERS[f"{verb}{prefix}Permission"] = fn


_grant_handlers("experiment", "experiment_id", "Experiment", "experiment_permission")
_grant_handlers("model", "name", "RegisteredModel", "registered_model_permission")


@_handler("GetCurrentUser")
def current_user(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    caller = _caller()
    return {"user": {"username": caller.username, "is_admin": caller.is_admin}}


@_handler("GetCurrentMlflowUser")
def current_mlflow_user(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """MLflow 3's ``users/current``."""
    caller = _caller()
    builtin = stores.extras["auth_config"].authorization_function == BUILTIN_AUTHORIZATION
    return {"user": {"id": caller.id, "username": caller.username, "is_admin": caller.is_admin},
            "is_basic_auth": builtin}


@_handler("ListMlflowUsers")
def list_mlflow_users(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """MLflow 3's ``users/list`` (admins only here); fluvial has no roles, so every ``roles`` is empty."""
    return {"users": [{"id": u.id, "username": u.username, "is_admin": u.is_admin, "roles": []}
                      for u in _store(stores).list_users()]}


# MLflow 3's per-user grants: its DENY is MLflow 2.x's explicit NO_PERMISSIONS grant (which 3.x stopped
# accepting); USE exists only in MLflow 3 (gateway resources) and is refused, as are wildcard grants.
V3_PERMISSIONS = {"READ": "READ", "EDIT": "EDIT", "MANAGE": "MANAGE", "DENY": "NO_PERMISSIONS"}


@_handler("GrantUserPermission")
def grant_user_permission(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    kind, key = typed_resource(req["resource_type"], req["resource_id"])
    permission = V3_PERMISSIONS.get(req["permission"])
    if permission is None:
        raise InvalidParameterValue(f"permission must be one of {', '.join(V3_PERMISSIONS)} (MLflow 3's USE "
                                    "applies to gateway resources, which fluvial does not have).")
    _store(stores).create_grant(kind, key, req["username"], permission)
    return {}


@_handler("RevokeUserPermission")
def revoke_user_permission(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    kind, key = typed_resource(req["resource_type"], req["resource_id"])
    _store(stores).delete_grant(kind, key, req["username"])
    return {}


@_handler("GetUserPermission")
def get_user_permission(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    """The permission that decides (the grant, else ``default_permission``); ``allowed`` is MLflow 3's
    "use" tier: EDIT or MANAGE (READ alone is not)."""
    kind, key = typed_resource(req["resource_type"], req["resource_id"])
    store = _store(stores)
    granted = store.permission(kind, store.require_user(req["username"]).id, key)
    name = ("DENY" if granted == "NO_PERMISSIONS" else granted) if granted is not None else \
        stores.extras["auth_config"].default_permission
    return {"allowed": name in ("EDIT", "MANAGE"), "permission": name}


@_handler("ListUsers")
def list_users(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"users": [{"id": u.id, "username": u.username, "is_admin": u.is_admin}
                      for u in _store(stores).list_users()]}


@_handler("CreateToken")
def create_token(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    days = req.get("expires_in_days", 90)
    if not 0 < days <= MAX_TOKEN_DAYS:
        raise InvalidParameterValue(f"expires_in_days must be between 1 and {MAX_TOKEN_DAYS}.")
    name = req["name"]
    if not name or len(name) > 255:
        raise InvalidParameterValue("The token name must be 1 to 255 characters long.")
    token_id, token, expires = _store(stores).create_token(_caller().id, name, days * 86400.0)
    return {"token": token, "id": token_id, "name": name, "expires_ms": expires}


@_handler("ListTokens")
def list_tokens(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"tokens": _store(stores).list_tokens(_caller().id)}


@_handler("RevokeToken")
def revoke_token(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _store(stores).revoke_token(_caller().id, req["token_id"])
    return {}


@_handler("ListAuditLog")
def list_audit_log(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("max_results") or 100
    if not 0 < limit <= 10_000:
        raise InvalidParameterValue("max_results must be between 1 and 10000.")
    return {"entries": _store(stores).audit_entries(limit)}
