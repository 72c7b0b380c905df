"""``fluvial users``: accounts and grants straight in the auth database, one error line on bad input."""

from __future__ import annotations

from fluvial.server.auth.passwords import verify_password
from fluvial.server.auth.store import AuthStore


def test_create_grant_list_revoke_reset(cli, tmp_path):
    ok = cli.ok
    db = f"sqlite:///{tmp_path / 'auth.db'}"
    ok("users", "create", "zed", "--password", "zed-password-1", "--admin", "--database-uri", db)
    ok("users", "create", "amy", "--password", "amy-password-1", "--database-uri", db)
    ok("users", "grant", "amy", "--experiment-id", "3", "--permission", "EDIT", "--database-uri", db)
    ok("users", "grant", "amy", "--model", "m", "--permission", "READ", "--database-uri", db)
    ok("users", "grant", "amy", "--experiment-id", "3", "--permission", "MANAGE", "--database-uri", db)
    listed = ok("users", "list", "--database-uri", db).output.splitlines()
    assert listed == ["amy  [experiment 3: MANAGE; model m: READ]", "zed (admin)"]
    ok("users", "revoke", "amy", "--model", "m", "--database-uri", db)
    ok("users", "reset-password", "amy", "--password", "amy-password-2", "--database-uri", db)
    store = AuthStore(db)
    amy = store.get_user("amy")
    assert amy is not None and verify_password(amy.password_hash, "amy-password-2")
    assert store.grants_of(amy.id)["model"] == []
    actions = [e["action"] for e in store.audit_entries()]
    assert actions[:3] == ["ResetPassword", "Revoke", "Grant"] and actions.count("CreateUser") == 2


def test_bad_input_is_one_line_and_changes_nothing(cli, tmp_path):
    ok, error = cli.ok, cli.error
    db = f"sqlite:///{tmp_path / 'auth.db'}"
    ok("users", "create", "amy", "--password", "amy-password-1", "--database-uri", db)
    error("users", "create", "bob", "--password", "short", "--database-uri", db, contains="12 characters")
    error("users", "create", "amy", "--password", "amy-password-1", "--database-uri", db, contains="already exists")
    error("users", "grant", "nobody", "--model", "m", "--permission", "READ", "--database-uri", db,
          contains="User not found")
    error("users", "grant", "amy", "--permission", "READ", "--database-uri", db, contains="exactly one")
    error("users", "revoke", "amy", "--model", "m", "--database-uri", db, contains="not found")
    assert [u.username for u in AuthStore(db).list_users()] == ["amy"]


def test_server_refuses_a_weak_admin_password_or_bad_config(cli, tmp_path):
    weak = tmp_path / "weak.ini"
    weak.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{tmp_path / 'a.db'}\n"
                    "admin_username = admin\nadmin_password = password1234\n")
    backend = f"sqlite:///{tmp_path / 'm.db'}"
    cli.error("server", "--app-name", "basic-auth", "--backend-store-uri", backend,
              env={"MLFLOW_AUTH_CONFIG_PATH": str(weak)}, contains="at least 12 characters")
    bad = tmp_path / "bad.ini"
    bad.write_text("[mlflow]\ndefault_permission = SOMETIMES\n")
    cli.error("server", "--app-name", "basic-auth", "--backend-store-uri", backend,
              env={"MLFLOW_AUTH_CONFIG_PATH": str(bad)}, contains="lacks database_uri")
    assert AuthStore(f"sqlite:///{tmp_path / 'a.db'}").list_users() == []
