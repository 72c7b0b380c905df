"""The auth database on SQLAlchemy Core: MLflow's three tables (``users``, ``experiment_permissions``,
``registered_model_permissions``, Alembic revision ``8606fa83a998``), so an MLflow auth database opens
here and the reverse, plus fluvial's own ``fluvial_tokens``, ``fluvial_audit_log`` and
``fluvial_login_failures``.

Password hashes are written in werkzeug's ``scrypt:n:r:p$salt$hex`` format (see ``passwords``), which
MLflow verifies too."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from fluvial.server.auth import passwords
from fluvial.store.tracking.sql.engine import get_engine, read_connection, write_transaction

MLFLOW_AUTH_REVISION = "8606fa83a998"
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
TOKEN_PREFIX = "fluvial_"

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(255), unique=True),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("is_admin", sa.Boolean),
)
experiment_permissions = sa.Table(
    "experiment_permissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("experiment_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_user_id"), nullable=False),
    sa.Column("permission", sa.String(255)),
    sa.UniqueConstraint("experiment_id", "user_id", name="unique_experiment_user"),
)
registered_model_permissions = sa.Table(
    "registered_model_permissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_user_id"), nullable=False),
    sa.Column("permission", sa.String(255)),
    sa.UniqueConstraint("name", "user_id", name="unique_name_user"),
)
alembic_version = sa.Table("alembic_version", metadata, sa.Column("version_num", sa.String(32), primary_key=True))
tokens = sa.Table(
    "fluvial_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "api" | "session"
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
)
audit_log = sa.Table(
    "fluvial_audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("actor", sa.String(255)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(1000)),
    sa.Column("detail", sa.String(1000)),
)
login_failures = sa.Table(  # shared by every worker and replica (see ``limits``)
    "fluvial_login_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Index("fluvial_login_failures_key_time", "key", "time_ms"),
)
GRANT_TABLES = {"experiment": (experiment_permissions, "experiment_id"), "model": (registered_model_permissions, "name")}


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    is_admin: bool


def now_ms() -> int:
    return int(time.time() * 1000)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_permission(permission: Any) -> str:
    if permission not in PERMISSIONS:
        raise InvalidParameterValue(f"Invalid permission. Valid permissions are: {PERMISSIONS}")
    return str(permission)


def check_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < 12:
        raise InvalidParameterValue("Password must be a string of at least 12 characters.")
    if len(password) > 1024:
        raise InvalidParameterValue("Password must be at most 1024 characters long.")
    return password


def check_username(username: Any) -> str:
    if not isinstance(username, str) or not username or len(username) > 255 or any(
            c in username for c in ":\x00\r\n"):
        raise InvalidParameterValue("Username must be a non-empty string of at most 255 characters "
                                    "without ':' or control characters.")
    return username


def _driver_sql(sql: str, names: tuple[str, ...], paramstyle: str) -> tuple[str, bool]:
    """``sql`` with ``:name`` markers in the driver's parameter style; (text, whether params are a dict)."""
    for name in names:
        marker = {"qmark": "?", "format": "%s", "numeric": f":{names.index(name) + 1}",
                  "pyformat": f"%({name})s"}.get(paramstyle, f":{name}")
        sql = sql.replace(f":{name}", marker)
    return sql, paramstyle in ("pyformat", "named")


