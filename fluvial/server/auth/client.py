"""``AuthServiceClient``: the users/permissions API from Python, with MLflow's method names and
entities (``fluvial.server.get_app_client("basic-auth", uri)``). Credentials come from the same
variables as the tracking client's (``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``MLFLOW_TRACKING_TOKEN``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExperimentPermission:
    experiment_id: str
    user_id: int
    permission: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExperimentPermission:
        return cls(str(d["experiment_id"]), int(d["user_id"]), d["permission"])


@dataclass(frozen=True)
class RegisteredModelPermission:
    name: str
    user_id: int
    permission: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RegisteredModelPermission:
        return cls(d["name"], int(d["user_id"]), d["permission"])


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    experiment_permissions: list[ExperimentPermission] = field(default_factory=list)
    registered_model_permissions: list[RegisteredModelPermission] = field(default_factory=list)
    password_hash: str = "REDACTED"  # the server never sends one

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> User:
        return cls(int(d["id"]), d["username"], bool(d.get("is_admin", False)),
                   [ExperimentPermission.from_json(p) for p in d.get("experiment_permissions", [])],
                   [RegisteredModelPermission.from_json(p) for p in d.get("registered_model_permissions", [])])


@dataclass(frozen=True)
class UserPermission:
    """MLflow 3's ``GetUserPermissionResult``."""
    allowed: bool
    permission: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UserPermission:
        return cls(bool(d.get("allowed", False)), d["permission"])


class AuthServiceClient:
    def __init__(self, tracking_uri: str) -> None:
        from fluvial.store.rest import RestClient

        self.tracking_uri = tracking_uri
        self._client = RestClient(tracking_uri)

    def _call(self, rpc: str, **payload: Any) -> dict[str, Any]:
        return self._client.call(rpc, payload)

    # users
    def create_user(self, username: str, password: str) -> User:
        return User.from_json(self._call("CreateUser", username=username, password=password)["user"])

    def get_user(self, username: str) -> User:
        return User.from_json(self._call("GetUser", username=username)["user"])

    def update_user_password(self, username: str, password: str, current_password: str | None = None) -> None:
        """``current_password``: needed (as in MLflow 3) to change one's own password when signed in with
        a token; over HTTP Basic the credentials already prove it."""
        extra = {"current_password": current_password} if current_password is not None else {}
        self._call("UpdateUserPassword", username=username, password=password, **extra)

    def update_user_admin(self, username: str, is_admin: bool) -> None:
        self._call("UpdateUserAdmin", username=username, is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        self._call("DeleteUser", username=username)

    # experiment permissions
    def create_experiment_permission(self, experiment_id: str, username: str, permission: str) -> ExperimentPermission:
        return ExperimentPermission.from_json(self._call(
            "CreateExperimentPermission", experiment_id=experiment_id, username=username,
            permission=permission)["experiment_permission"])

    def get_experiment_permission(self, experiment_id: str, username: str) -> ExperimentPermission:
        return ExperimentPermission.from_json(self._call(
            "GetExperimentPermission", experiment_id=experiment_id, username=username)["experiment_permission"])

    def update_experiment_permission(self, experiment_id: str, username: str, permission: str) -> None:
        self._call("UpdateExperimentPermission", experiment_id=experiment_id, username=username,
                   permission=permission)

    def delete_experiment_permission(self, experiment_id: str, username: str) -> None:
        self._call("DeleteExperimentPermission", experiment_id=experiment_id, username=username)

    # registered model permissions
    def create_registered_model_permission(self, name: str, username: str,
                                           permission: str) -> RegisteredModelPermission:
        return RegisteredModelPermission.from_json(self._call(
            "CreateRegisteredModelPermission", name=name, username=username,
            permission=permission)["registered_model_permission"])

    def get_registered_model_permission(self, name: str, username: str) -> RegisteredModelPermission:
        return RegisteredModelPermission.from_json(self._call(
            "GetRegisteredModelPermission", name=name, username=username)["registered_model_permission"])

    def update_registered_model_permission(self, name: str, username: str, permission: str) -> None:
        self._call("UpdateRegisteredModelPermission", name=name, username=username, permission=permission)

    def delete_registered_model_permission(self, name: str, username: str) -> None:
        self._call("DeleteRegisteredModelPermission", name=name, username=username)

    # MLflow 3's per-user grants: resource_type "experiment" or "registered_model"; READ, EDIT, MANAGE, DENY
    def grant_user_permission(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        self._call("GrantUserPermission", username=username, resource_type=resource_type, resource_id=resource_id,
                   permission=permission)

    def revoke_user_permission(self, username: str, resource_type: str, resource_id: str) -> None:
        self._call("RevokeUserPermission", username=username, resource_type=resource_type, resource_id=resource_id)

    def get_user_permission(self, username: str, resource_type: str, resource_id: str) -> UserPermission:
        """The permission that decides (the grant, else the server's default); ``allowed`` is EDIT or more."""
        return UserPermission.from_json(self._call("GetUserPermission", username=username,
                                                   resource_type=resource_type, resource_id=resource_id))

    # fluvial's own
    def current_user(self) -> dict[str, Any]:
        return self._call("GetCurrentUser")["user"]  # type: ignore[no-any-return]

    def create_token(self, name: str, expires_in_days: int = 90) -> dict[str, Any]:
        """A new API token (``token`` is shown only here; send it as MLFLOW_TRACKING_TOKEN)."""
        return self._call("CreateToken", name=name, expires_in_days=expires_in_days)

    def list_tokens(self) -> list[dict[str, Any]]:
        return self._call("ListTokens").get("tokens", [])  # type: ignore[no-any-return]

    def revoke_token(self, token_id: int) -> None:
        self._call("RevokeToken", token_id=token_id)
