"""pip requirements: reading, merging and pinning them.

Requirement strings are handled by a small PEP 508 reader of our own (no ``packaging`` dependency);
it formats requirements the way pip's ``packaging`` prints them (extras and specifiers sorted,
markers with double quotes), so files match MLflow's byte for byte. Anything it cannot read (paths,
URLs, ``-e``/``--hash`` options) passes through untouched. Inferring requirements from what a model
imports is in :mod:`fluvial.models.infer_requirements`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException

_logger = logging.getLogger(__name__)

CONSTRAINTS_FILE_NAME = "constraints.txt"
SELF_PACKAGES = frozenset({"fluvial", "mlflow", "mlflow-skinny"})


class RequirementsArgumentError(InvalidParameterValue, ValueError):
    """A bad ``conda_env`` / ``pip_requirements`` / ``extra_pip_requirements`` value (also a ValueError,
    which is what MLflow raises)."""


class RequirementsTypeError(InvalidParameterValue, TypeError):
    """An argument of the wrong type (also a TypeError, as in MLflow)."""


# ---------------------------------------------------------------------------------------------------
# reading single requirements (PEP 508 subset)

_NORMALIZE = re.compile(r"[-_.]+")
NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REQ = re.compile(
    rf"^(?P<name>{NAME_PATTERN})\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
    r"(?:@\s*(?P<url>\S+)\s*|(?P<spec>\(?[^;@]*?\)?))\s*(?:;\s*(?P<marker>.*?))?\s*$"
)
_SPEC = re.compile(r"^\s*(===|==|!=|~=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)\s*$")
MARKER_TOKEN = re.compile(
    r"\s*(\(|\)|'[^']*'|\"[^\"]*\"|===|==|!=|~=|<=|>=|<|>|not\s+in\b|in\b|and\b|or\b|[A-Za-z_][A-Za-z0-9_.]*)"
)


def normalize_name(name: str) -> str:
    """PEP 503 normalized distribution name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return _NORMALIZE.sub("-", name).lower()


@dataclass
class Requirement:
    """One parsed requirement; ``str()`` prints it the way ``packaging`` does."""

    name: str
    extras: list[str] = field(default_factory=list)
    specifier: str = ""  # canonical, e.g. "<3,>=1.0"
    url: str | None = None
    marker: str | None = None

    @property
    def key(self) -> str:
        return normalize_name(self.name)

    def __str__(self) -> str:
        text = self.name
        if self.extras:
            text += "[" + ",".join(sorted(self.extras)) + "]"
        text += self.specifier
        if self.url:
            text += f"@ {self.url}" + (" " if self.marker else "")
        if self.marker:
            text += f"; {self.marker}"
        return text


def _format_specifier(text: str) -> str | None:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    if not text.strip():
        return ""
    specs = set()
    for part in text.split(","):
        match = _SPEC.match(part)
        if not match:
            return None
        specs.add(match.group(1) + match.group(2))
    return ",".join(sorted(specs))


def _format_marker(text: str) -> str | None:
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = MARKER_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            return None
        token = match.group(1)
        if token[0] in "'\"":
            token = '"' + token[1:-1] + '"'
        elif token.startswith("not"):
            token = "not in"
        tokens.append(token)
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    out = ""
    for token in tokens:
        if out and not out.endswith("(") and token != ")":
            out += " "
        out += token
    return out


def parse_requirement(text: str) -> Requirement | None:
    """Parse one requirement string; None when it is not a PEP 508 requirement (a path, URL, option)."""
    match = _REQ.match(text.strip())
    if not match:
        return None
    spec = _format_specifier(match.group("spec") or "")
    if spec is None:
        return None
    marker = None
    if match.group("marker"):
        marker = _format_marker(match.group("marker"))
        if marker is None:
            return None
    extras = [e.strip() for e in (match.group("extras") or "").split(",") if e.strip()]
    return Requirement(match.group("name"), extras, spec, match.group("url"), marker)


def requirement_name(text: str) -> str | None:
    req = parse_requirement(text)
    return req.name if req else None


def is_mlflow_requirement(text: str) -> bool:
    """True for a requirement on ``mlflow`` or ``mlflow-skinny`` (pinned, with options, or from git)."""
    req = parse_requirement(text) or parse_requirement(re.split(r"\s+-", text.strip(), maxsplit=1)[0])
    if req is not None:
        return req.key in ("mlflow", "mlflow-skinny")
    compact = text.replace(" ", "").lower()
    return any(marker in compact for marker in ("/mlflow", "mlflow@git"))


def is_self_requirement(text: str) -> bool:
    """True for a requirement on fluvial itself or on MLflow."""
    req = parse_requirement(text)
    return is_mlflow_requirement(text) or (req is not None and req.key == "fluvial")


# ---------------------------------------------------------------------------------------------------
# requirements files and lists


def clean_requirement_lines(lines: Iterable[str]) -> Iterator[str]:
    """Strip, drop comments and blank lines, join continuation lines (``\\``)."""
    pending = ""
    for raw in lines:
        line = raw.strip()
        if " #" in line:
            line = line[: line.find(" #")].rstrip()
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if line and not line.startswith("#"):
            yield line
    if pending and not pending.startswith("#"):
        yield pending


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError as exc:
        raise RequirementsArgumentError(f"Could not read the requirements file {path!r}: {exc}") from exc