class AuthStore:
    """Users, grants, tokens and the audit log. The per-request lookups (a user by name or token, one
    grant) run as plain driver SQL on a pooled connection: building SQLAlchemy expressions for them
    would cost more than the query."""

    _HOT = {
        "user": ("SELECT id, username, password_hash, is_admin FROM users WHERE username = :u", ("u",)),
        "token": ("SELECT users.id, users.username, users.password_hash, users.is_admin FROM users JOIN "
                  "fluvial_tokens ON fluvial_tokens.user_id = users.id WHERE fluvial_tokens.token_hash = :h "
                  "AND fluvial_tokens.expires_ms > :now", ("h", "now")),
        "experiment": ("SELECT permission FROM experiment_permissions WHERE user_id = :i AND experiment_id = :r",
                       ("i", "r")),
        "model": ("SELECT permission FROM registered_model_permissions WHERE user_id = :i AND name = :r",
                  ("i", "r")),
    }

    def _one(self, name: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
        sql, names = self._HOT[name]
        prepared = self._prepared.get(name)
        if prepared is None:
            prepared = self._prepared[name] = _driver_sql(sql, names, self.engine.dialect.paramstyle)
        text, named = prepared
        params = values if named else tuple(values[n] for n in names)
        sqlite_conn = self._sqlite_connection()
        if sqlite_conn is not None:
            return sqlite_conn.execute(text, params).fetchone()  # type: ignore[no-any-return]
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(text, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
            raw.rollback()
        finally:
            raw.close()
        return tuple(row) if row is not None else None

    def _sqlite_connection(self) -> sqlite3.Connection | None:
        """On SQLite, one autocommit connection per thread for the hot reads (no pool round trip)."""
        if self._sqlite_path is None:
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._sqlite_path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self._local.conn = conn
        return conn

    def __init__(self, db_uri: str) -> None:
        self._prepared: dict[str, tuple[str, bool]] = {}
        self._local = threading.local()
        self.engine = get_engine(db_uri)
        database = self.engine.url.database
        self._sqlite_path = database if self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") \
            else None
        with write_transaction(self.engine) as conn:
            inspector = sa.inspect(conn)
            existing = set(inspector.get_table_names())
            if "users" in existing:
                revision = conn.execute(sa.select(alembic_version.c.version_num)).scalar() \
                    if "alembic_version" in existing else None
                if revision not in (None, MLFLOW_AUTH_REVISION):
                    raise MlflowException(f"The auth database is at Alembic revision {revision}; fluvial reads "
                                          f"MLflow 2.x's auth schema ({MLFLOW_AUTH_REVISION}).")
            metadata.create_all(conn)
            if conn.execute(sa.select(alembic_version.c.version_num)).scalar() is None:
                conn.execute(sa.insert(alembic_version).values(version_num=MLFLOW_AUTH_REVISION))

    # ---- users ----------------------------------------------------------------------------------
    def get_user(self, username: str) -> UserRow | None:
        row = self._one("user", {"u": username})
        return UserRow(row[0], row[1], row[2] or "", bool(row[3])) if row else None

    def get_user_by_id(self, user_id: int) -> UserRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return UserRow(row.id, row.username, row.password_hash or "", bool(row.is_admin)) if row else None

    def require_user(self, username: str) -> UserRow:
        user = self.get_user(username) if isinstance(username, str) else None
        if user is None:
            raise ResourceDoesNotExist("User not found.")
        return user

    def list_users(self) -> list[UserRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        return [UserRow(r.id, r.username, r.password_hash or "", bool(r.is_admin)) for r in rows]

    def create_user(self, username: str, password: str, is_admin: bool = False) -> UserRow:
        check_username(username)
        digest = passwords.hash_password(check_password(password))
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(sa.insert(users).values(username=username, password_hash=digest, is_admin=is_admin))
        except sa.exc.IntegrityError:
            raise ResourceAlreadyExists("A user of that name already exists.") from None
        return self.require_user(username)

    def update_password(self, username: str, password: str) -> None:
        user = self.require_user(username)
        digest = passwords.hash_password(check_password(password))
        with write_transaction(self.engine) as conn:
            conn.execute(sa.update(users).where(users.c.id == user.id).values(password_hash=digest))
            conn.execute(sa.delete(tokens).where(tokens.c.user_id == user.id, tokens.c.kind == "session"))

    def update_admin(self, username: str, is_admin: bool) -> None:
        user = self.require_user(username)
        with write_transaction(self.engine) as conn:
            conn.execute(sa.update(users).where(users.c.id == user.id).values(is_admin=is_admin))

    def delete_user(self, username: str) -> None:
        """The user, their grants and their tokens (MLflow 2.x refuses users holding grants)."""
        user = self.require_user(username)
        with write_transaction(self.engine) as conn:
            for table, _ in GRANT_TABLES.values():
                conn.execute(sa.delete(table).where(table.c.user_id == user.id))
            conn.execute(sa.delete(tokens).where(tokens.c.user_id == user.id))
            conn.execute(sa.delete(users).where(users.c.id == user.id))

    # ---- grants ---------------------------------------------------------------------------------
    def grants_of(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        with read_connection(self.engine) as conn:
            for kind, (table, key) in GRANT_TABLES.items():
                rows = conn.execute(sa.select(table).where(table.c.user_id == user_id).order_by(table.c.id)).all()
                out[kind] = [{key: getattr(r, key), "user_id": r.user_id, "permission": r.permission} for r in rows]
        return out

    def permission(self, kind: str, user_id: int, resource: str) -> str | None:
        row = self._one(kind, {"i": user_id, "r": resource})
        return row[0] if row else None

    def permissions(self, kind: str, user_id: int, resources: list[str]) -> dict[str, str]:
        table, key = GRANT_TABLES[kind]
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(resources), 500):
                chunk = resources[start:start + 500]
                rows = conn.execute(sa.select(table.c[key], table.c.permission).where(
                    table.c.user_id == user_id, table.c[key].in_(chunk))).all()
                found.update({r[0]: r[1] for r in rows})
        return found

    def get_grant(self, kind: str, resource: str, username: str) -> dict[str, Any]:
        user = self.require_user(username)
        key = GRANT_TABLES[kind][1]
        permission = self.permission(kind, user.id, resource)
        if permission is None:
            raise ResourceDoesNotExist("Permission not found.")
        return {key: resource, "user_id": user.id, "permission": permission}

    def create_grant(self, kind: str, resource: str, username: str, permission: str) -> dict[str, Any]:
        user = self.require_user(username)
        check_permission(permission)
        table, key = GRANT_TABLES[kind]
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(sa.insert(table).values({key: resource, "user_id": user.id, "permission": permission}))
        except sa.exc.IntegrityError:
            raise ResourceAlreadyExists("That permission already exists.") from None
        return {key: resource, "user_id": user.id, "permission": permission}

    def update_grant(self, kind: str, resource: str, username: str, permission: str) -> None:
        user = self.require_user(username)
        check_permission(permission)
        table, key = GRANT_TABLES[kind]
        with write_transaction(self.engine) as conn:
            done = conn.execute(sa.update(table).where(table.c.user_id == user.id, table.c[key] == resource)
                                .values(permission=permission)).rowcount
        if not done:
            raise ResourceDoesNotExist("Permission not found.")

    def delete_grant(self, kind: str, resource: str, username: str) -> None:
        user = self.require_user(username)
        table, key = GRANT_TABLES[kind]
        with write_transaction(self.engine) as conn:
            done = conn.execute(sa.delete(table).where(table.c.user_id == user.id, table.c[key] == resource)).rowcount
        if not done:
            raise ResourceDoesNotExist("Permission not found.")

    def set_grant(self, kind: str, resource: str, user_id: int, permission: str) -> None:
        """Create or overwrite (ownership on create)."""
        table, key = GRANT_TABLES[kind]
        with write_transaction(self.engine) as conn:
            done = conn.execute(sa.update(table).where(table.c.user_id == user_id, table.c[key] == resource)
                                .values(permission=permission)).rowcount
            if not done:
                conn.execute(sa.insert(table).values({key: resource, "user_id": user_id, "permission": permission}))

    def rename_model_grants(self, old: str, new: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(sa.update(registered_model_permissions).where(registered_model_permissions.c.name == old)
                         .values(name=new))

    def drop_model_grants(self, name: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(sa.delete(registered_model_permissions).where(registered_model_permissions.c.name == name))

    # ---- tokens ---------------------------------------------------------------------------------
    def create_token(self, user_id: int, name: str, ttl_s: float, kind: str = "api") -> tuple[int, str, int]:
        """(id, the token itself - shown once, only its SHA-256 is kept -, expiry in ms)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = now_ms()
        expires = created + int(ttl_s * 1000)
        with write_transaction(self.engine) as conn:
            conn.execute(sa.delete(tokens).where(tokens.c.expires_ms < created))
            key = conn.execute(sa.insert(tokens).values(
                user_id=user_id, name=name, token_hash=token_digest(token), kind=kind, created_ms=created,
                expires_ms=expires)).inserted_primary_key
            token_id = key[0] if key else 0
        return int(token_id), token, expires

    def token_user(self, token: str) -> UserRow | None:
        row = self._one("token", {"h": token_digest(token), "now": now_ms()})
        return UserRow(row[0], row[1], row[2] or "", bool(row[3])) if row else None

    def list_tokens(self, user_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tokens).where(tokens.c.user_id == user_id, tokens.c.kind == "api",
                                                        tokens.c.expires_ms > now_ms()).order_by(tokens.c.id)).all()
        return [{"id": r.id, "name": r.name, "created_ms": r.created_ms, "expires_ms": r.expires_ms} for r in rows]

    def revoke_token(self, user_id: int, token_id: int) -> None:
        with write_transaction(self.engine) as conn:
            done = conn.execute(sa.delete(tokens).where(tokens.c.id == token_id, tokens.c.user_id == user_id)).rowcount
        if not done:
            raise ResourceDoesNotExist("Token not found.")

    def revoke_session(self, token: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(sa.delete(tokens).where(tokens.c.token_hash == token_digest(token), tokens.c.kind == "session"))

    # ---- audit ----------------------------------------------------------------------------------
    def audit(self, actor: str | None, action: str, target: str = "", detail: str = "") -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(sa.insert(audit_log).values(time_ms=now_ms(), actor=actor, action=action,
                                                     target=target[:1000], detail=detail[:1000]))

    def audit_entries(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
        return [{"time_ms": r.time_ms, "actor": r.actor, "action": r.action, "target": r.target,
                 "detail": r.detail} for r in rows]
