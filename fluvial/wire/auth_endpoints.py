"""The users and permissions API of MLflow's basic-auth app (2.x shapes, plus MLflow 3's current user, user
list and per-user grant routes on the same tables) and fluvial's additions
(``/api/2.0/fluvial/...``: the current user, API tokens, the user list and the audit log). Served only
when the server runs with ``--app-name basic-auth``; elsewhere they answer 404."""

from __future__ import annotations

from fluvial.wire.access import ADMIN, SELF, USER, manage
from fluvial.wire.endpoints import Endpoint, register
from fluvial.wire.fields import boolean, int32, int64, string

USERNAME = {"username": string(required=True)}
EXP = {"experiment_id": string(required=True), **USERNAME}
RM = {"name": string(required=True), **USERNAME}
PERMISSION = {"permission": string(required=True)}
TYPED_ID = {**USERNAME, "resource_type": string(required=True), "resource_id": string(required=True)}
MANAGE_EXP, MANAGE_RM = manage("experiment"), manage("model")

AUTH: list[Endpoint] = [
    Endpoint("CreateUser", ("POST",), "/mlflow/users/create", {**USERNAME, "password": string(required=True)},
             access=ADMIN),
    Endpoint("GetUser", ("GET",), "/mlflow/users/get", USERNAME, access=SELF),
    Endpoint("UpdateUserAdmin", ("PATCH",), "/mlflow/users/update-admin",
             {**USERNAME, "is_admin": boolean(required=True)}, access=ADMIN),
    Endpoint("DeleteUser", ("DELETE",), "/mlflow/users/delete", USERNAME, access=ADMIN),
    Endpoint("CreateExperimentPermission", ("POST",), "/mlflow/experiments/permissions/create",
             {**EXP, **PERMISSION}, access=MANAGE_EXP),
    Endpoint("GetExperimentPermission", ("GET",), "/mlflow/experiments/permissions/get", EXP, access=MANAGE_EXP),
    Endpoint("UpdateExperimentPermission", ("PATCH",), "/mlflow/experiments/permissions/update",
             {**EXP, **PERMISSION}, access=MANAGE_EXP),
    Endpoint("DeleteExperimentPermission", ("DELETE",), "/mlflow/experiments/permissions/delete", EXP,
             access=MANAGE_EXP),
    Endpoint("CreateRegisteredModelPermission", ("POST",), "/mlflow/registered-models/permissions/create",
             {**RM, **PERMISSION}, access=MANAGE_RM),
    Endpoint("GetRegisteredModelPermission", ("GET",), "/mlflow/registered-models/permissions/get", RM,
             access=MANAGE_RM),
    Endpoint("UpdateRegisteredModelPermission", ("PATCH",), "/mlflow/registered-models/permissions/update",
             {**RM, **PERMISSION}, access=MANAGE_RM),
    Endpoint("DeleteRegisteredModelPermission", ("DELETE",), "/mlflow/registered-models/permissions/delete", RM,
             access=MANAGE_RM),
    Endpoint("UpdateUserPassword", ("PATCH",), "/mlflow/users/update-password",
             {**USERNAME, "password": string(required=True), "current_password": string()}, access=SELF),
    # MLflow 3's additions: who am I, the user list, and per-user grants by (resource_type, resource_id)
    Endpoint("GetCurrentMlflowUser", ("GET",), "/mlflow/users/current", {}, access=USER),
    Endpoint("ListMlflowUsers", ("GET",), "/mlflow/users/list", {}, access=ADMIN),
    Endpoint("GrantUserPermission", ("POST",), "/mlflow/users/permissions/grant", {**TYPED_ID, **PERMISSION},
             version="3.0", access=manage("typed")),
    Endpoint("RevokeUserPermission", ("POST",), "/mlflow/users/permissions/revoke", TYPED_ID, version="3.0",
             access=manage("typed")),
    Endpoint("GetUserPermission", ("GET",), "/mlflow/users/permissions/get", TYPED_ID, version="3.0",
             access=SELF),
    # fluvial's own
    Endpoint("GetCurrentUser", ("GET",), "/fluvial/users/current", {}, access=USER),
    Endpoint("ListUsers", ("GET",), "/fluvial/users/list", {}, access=ADMIN),
    Endpoint("CreateToken", ("POST",), "/fluvial/tokens/create",
             {"name": string(required=True), "expires_in_days": int32()}, access=USER),
    Endpoint("ListTokens", ("GET",), "/fluvial/tokens/list", {}, access=USER),
    Endpoint("RevokeToken", ("POST",), "/fluvial/tokens/revoke", {"token_id": int64(required=True)}, access=USER),
    Endpoint("ListAuditLog", ("GET",), "/fluvial/audit-log/list", {"max_results": int32()}, access=ADMIN),
]
register(AUTH)
