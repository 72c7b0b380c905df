"""Entry point parameters: checking the values given, and building the shell command from them.

What MLflow does, and fluvial keeps:

- a declared parameter takes the value given, else its default; one with neither is an error
  ("No value given for missing parameters: 'x'");
- ``uri`` values must have a scheme; ``path`` values that are local must exist and become absolute
  paths (relative to the working directory), remote ones are downloaded first;
- every value is shell-quoted (:func:`shlex.quote`) before it is put into the command, which is filled
  in like ``str.format``; values given for parameters the entry point does not declare are appended as
  ``--name value`` (both quoted), in the order given.

What fluvial adds on purpose: ``float`` and ``int`` values are checked (MLflow passes ``-P alpha=abc``
through to the script), the command's ``{fields}`` are checked against the declared parameters, and
all problems are reported together, each naming its parameter, before any run is created.
"""

from __future__ import annotations

import os
import re
import shlex
import string
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from fluvial.exceptions import ExecutionException
from fluvial.projects.spec import EntryPoint, Parameter, check_command_fields

_INT = re.compile(r"[+-]?\d+")


def _text(value: Any) -> str:
    return str(value)


def is_uri(value: str) -> bool:
    return bool(urlparse(value).scheme)


def local_path_of(value: str) -> str | None:
    """The local path a ``path`` value means (a plain path or ``file:///...``), None for a remote URI."""
    parsed = urlparse(value)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return value
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        from urllib.parse import unquote

        return unquote(parsed.path)
    return None


def _problem(param: Parameter, text: str, entry_point: str) -> str | None:
    where = f"Parameter '{param.name}' of entry point '{entry_point}'"
    if param.type == "float":
        try:
            float(text)
        except ValueError:
            return f"{where} must be a float, got {text!r}"
    elif param.type == "int":
        if not _INT.fullmatch(text):
            return f"{where} must be an int, got {text!r}"
    elif param.type == "uri":
        if not is_uri(text):
            return f"Expected URI for parameter {param.name} but got {text}"
    elif param.type == "path":
        local = local_path_of(text)
        if local is not None and not os.path.exists(local):
            return f"Got value {text} for parameter {param.name}, but no such file or directory was found."
    return None


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an extra parameter (passed as ``--name`` and logged as a run param)."""
    from fluvial._internal.validation import validate_key
    from fluvial.exceptions import MlflowException

    if name.startswith("-"):
        return f"Parameter name {name!r} must not start with '-' (it is passed as --{name})"
    try:
        validate_key(name, "param")
    except MlflowException as exc:
        return exc.message
    return None


def check_parameters(entry_point: EntryPoint, given: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    """(declared parameter values, extra values) as strings, unquoted and unresolved, after checking
    them all; raises ExecutionException naming every parameter that is missing or malformed."""
    given = {str(k): v for k, v in (given or {}).items() if v is not None}
    check_command_fields(entry_point)
    missing = [name for name, p in entry_point.parameters.items() if name not in given and p.required]
    if missing:
        raise ExecutionException(
            "No value given for missing parameters: " + ", ".join(f"'{name}'" for name in missing)
            + f" (entry point '{entry_point.name}')"
        )
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, param in entry_point.parameters.items():
        text = _text(given.get(name, param.default))
        values[name] = text
        problem = _problem(param, text, entry_point.name)
        if problem:
            source = "" if name in given else " (its default in the MLproject file)"
            problems.append(problem + source)
    extra: dict[str, str] = {}
    for name, value in given.items():
        if name in values:
            continue
        problem = _name_problem(name)
        if problem:
            problems.append(problem)
            continue
        extra[name] = _text(value)
    if problems:
        raise ExecutionException("; ".join(problems))
    return values, extra


def resolve_paths(entry_point: EntryPoint, values: Mapping[str, str], storage_dir: str | None,
                  download: Any = None, created: list[str] | None = None) -> dict[str, str]:
    """``values`` with every ``path`` value made absolute, or downloaded (remote URIs) into
    ``<storage_dir>/<temp>/param_<i>`` (``storage_dir`` None: the system temp directory); the
    directory made for the downloads is appended to ``created``."""
    resolved = dict(values)
    run_dir: str | None = None
    for index, (name, param) in enumerate(entry_point.parameters.items()):
        if param.type != "path":
            continue
        text = values[name]
        local = local_path_of(text)
        if local is not None:
            resolved[name] = os.path.abspath(local)
            continue
        if run_dir is None:
            if storage_dir:
                os.makedirs(storage_dir, exist_ok=True)
            run_dir = tempfile.mkdtemp(prefix="fluvial-params-", dir=storage_dir or None)
            if created is not None:
                created.append(run_dir)
        target = os.path.join(run_dir, f"param_{index}")
        os.makedirs(target, exist_ok=True)
        try:
            if download is None:
                from fluvial.artifacts import download_artifacts

                resolved[name] = download_artifacts(artifact_uri=text, dst_path=target)
            else:
                resolved[name] = download(text, target)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise ExecutionException(f"Could not download {text} for parameter '{name}': {message}") from None
    return resolved


def build_command(entry_point: EntryPoint, values: Mapping[str, str], extra: Mapping[str, str]) -> str:
    """The entry point's command with every ``{name}`` replaced by the shell-quoted value, and
    ``--name value`` (quoted) appended for each extra parameter."""
    check_command_fields(entry_point)
    pieces: list[str] = []
    for literal, field_name, _, _ in string.Formatter().parse(entry_point.command):
        pieces.append(literal)
        if field_name is not None:
            pieces.append(shlex.quote(values[field_name]))
    command = "".join(pieces)
    for name, value in extra.items():
        command += f" {shlex.quote('--' + name)} {shlex.quote(value)}"
    return command


__all__ = ["build_command", "check_parameters", "is_uri", "local_path_of", "resolve_paths"]
