"""URI helpers shared by stores, artifact repositories and the client (stdlib only)."""

from __future__ import annotations

import os
import pathlib
import posixpath
from urllib.parse import unquote, urlparse

from fluvial.exceptions import InvalidParameterValue

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def scheme_of(uri: str) -> str:
    """The scheme without a driver suffix: ``postgresql+psycopg://`` -> ``postgresql``; paths -> ``""``."""
    if is_local_path(uri):
        return ""
    return urlparse(uri).scheme.split("+")[0].lower()


def is_local_path(uri: str) -> bool:
    parsed = urlparse(uri)
    # a Windows drive letter parses as a one-letter scheme
    return parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt")


def is_sql_uri(uri: str) -> bool:
    return scheme_of(uri) in SQL_SCHEMES


def is_file_uri(uri: str) -> bool:
    return scheme_of(uri) in ("", "file")


def local_path(uri: str) -> str:
    """The filesystem path of a ``file:`` URI or plain path."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterValue(f"file: URIs with a host are not supported: {uri!r}")
        return unquote(parsed.path)
    return uri


def path_to_uri(path: str) -> str:
    return pathlib.Path(os.path.abspath(path)).as_uri()


def append_to_uri_path(uri: str, *parts: str) -> str:
    """Join path segments onto a URI or path with single slashes, keeping scheme and query."""
    tail = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    if not tail:
        return uri
    parsed = urlparse(uri)
    if parsed.query or parsed.fragment:
        return parsed._replace(path=posixpath.join(parsed.path or "/", tail)).geturl()
    return uri.rstrip("/") + "/" + tail


def resolve_local(uri: str) -> str:
    """An absolute local path for relative plain paths; other URIs unchanged."""
    if is_local_path(uri):
        return os.path.abspath(uri)
    return uri
