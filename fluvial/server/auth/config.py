"""``basic_auth.ini``: MLflow's auth configuration file (``MLFLOW_AUTH_CONFIG_PATH``, section ``[mlflow]``)."""

from __future__ import annotations

import configparser
import dataclasses
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fluvial.exceptions import MlflowException

BUILTIN_AUTHORIZATION = "mlflow.server.auth:authenticate_request_basic_auth"
WEAK_DEFAULT_PASSWORD = "password1234"  # MLflow 2.x's shipped admin password: refused (GHSA-gq3w-7jj3-x7gr)
# MLflow 3 keys that would change what is allowed: refused when set rather than ignored
UNSUPPORTED = {"grant_default_workspace_access": "fluvial has no workspaces",
               "read_database_uri": "fluvial reads and writes the auth database at database_uri"}
REQUIRED = ("default_permission", "database_uri", "admin_username", "admin_password")


@dataclass(frozen=True)
class AuthConfig:
    default_permission: str = "READ"
    database_uri: str = "sqlite:///basic_auth.db"
    admin_username: str = "admin"
    admin_password: str = ""
    authorization_function: str = BUILTIN_AUTHORIZATION
    session_ttl_s: float = 12 * 3600.0
    # fluvial's additions (optional keys of the same section)
    max_failed_logins_per_user: int = 10
    max_failed_logins_per_client: int = 100
    # MLflow 3's keys, with a different default: how long a worker may answer from memory a credential
    # and a grant it looked up (so database changes reach every worker within this time); 0 = never
    auth_cache_ttl_s: float = 1.0
    auth_cache_max_size: int = 10_000


def config_path() -> Path:
    return Path(os.environ.get("MLFLOW_AUTH_CONFIG_PATH") or Path(__file__).with_name("basic_auth.ini"))


def read_config(path: Path | None = None) -> AuthConfig:
    """The configuration, with ``MLFLOW_AUTH_ADMIN_USERNAME``/``PASSWORD`` winning over the file (as in
    MLflow 3). Raises MlflowException naming the problem."""
    from fluvial.server.auth.store import PERMISSIONS

    path = path or config_path()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise MlflowException(f"Cannot read the auth configuration {path}: {exc.strerror or exc}.") from None
    except configparser.Error as exc:
        raise MlflowException(f"The auth configuration {path} is not a valid INI file: {exc}") from None
    if not parser.has_section("mlflow"):
        raise MlflowException(f"The auth configuration {path} has no [mlflow] section.")
    section = parser["mlflow"]
    missing = [key for key in REQUIRED if key not in section]
    if missing:
        raise MlflowException(f"The auth configuration {path} lacks {', '.join(missing)} in [mlflow].")
    config = AuthConfig(
        default_permission=section["default_permission"].strip(),
        database_uri=section["database_uri"].strip(),
        admin_username=os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or section["admin_username"].strip(),
        admin_password=os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD") or section["admin_password"],
        authorization_function=section.get("authorization_function", BUILTIN_AUTHORIZATION).strip()
        or BUILTIN_AUTHORIZATION,
    )
    try:
        config = dataclasses.replace(
            config,
            session_ttl_s=float(section.get("session_hours", "12")) * 3600.0,
            max_failed_logins_per_user=int(section.get("max_failed_logins_per_user", "10")),
            max_failed_logins_per_client=int(section.get("max_failed_logins_per_client", "100")),
            auth_cache_ttl_s=float(section.get("auth_cache_ttl_seconds", "1")),
            auth_cache_max_size=int(section.get("auth_cache_max_size", "10000")))
    except ValueError:
        raise MlflowException(f"session_hours, max_failed_logins_per_* and auth_cache_* in {path} must be "
                              "numbers.") from None
    if not 0 <= config.auth_cache_ttl_s <= 3600 or config.auth_cache_max_size < 1:
        raise MlflowException(f"auth_cache_ttl_seconds in {path} must be between 0 and 3600 and "
                              "auth_cache_max_size at least 1.")
    for key in UNSUPPORTED:
        if section.get(key, "").strip().lower() not in ("", "false", "0", "no", "off"):
            raise MlflowException(f"{key} in {path} is an MLflow 3 setting fluvial does not support "
                                  f"({UNSUPPORTED[key]}); remove it.")
    if config.default_permission not in PERMISSIONS:
        raise MlflowException(f"default_permission in {path} must be one of {', '.join(PERMISSIONS)}; "
                              f"got {config.default_permission!r}.")
    if not config.database_uri:
        raise MlflowException(f"database_uri in {path} is empty.")
    load_authorization_function(config.authorization_function)  # fail at start, not on the first request
    return config


def load_authorization_function(spec: str) -> Callable[[dict[str, str]], str | None] | None:
    """None for the built-in check (Basic, Bearer tokens, the login session); else the imported
    ``module:function``, called with the request headers (lower-case names) and returning the caller's
    username (who must exist in the auth database) or None to refuse with 401."""
    if spec in (BUILTIN_AUTHORIZATION, "fluvial.server.auth:builtin"):
        return None
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise MlflowException(f"authorization_function must look like 'module.path:function'; got {spec!r}.")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise MlflowException(f"Cannot load authorization_function {spec!r}: {exc}") from None
    if not callable(fn):
        raise MlflowException(f"authorization_function {spec!r} is not callable.")
    return fn  # type: ignore[no-any-return]
