"""Resolving user-supplied relative paths under a root, refusing every way out of it."""

from __future__ import annotations

import os
import posixpath
from urllib.parse import unquote

from fluvial.exceptions import InvalidParameterValue


def validate_relative_path(path: str | None) -> str:
    """A normalised POSIX relative path ("" for the root); InvalidParameterValue("Invalid path") for
    absolute paths, drive letters, ``..`` segments (also percent-encoded, once or twice), backslashes
    and NUL. ``?``, ``#``, ``;`` and ``%`` are ordinary characters of a file name here: whoever turns a
    path into a URI percent-encodes it."""
    if path is None:
        return ""
    candidate = path
    for _ in range(3):  # catch %2e%2e and %252e%252e
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    if any(ch in candidate for ch in ("\\", "\x00")) or candidate.startswith("/") or (
        len(candidate) > 1 and candidate[1] == ":"
    ):
        raise InvalidParameterValue(f"Invalid path: {path!r}")
    parts = [p for p in candidate.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidParameterValue(f"Invalid path: {path!r}")
    if candidate != path:  # an encoded path is taken literally, never decoded into the file name
        parts = [p for p in path.split("/") if p not in ("", ".")]
    return posixpath.join(*parts) if parts else ""


def safe_join(root: str, path: str | None) -> str:
    """``root/path`` as a local path, guaranteed (symlinks resolved) to stay inside ``root``."""
    rel = validate_relative_path(path)
    full = os.path.join(root, *rel.split("/")) if rel else root
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InvalidParameterValue(f"Invalid path: {path!r}")
    return full
