"""Dataset sources MLflow users know, and the registry that turns a raw ``source=`` into one.

=====================================  =====================  ============================
class                                  ``source_type``        ``source`` JSON
=====================================  =====================  ============================
LocalArtifactDatasetSource             ``local``              ``{"uri": "/tmp/x.csv"}``
S3ArtifactDatasetSource, ...           ``s3``, ``gs``, ...    ``{"uri": "s3://b/k.csv"}``
HTTPDatasetSource                      ``http``               ``{"url": "https://..."}``
CodeDatasetSource                      ``code``               ``{"tags": {...}}``
=====================================  =====================  ============================

A plain path or ``file:`` URI is local; ``http(s)`` is HTTP; ``runs:``, ``models:``,
``mlflow-artifacts:`` and ``dbfs:`` are not dataset sources (as in MLflow). Third-party sources register
with :func:`register_dataset_source` or through the ``fluvial.dataset_source`` entry-point group, scanned
when nothing built in matches.
"""

from __future__ import annotations

import os
import re
import warnings
from abc import abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fluvial.data.dataset_source import DatasetSource
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist


class FileSystemDatasetSource(DatasetSource):
    """A dataset stored on a filesystem or in blob storage, identified by a URI."""

    @property
    @abstractmethod
    def uri(self) -> str:
        """The URI of the dataset, e.g. ``"s3://bucket/iris.csv"`` or ``"/tmp/iris.csv"``."""


class _ArtifactDatasetSource(FileSystemDatasetSource):
    """A source whose URI an artifact repository can download; one subclass per URI scheme."""

    _scheme: str = ""
    _source_type: str = ""

    def __init__(self, uri: str):
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    @classmethod
    def _get_source_type(cls) -> str:  # type: ignore[override]
        return cls._source_type

    def load(self, dst_path: str | None = None) -> str:  # type: ignore[override]
        """Download the dataset (a file or directory) and return its local path; a local source that
        is already on disk is returned as it is unless ``dst_path`` is given."""
        from fluvial.artifacts import download_artifacts

        return download_artifacts(artifact_uri=self.uri, dst_path=dst_path)

    @classmethod
    def _can_resolve(cls, raw_source: Any) -> bool:  # type: ignore[override]
        if cls._source_type == "local":
            return isinstance(raw_source, (str, Path)) and _is_local_uri(str(raw_source))
        if not isinstance(raw_source, str):
            return False
        try:
            return urlparse(raw_source).scheme == cls._scheme
        except ValueError:
            return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> _ArtifactDatasetSource:
        return cls(str(raw_source))

    def to_dict(self) -> dict[Any, Any]:
        return {"uri": self.uri}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> _ArtifactDatasetSource:
        uri = source_dict.get("uri")
        if uri is None:
            raise InvalidParameterValue(f'Failed to parse {cls.__name__}. Missing expected key: "uri"')
        return cls(uri=uri)


def _is_local_uri(uri: str) -> bool:
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return True
    host = parsed.hostname
    remote = bool(host) and not (host == "." or host.startswith(("localhost", "127.0.0.1")))  # type: ignore[union-attr]
    if parsed.scheme == "file":
        if remote:
            raise InvalidParameterValue(f"{uri} is not a valid remote uri.")
        return True
    return os.name == "nt" and len(parsed.scheme) == 1 and not remote


def _artifact_source(name: str, scheme: str, source_type: str | None = None) -> type[_ArtifactDatasetSource]:
    doc = (
        "A dataset stored on the local filesystem."
        if source_type == "local"
        else f"A dataset in a filesystem or blob store, identified by a URI with scheme '{scheme}'."
    )
    cls = type(name, (_ArtifactDatasetSource,), {"_scheme": scheme, "_source_type": source_type or scheme, "__doc__": doc})
    cls.__module__ = __name__
    return cls