def iter_requirement_lines(
    lines: Iterable[str], base_dir: str, is_constraint: bool = False
) -> Iterator[tuple[str, bool]]:
    """Yield ``(requirement, is_constraint)``, expanding ``-r``/``--requirement`` and ``-c``/``--constraint``
    file references relative to ``base_dir`` (absolute references are used as they are)."""
    for line in clean_requirement_lines(lines):
        head, _, rest = line.partition(" ")
        if head in ("-r", "--requirement", "-c", "--constraint") and rest.strip():
            path = os.path.join(base_dir, rest.strip())
            yield from iter_requirement_lines(_read_lines(path), os.path.dirname(path), head in ("-c", "--constraint"))
        else:
            yield line, is_constraint


def parse_pip_requirements(pip_requirements: Any, base_dir: str | None = None) -> tuple[list[str], list[str]]:
    """``(requirements, constraints)`` from a list of requirement strings or a requirements file path.

    File references in a list resolve against ``base_dir`` (default: the working directory); in a file,
    against that file's directory."""
    if pip_requirements is None:
        return [], []
    if isinstance(pip_requirements, (str, os.PathLike)):
        path = os.fspath(pip_requirements)
        pairs = iter_requirement_lines(_read_lines(path), os.path.dirname(path))
    elif isinstance(pip_requirements, Iterable) and not isinstance(pip_requirements, (bytes, dict)):
        items = list(pip_requirements)
        if not all(isinstance(x, str) for x in items):
            raise _requirements_type_error(pip_requirements)
        pairs = iter_requirement_lines(items, base_dir or os.getcwd())
    else:
        raise _requirements_type_error(pip_requirements)
    requirements: list[str] = []
    constraints: list[str] = []
    for line, is_constraint in pairs:
        (constraints if is_constraint else requirements).append(line)
    return requirements, constraints


def _requirements_type_error(value: Any) -> RequirementsTypeError:
    return RequirementsTypeError(
        "`pip_requirements` must be either a string path to a pip requirements file on the local "
        f"filesystem or an iterable of pip requirement strings, but got `{type(value)}`"
    )


def dedupe_requirements(requirements: Iterable[str]) -> list[str]:
    """Merge requirements on the same distribution, keeping the first one's position: specifiers are
    joined, extras united, the later URL/marker wins. Two different ``==`` pins raise. Strings that are
    not requirements (paths, URLs, options) are kept once each."""
    merged: dict[str, Requirement | str] = {}
    for text in requirements:
        req = parse_requirement(text)
        if req is None:
            merged.setdefault(text, text)
            continue
        old = merged.get(req.key)
        if isinstance(old, Requirement):
            if old.specifier and req.specifier and old.specifier != req.specifier:
                _check_pins(old, req)
                req.specifier = old.specifier + "," + req.specifier
            elif old.specifier and not req.specifier:
                req.specifier = old.specifier
            if old.extras and req.extras and set(old.extras) != set(req.extras):
                req.extras = sorted(set(old.extras) | set(req.extras))
            elif old.extras and not req.extras:
                req.extras = old.extras
            req.name = old.name
        merged[req.key] = req
    return [str(r) for r in merged.values()]


def _check_pins(a: Requirement, b: Requirement) -> None:
    pins = {s[2:] for r in (a, b) for s in r.specifier.split(",") if s.startswith("==") and not s.startswith("===")}
    if len(pins) > 1:
        raise RequirementsArgumentError(
            f"The specified requirements versions are incompatible. Detected conflicts: '{a}' and '{b}'"
        )


# ---------------------------------------------------------------------------------------------------
# installed versions


def installed_version(package: str, module: str | None = None) -> str | None:
    """The installed version of a distribution (falling back to ``module.__version__``), or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return str(importlib.import_module(module or package).__version__)
    except Exception:
        return None


def current_versions(packages: Iterable[str]) -> dict[str, str | None]:
    """``{"scikit-learn": "1.9.1", "missing-pkg": None, ...}`` for the current interpreter."""
    return {p: installed_version(p) for p in packages}


def _strip_local_label(version: str) -> str:
    return version.split("+", 1)[0]


def pinned_requirement(requirement: str, version: str | None = None, module: str | None = None) -> str:
    """``name==version`` for an installed package (``"mlflow[gateway]"`` keeps its extras); local version
    labels (``2.1.0+cu118``) are stripped with a logged warning, since PyPI cannot install them."""
    req = parse_requirement(requirement)
    name = req.name if req else requirement
    if version is None:
        raw = installed_version(name, module)
        if raw is None:
            raise MlflowException(f"Cannot pin {name!r}: it is not installed")
        version = _strip_local_label(raw)
        if version != raw:
            _logger.warning(
                "Found %s version (%s) with a local version label; logged the pip requirement '%s==%s' "
                "without it so it installs from PyPI. Use `conda_env` or `pip_requirements` to keep it.",
                name, raw, name, version,
            )
    extras = f"[{','.join(req.extras)}]" if req and req.extras else ""
    return f"{name}{extras}=={version}"


def warn_requirement_mismatches(requirements: Iterable[str]) -> None:
    """Log a warning listing ``==`` pins that the current environment does not satisfy."""
    problems = []
    for text in requirements:
        req = parse_requirement(text)
        if req is None or req.key in SELF_PACKAGES:
            continue
        pins = [s[2:] for s in req.specifier.split(",") if s.startswith("==") and "*" not in s]
        if not pins:
            continue
        current = installed_version(req.name)
        if current is None or _strip_local_label(current) != pins[0]:
            problems.append(f"{req.name} (current: {current or 'uninstalled'}, required: {text})")
    if problems:
        _logger.warning(
            "Detected one or more mismatches between the model's dependencies and the current Python "
            "environment:\n - %s",
            "\n - ".join(problems),
        )
