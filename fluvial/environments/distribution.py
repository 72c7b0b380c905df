"""fluvial itself as a wheel, to install into environments and Docker images.

The wheel is written directly from the running fluvial (no build backend, no network): the files of
the imported ``fluvial`` package, and metadata from the source checkout's ``pyproject.toml`` when
fluvial runs from one (an editable install points there) or else from the installed distribution's
``METADATA``. A fingerprint of all of that names a cached copy and tells environments built earlier
that their fluvial is out of date.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluvial.exceptions import MlflowException

DIST_NAME = "fluvial"
# The extras an environment needs to serve and predict (uvicorn, numpy, pandas).
SERVING_EXTRAS = ("server", "data")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class FluvialSource:
    """Where the running fluvial's files and metadata come from."""

    package_dir: Path  # the directory of the ``fluvial`` package
    project_dir: Path | None  # the source checkout holding pyproject.toml, when fluvial runs from one
    version: str
    metadata: str  # the METADATA file
    entry_points: str  # entry_points.txt

    def files(self) -> list[tuple[str, Path]]:
        """(archive name, path) of every file of the package, sorted; bytecode and caches left out."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.package_dir):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(_SKIP_SUFFIXES) or name.startswith("."):
                    continue
                path = Path(dirpath) / name
                out.append((path.relative_to(self.package_dir.parent).as_posix(), path))
        return out

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.metadata.encode())
        digest.update(self.entry_points.encode())
        for name, path in self.files():
            digest.update(name.encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()

    @property
    def requires_python(self) -> str | None:
        match = re.search(r"^Requires-Python:\s*(.+)$", self.metadata, re.MULTILINE)
        return match.group(1).strip() if match else None

    @property
    def wheel_name(self) -> str:
        return f"{DIST_NAME}-{self.version}-py3-none-any.whl"


def fluvial_source(project_dir: str | os.PathLike[str] | None = None) -> FluvialSource:
    """The running fluvial (or the checkout at ``project_dir``: a directory with pyproject.toml and
    the ``fluvial`` package)."""
    if project_dir is not None:
        root = Path(project_dir).resolve()
        if not (root / "pyproject.toml").is_file() or not (root / DIST_NAME / "__init__.py").is_file():
            raise MlflowException(f"{root} is not a fluvial source tree (it needs pyproject.toml and fluvial/).")
        return _from_pyproject(root / DIST_NAME, root)
    import fluvial

    package_dir = Path(fluvial.__file__).resolve().parent
    checkout = package_dir.parent
    if (checkout / "pyproject.toml").is_file() and _project_name(checkout / "pyproject.toml") == DIST_NAME:
        return _from_pyproject(package_dir, checkout)
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        raise MlflowException(
            f"Cannot tell how to install fluvial into another environment: {package_dir} is neither a source "
            "checkout (no pyproject.toml beside it) nor an installed distribution."
        ) from None
    metadata = dist.read_text("METADATA") or ""
    return FluvialSource(package_dir, None, dist.version, metadata, dist.read_text("entry_points.txt") or "")


def _project_name(pyproject: Path) -> str | None:
    match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
    return match.group(1) if match else None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10: read the installed metadata instead
        raise MlflowException("Reading pyproject.toml needs Python 3.11 or later (tomllib).") from None
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _from_pyproject(package_dir: Path, root: Path) -> FluvialSource:
    try:
        project = _load_toml(root / "pyproject.toml").get("project", {})
    except MlflowException as exc:
        try:
            dist = importlib.metadata.distribution(DIST_NAME)
        except importlib.metadata.PackageNotFoundError:
            raise MlflowException(f"Cannot read fluvial's metadata from {root}: {exc.message}") from None
        return FluvialSource(package_dir, root, dist.version, dist.read_text("METADATA") or "",
                             dist.read_text("entry_points.txt") or "")
    version = str(project.get("version", "0"))
    lines = ["Metadata-Version: 2.1", f"Name: {DIST_NAME}", f"Version: {version}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    for extra, deps in (project.get("optional-dependencies") or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {_with_extra_marker(dep, extra)}" for dep in deps]
    scripts = project.get("scripts") or {}
    entry_points = "".join(["[console_scripts]\n", *(f"{k} = {v}\n" for k, v in scripts.items())]) if scripts else ""
    return FluvialSource(package_dir, root, version, "\n".join(lines) + "\n", entry_points)


def _with_extra_marker(requirement: str, extra: str) -> str:
    spec, sep, marker = requirement.partition(";")
    if sep and marker.strip():
        return f'{spec.strip()}; ({marker.strip()}) and extra == "{extra}"'
    return f'{spec.strip()}; extra == "{extra}"'


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest_dir: str | os.PathLike[str], source: FluvialSource | None = None) -> Path:
    """Write fluvial's wheel into ``dest_dir`` (created if needed) and return its path. The archive is
    reproducible: same files, same bytes."""
    source = source or fluvial_source()
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    dist_info = f"{DIST_NAME}-{source.version}.dist-info"
    extra_files = {
        f"{dist_info}/METADATA": source.metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fluvial\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if source.entry_points:
        extra_files[f"{dist_info}/entry_points.txt"] = source.entry_points.encode()
    buffer = io.BytesIO()
    records = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")

        for name, path in source.files():
            add(name, path.read_bytes())
        for name, data in extra_files.items():
            add(name, data)
        record_name = f"{dist_info}/RECORD"
        info = zipfile.ZipInfo(record_name, _ZIP_TIME)
        info.external_attr = 0o644 << 16
        archive.writestr(info, "\n".join([*records, f"{record_name},,"]) + "\n")
    target = dest / source.wheel_name
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".wheel-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(buffer.getvalue())
    os.replace(tmp, target)
    return target


def cached_wheel(cache_dir: str | os.PathLike[str], source: FluvialSource | None = None) -> tuple[Path, str]:
    """(path, fingerprint) of fluvial's wheel under ``cache_dir/<fingerprint>/``, built when missing."""
    source = source or fluvial_source()
    fingerprint = source.fingerprint()
    folder = Path(cache_dir) / fingerprint[:20]
    wheel = folder / source.wheel_name
    if not wheel.is_file():
        build_wheel(folder, source)
    return wheel, fingerprint


def requirement_for(wheel: str | os.PathLike[str], extras: tuple[str, ...] = SERVING_EXTRAS) -> str:
    """The pip requirement that installs ``wheel`` with ``extras``: ``fluvial[a,b] @ file:///...``."""
    url = Path(wheel).resolve().as_uri()
    return f"{DIST_NAME}[{','.join(extras)}] @ {url}" if extras else f"{DIST_NAME} @ {url}"


__all__ = ["SERVING_EXTRAS", "FluvialSource", "build_wheel", "cached_wheel", "fluvial_source", "requirement_for"]
