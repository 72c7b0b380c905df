"""``fluvial users``: manage the accounts and grants of ``fluvial server --app-name basic-auth`` directly
in its auth database (the operator's way in, also when no admin can log in)."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from fluvial.server.auth.store import AuthStore

_DB_HELP = ("SQLAlchemy URL of the auth database. Default: database_uri of the auth config "
            "(MLFLOW_AUTH_CONFIG_PATH, else the shipped basic_auth.ini).")
_PERMISSIONS = click.Choice(["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"])


def _store(database_uri: str | None) -> AuthStore:
    from fluvial.server.auth.store import AuthStore

    if database_uri is None:
        from fluvial.server.auth.config import read_config

        database_uri = read_config().database_uri
    return AuthStore(database_uri)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _target(experiment_id: str | None, model: str | None) -> tuple[str, str]:
    from fluvial.exceptions import InvalidParameterValue

    if (experiment_id is None) == (model is None):
        raise InvalidParameterValue("Name exactly one of --experiment-id or --model.")
    return ("experiment", experiment_id) if experiment_id is not None else ("model", model)  # type: ignore[return-value]


@click.group("users")
def commands() -> None:
    """Manage users and permissions of the basic-auth server (works on its auth database)."""


database_option = click.option("--database-uri", default=None, help=_DB_HELP)


@commands.command()
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 12 characters; prompted for when not given.")
@click.option("--admin", is_flag=True, default=False, help="Make the user an admin.")
@database_option
def create(username: str, password: str, admin: bool, database_uri: str | None) -> None:
    """Create USERNAME."""
    store = _store(database_uri)
    user = store.create_user(username, password, is_admin=admin)
    store.audit(_actor(), "CreateUser", f"username={username}", "admin" if admin else "")
    click.echo(f"Created user {user.username} (id {user.id}{', admin' if admin else ''}).")


@commands.command("list")
@database_option
def list_users(database_uri: str | None) -> None:
    """List the users, their admin flag and their grants."""
    store = _store(database_uri)
    for user in store.list_users():
        grants = store.grants_of(user.id)
        parts = [f"experiment {g['experiment_id']}: {g['permission']}" for g in grants["experiment"]]
        parts += [f"model {g['name']}: {g['permission']}" for g in grants["model"]]
        click.echo(f"{user.username}{' (admin)' if user.is_admin else ''}" + (f"  [{'; '.join(parts)}]" if parts else ""))


@commands.command()
@click.argument("username")
@click.option("--experiment-id", default=None, help="The experiment to grant on.")
@click.option("--model", default=None, help="The registered model (name) to grant on.")
@click.option("--permission", type=_PERMISSIONS, required=True)
@database_option
def grant(username: str, experiment_id: str | None, model: str | None, permission: str,
          database_uri: str | None) -> None:
    """Give USERNAME a permission on one experiment or registered model (replacing any earlier one)."""
    kind, resource = _target(experiment_id, model)
    store = _store(database_uri)
    user = store.require_user(username)
    store.set_grant(kind, resource, user.id, permission)
    store.audit(_actor(), "Grant", f"{kind}={resource}, username={username}", permission)
    click.echo(f"{username}: {permission} on {kind} {resource}.")


@commands.command()
@click.argument("username")
@click.option("--experiment-id", default=None)
@click.option("--model", default=None)
@database_option
def revoke(username: str, experiment_id: str | None, model: str | None, database_uri: str | None) -> None:
    """Remove USERNAME's grant on one experiment or registered model (the default permission applies again)."""
    kind, resource = _target(experiment_id, model)
    store = _store(database_uri)
    store.delete_grant(kind, resource, username)
    store.audit(_actor(), "Revoke", f"{kind}={resource}, username={username}")
    click.echo(f"{username}: grant on {kind} {resource} removed.")


@commands.command("reset-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (12+ characters); prompted for when not given.")
@database_option
def reset_password(username: str, password: str, database_uri: str | None) -> None:
    """Set USERNAME's password (their login sessions end)."""
    store = _store(database_uri)
    store.update_password(username, password)
    store.audit(_actor(), "ResetPassword", f"username={username}")
    click.echo(f"Password of {username} reset.")
