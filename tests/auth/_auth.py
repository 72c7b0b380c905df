"""Helpers for the auth tests: a ``fluvial server --app-name basic-auth`` process with its own
``basic_auth.ini``, raw-HTTP calls with credentials, and snapshots of everything a request could change
(both databases and the artifact files)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _serve import RawResponse, Server, fluvial_server, raw_http

ADMIN, ADMIN_PASSWORD = "admin", "admin-password-123"
PASSWORD = "a-long-password-123"


def write_ini(path: Path, default_permission: str = "NO_PERMISSIONS", **extra: str) -> Path:
    lines = ["[mlflow]", f"default_permission = {default_permission}",
             f"database_uri = sqlite:///{path.parent / 'basic_auth.db'}", f"admin_username = {ADMIN}",
             f"admin_password = {ADMIN_PASSWORD}", *(f"{k} = {v}" for k, v in extra.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def auth_server(workdir: Path, default_permission: str = "NO_PERMISSIONS", *, workers: int = 1,
                share: Server | None = None, **extra: str) -> Iterator[Server]:
    """A server with its own ``basic_auth.ini`` (``extra``: more keys), or with ``share``'s: the same
    config, auth database, tracking database and artifacts (a second replica)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if share is None:
        ini = write_ini(workdir / "basic_auth.ini", default_permission, **extra)
        paths: dict[str, str] = {}
    else:
        ini = Path(share.log).parent / "basic_auth.ini"
        paths = {"backend_store_uri": share.backend_store_uri, "artifacts_destination": share.destination}
    with fluvial_server(workdir, app_name="basic-auth", env={"MLFLOW_AUTH_CONFIG_PATH": str(ini)}, workers=workers,
                        **paths) as server:
        yield server


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def call(server: Server, method: str, path: str, data: dict[str, Any] | None = None,
         auth: dict[str, str] | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> RawResponse:
    """GET/HEAD: ``data`` as the query string; else as a JSON body."""
    merged: dict[str, str | None] = dict(auth or {})
    target = path
    if method in ("GET", "HEAD"):
        if data:
            target += ("&" if "?" in path else "?") + urlencode(data, doseq=True)
        payload = b""
    else:
        payload = body if body is not None else json.dumps(data or {}).encode()
        merged.setdefault("Content-Type", "application/json")
    merged.update(headers or {})
    return raw_http(server.port, method, target, merged, payload, timeout=30)


def ok(response: RawResponse) -> Any:
    assert response.status == 200, (response.status, response.body[:500])
    return response.json() if response.body else {}


def snapshot(server: Server, rows: bool = False) -> str:
    """A digest of both SQLite databases and every artifact file. The tracking database by its files, WAL
    included (a request that writes nothing leaves them byte for byte; ``rows=True`` dumps every row
    instead); the auth database by its rows, all but ``fluvial_login_failures`` (where a refused wrong
    password is rightly counted)."""
    digest = hashlib.sha256()
    for db in (server.backend_store_uri.split("///", 1)[1], str(Path(server.log).parent / "basic_auth.db")):
        if rows or db.endswith("basic_auth.db"):
            conn = sqlite3.connect(db)
            try:
                tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                     "AND name != 'fluvial_login_failures' ORDER BY name")]
                for table in tables:
                    digest.update(table.encode())
                    for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                        digest.update(repr(row).encode())
            finally:
                conn.close()
            continue
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError), open(db + suffix, "rb") as fh:
                digest.update(fh.read())
    for root, dirs, files in os.walk(server.destination):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(path.encode())
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()