LocalArtifactDatasetSource = _artifact_source("LocalArtifactDatasetSource", "file", "local")
S3ArtifactDatasetSource = _artifact_source("S3ArtifactDatasetSource", "s3")
R2ArtifactDatasetSource = _artifact_source("R2ArtifactDatasetSource", "r2")
GCSArtifactDatasetSource = _artifact_source("GCSArtifactDatasetSource", "gs")
AzureBlobArtifactDatasetSource = _artifact_source("AzureBlobArtifactDatasetSource", "wasbs")
AzureDataLakeArtifactDatasetSource = _artifact_source("AzureDataLakeArtifactDatasetSource", "abfss")
FTPArtifactDatasetSource = _artifact_source("FTPArtifactDatasetSource", "ftp")
SFTPArtifactDatasetSource = _artifact_source("SFTPArtifactDatasetSource", "sftp")
HdfsArtifactDatasetSource = _artifact_source("HdfsArtifactDatasetSource", "hdfs")
# MLflow gives viewfs its own class under the same name
_ViewfsArtifactDatasetSource = _artifact_source("HdfsArtifactDatasetSource", "viewfs")


class HTTPDatasetSource(DatasetSource):
    """A dataset at an HTTP or HTTPS URL."""

    def __init__(self, url: str):
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    @staticmethod
    def _get_source_type() -> str:
        return "http"

    def load(self, dst_path: str | None = None) -> str:  # type: ignore[override]
        """Download the URL into ``dst_path`` (a new temporary directory by default); the file's path.
        The file name comes from ``Content-Disposition`` or the URL path."""
        import shutil
        import tempfile
        import urllib.request

        with urllib.request.urlopen(self.url) as resp:
            name = self._file_name(resp.headers.get("Content-Disposition"))
            directory = dst_path or tempfile.mkdtemp()
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, name)
            with open(path, "wb") as out:
                shutil.copyfileobj(resp, out, 1024 * 1024)
        return path

    def _file_name(self, content_disposition: str | None) -> str:
        if content_disposition:
            for match in re.finditer(r"filename=(.+)", content_disposition):
                name = match[1].strip("'\"")
                if os.path.basename(name) != name:
                    raise InvalidParameterValue(
                        f"Invalid filename in Content-Disposition header: {name}. It must be a file name, not a path."
                    )
                return name
        return os.path.basename(urlparse(self.url).path) or "dataset_source"

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        if not isinstance(raw_source, str):
            return False
        try:
            return urlparse(raw_source).scheme in ("http", "https")
        except ValueError:
            return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> HTTPDatasetSource:
        return cls(raw_source)

    def to_dict(self) -> dict[Any, Any]:
        return {"url": self.url}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> HTTPDatasetSource:
        url = source_dict.get("url")
        if url is None:
            raise InvalidParameterValue('Failed to parse HTTPDatasetSource. Missing expected key: "url"')
        return cls(url=url)


