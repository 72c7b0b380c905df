"""Resolving user-supplied relative paths under a root, refusing every way out of it."""

from __future__ import annotations

import os
import posixpath
import re
from urllib.parse import unquote

from fluvial.exceptions import InvalidParameterValue

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_MAX_DECODINGS = 16


def validate_relative_path(path: str | None) -> str:
    """A normalised POSIX relative path ("" for the root); InvalidParameterValue("Invalid path") for
    absolute paths, URI schemes (``file:``, ``s3:``), drive letters, ``..`` segments, backslashes and NUL,
    in the text as given and after any number of percent-decodings. The message never repeats the path.
    ``?``, ``#``, ``;`` and ``%`` are ordinary characters of a file name here: whoever turns a path into a
    URI percent-encodes it."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterValue("Invalid path: expected a string.")
    candidate = path
    for _ in range(_MAX_DECODINGS):  # every spelling: %2e%2e, %252e%252e, ...
        _check_spelling(candidate)
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        raise InvalidParameterValue("Invalid path: too many levels of percent-encoding.")
    # an encoded path is taken literally, never decoded into the file name
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return posixpath.join(*parts) if parts else ""


def _check_spelling(candidate: str) -> None:
    if any(ch in candidate for ch in ("\\", "\x00")) or candidate.startswith("/") or _SCHEME.match(candidate):
        raise InvalidParameterValue("Invalid path: it must be relative, without a URI scheme or drive.")
    if any(p == ".." for p in candidate.split("/")):
        raise InvalidParameterValue("Invalid path: '..' segments are not allowed.")


def safe_join(root: str, path: str | None) -> str:
    """``root/path`` as a local path, guaranteed (symlinks resolved) to stay inside ``root``."""
    rel = validate_relative_path(path)
    full = os.path.join(root, *rel.split("/")) if rel else root
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InvalidParameterValue("Invalid path: it leads out of the artifact root.")
    return full
