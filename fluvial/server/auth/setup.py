"""Turning auth on: ``--app-name basic-auth`` reads the config, opens the auth database, creates the
admin account when it does not exist yet, and hangs the auth store on the server's ``Stores``."""

from __future__ import annotations

from pathlib import Path

from fluvial.exceptions import MlflowException
from fluvial.server.auth.config import WEAK_DEFAULT_PASSWORD, AuthConfig, read_config
from fluvial.server.auth.store import AuthStore
from fluvial.server.config import Stores

APP_NAMES = ("basic-auth",)


def open_auth(config_path: str | None) -> tuple[AuthConfig, AuthStore]:
    """The configuration and the store, the admin account created if missing. Raises MlflowException
    with what to do (a missing/weak admin password, a bad config)."""
    config = read_config(Path(config_path) if config_path else None)
    store = AuthStore(config.database_uri)
    if store.get_user(config.admin_username) is None:
        password = config.admin_password
        if not password or password == WEAK_DEFAULT_PASSWORD or len(password) < 12:
            raise MlflowException(
                f"The admin account {config.admin_username!r} does not exist yet and needs a password of at least "
                "12 characters (not MLflow's shipped 'password1234'): set admin_password in the auth config "
                "(MLFLOW_AUTH_CONFIG_PATH) or MLFLOW_AUTH_ADMIN_PASSWORD.")
        try:
            store.create_user(config.admin_username, password, is_admin=True)
        except MlflowException as exc:  # another worker created it first
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        store.audit(None, "CreateAdmin", f"username={config.admin_username}")
    return config, store


def attach(stores: Stores) -> None:
    name = stores.config.app_name
    if name not in APP_NAMES:
        raise MlflowException(f"Unknown --app-name {name!r}; fluvial server knows {', '.join(APP_NAMES)}.")
    config, store = open_auth(stores.config.auth_config_path)
    stores.extras["auth_config"] = config
    stores.extras["auth_store"] = store