class CodeDatasetSource(DatasetSource):
    """The code that built the dataset (used when ``source=`` is not given): the run context tags."""

    def __init__(self, tags: dict[Any, Any]):
        self._tags = tags

    @staticmethod
    def _get_source_type() -> str:
        return "code"

    def load(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("A CodeDatasetSource cannot be loaded")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> CodeDatasetSource:
        raise NotImplementedError

    def to_dict(self) -> dict[Any, Any]:
        return {"tags": self._tags}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> CodeDatasetSource:
        return cls(tags=source_dict.get("tags"))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# registry

_REGISTERED: list[type[DatasetSource]] = [
    LocalArtifactDatasetSource,
    S3ArtifactDatasetSource,
    R2ArtifactDatasetSource,
    GCSArtifactDatasetSource,
    AzureBlobArtifactDatasetSource,
    FTPArtifactDatasetSource,
    SFTPArtifactDatasetSource,
    HdfsArtifactDatasetSource,
    _ViewfsArtifactDatasetSource,
    AzureDataLakeArtifactDatasetSource,
    HTTPDatasetSource,
    CodeDatasetSource,
]
_ENTRY_POINT_GROUP = "fluvial.dataset_source"
_scanned = False


def register_dataset_source(source: type[DatasetSource]) -> None:
    """Make a DatasetSource class available to ``from_pandas(..., source=...)`` and ``get_source``;
    later registrations win over earlier ones."""
    _REGISTERED.append(source)


def get_registered_sources() -> list[type[DatasetSource]]:
    return list(_REGISTERED)


def _scan_entry_points() -> bool:
    global _scanned
    if _scanned:
        return False
    _scanned = True
    from importlib.metadata import entry_points

    added = False
    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        try:
            register_dataset_source(ep.load())
            added = True
        except (AttributeError, ImportError) as exc:
            warnings.warn(f'Failure attempting to register dataset source "{ep}": {exc}', stacklevel=3)
    return added


def _resolve_from(candidates: list[type[DatasetSource]], raw_source: Any) -> DatasetSource | None:
    matching = []
    for source in candidates:
        try:
            if source._can_resolve(raw_source):
                matching.append(source)
        except Exception as e:
            warnings.warn(
                f"Failed to determine whether {source.__name__} can resolve source information for "
                f"'{raw_source}'. Exception: {e}",
                stacklevel=3,
            )
    if len(matching) > 1:
        warnings.warn(
            "The specified dataset source can be interpreted in multiple ways: "
            f"{', '.join(s.__name__ for s in matching)}. fluvial will assume that this is a "
            f"{matching[-1].__name__} source.",
            stacklevel=3,
        )
    for source in reversed(matching):
        try:
            return source._resolve(raw_source)
        except Exception as e:
            warnings.warn(
                f"Encountered an unexpected error while using {source.__name__} to resolve source "
                f"information for '{raw_source}'. Exception: {e}",
                stacklevel=3,
            )
    return None


def resolve_dataset_source(raw_source: Any, candidate_sources: list[type[DatasetSource]] | None = None) -> DatasetSource:
    """The DatasetSource for a raw source such as ``"s3://bucket/iris.csv"`` or ``"/tmp/iris.csv"``
    (among ``candidate_sources`` and their subclasses, when given)."""

    def candidates() -> list[type[DatasetSource]]:
        if not candidate_sources:
            return list(_REGISTERED)
        return [s for s in _REGISTERED if any(issubclass(s, c) for c in candidate_sources)]

    resolved = _resolve_from(candidates(), raw_source)
    if resolved is None and _scan_entry_points():
        resolved = _resolve_from(candidates(), raw_source)
    if resolved is None:
        raise ResourceDoesNotExist(
            f"Could not find a source information resolver for the specified dataset source: {raw_source}."
        )
    return resolved


def get_dataset_source_from_json(source_json: str, source_type: str) -> DatasetSource:
    """The DatasetSource stored as ``(source_type, source JSON)`` with a run's dataset."""
    for attempt in range(2):
        for source in reversed(_REGISTERED):
            if source._get_source_type() == source_type:
                return source.from_json(source_json)
        if attempt or not _scan_entry_points():
            break
    raise ResourceDoesNotExist(
        f"Could not parse dataset source from JSON due to unrecognized source type: {source_type}."
    )


__all__ = [
    "AzureBlobArtifactDatasetSource",
    "AzureDataLakeArtifactDatasetSource",
    "CodeDatasetSource",
    "DatasetSource",
    "FTPArtifactDatasetSource",
    "FileSystemDatasetSource",
    "GCSArtifactDatasetSource",
    "HTTPDatasetSource",
    "HdfsArtifactDatasetSource",
    "LocalArtifactDatasetSource",
    "R2ArtifactDatasetSource",
    "S3ArtifactDatasetSource",
    "SFTPArtifactDatasetSource",
    "get_dataset_source_from_json",
    "get_registered_sources",
    "register_dataset_source",
    "resolve_dataset_source",
]
