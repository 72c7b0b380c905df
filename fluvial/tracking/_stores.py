"""Which store a tracking URI means, and the tracking URI itself (set_tracking_uri / env / default)."""

from __future__ import annotations

import logging
import os
import threading

from fluvial._internal import registry
from fluvial._internal.environ import getenv
from fluvial._internal.uri import append_to_uri_path, is_local_path, local_path, scheme_of
from fluvial.exceptions import InvalidParameterValue
from fluvial.store.artifact.base import ArtifactRepository
from fluvial.store.registry.base import RegistryStore
from fluvial.store.tracking.base import TrackingStore

_logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_ROOT = "./mlruns"
LOCAL_DIR_DB_NAME = "mlflow.db"

_tracking_uri: str | None = None
_registry_uri: str | None = None
_journal_dir: str | None = None
_stores: dict[tuple[str, str], TrackingStore] = {}
_registry_stores: dict[tuple[str, str], RegistryStore] = {}
_lock = threading.Lock()


def set_tracking_uri(uri: str | os.PathLike) -> None:
    """Select the tracking backend for this process and its subprocesses."""
    global _tracking_uri
    uri = os.fspath(uri)
    _tracking_uri = uri
    os.environ["MLFLOW_TRACKING_URI"] = uri


def get_tracking_uri() -> str:
    return _tracking_uri or getenv("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def set_journal_dir(directory: str | os.PathLike | None) -> None:
    """Journal mode for http(s) tracking URIs (docs/journal.md): writes go to a durable local journal in
    ``directory`` and a background thread sends them to the server. ``None`` turns it off."""
    global _journal_dir
    if directory is None:
        _journal_dir = None
        os.environ.pop("FLUVIAL_JOURNAL_DIR", None)
    else:
        _journal_dir = os.path.abspath(os.fspath(directory))
        os.environ["FLUVIAL_JOURNAL_DIR"] = _journal_dir
    with _lock:
        for key in [k for k in _stores if scheme_of(k[0]) in ("http", "https")]:
            del _stores[key]


def get_journal_dir() -> str | None:
    return _journal_dir or os.environ.get("FLUVIAL_JOURNAL_DIR") or None


def is_tracking_uri_set() -> bool:
    return bool(_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))


def set_registry_uri(uri: str) -> None:
    global _registry_uri
    _registry_uri = uri
    os.environ["MLFLOW_REGISTRY_URI"] = uri


def get_registry_uri() -> str:
    return _registry_uri or getenv("MLFLOW_REGISTRY_URI") or get_tracking_uri()


def _looks_like_mlflow_file_store(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "0", "meta.yaml")) and not os.path.exists(
        os.path.join(path, LOCAL_DIR_DB_NAME)
    )


def resolve_store_uri(uri: str) -> tuple[str, str | None]:
    """(database or server URI, default artifact root) for a tracking URI.

    A plain path or ``file:`` URI (MLflow 2.x's default style) is a local tracking directory: fluvial
    keeps its SQLite database and the artifacts inside it.
    """
    scheme = scheme_of(uri)
    if scheme in ("", "file"):
        directory = os.path.abspath(local_path(uri))
        if _looks_like_mlflow_file_store(directory):
            _logger.warning(
                "%s holds an MLflow file store. fluvial keeps its data in %s/%s; to bring the existing "
                "runs over, run: fluvial migrate-filestore --source %s --target sqlite:///%s/%s",
                directory, directory, LOCAL_DIR_DB_NAME, directory, directory, LOCAL_DIR_DB_NAME,
            )
        os.makedirs(directory, exist_ok=True)
        return f"sqlite:///{os.path.join(directory, LOCAL_DIR_DB_NAME)}", directory
    if scheme in ("sqlite", "postgresql", "mysql", "mssql"):
        root = os.environ.get("MLFLOW_DEFAULT_ARTIFACT_ROOT") or DEFAULT_ARTIFACT_ROOT
        return uri, os.path.abspath(root) if is_local_path(root) else root
    return uri, None


_relative: dict[str, bool] = {}  # tracking/registry URI -> whether it names a path relative to the cwd


def _cache_key(uri: str) -> tuple[str, str]:
    """(uri, the working directory when ``uri`` depends on it, else ""): a store is cached per key, and
    an absolute location or a server does not need ``os.getcwd()`` (a system call) on every call."""
    relative = _relative.get(uri)
    if relative is None:
        scheme = scheme_of(uri)
        if scheme == "sqlite":
            path = uri.split("///", 1)[1] if "///" in uri else ""
            relative = not (path.startswith("/") or path in ("", ":memory:") or path.startswith("file:"))
        else:
            relative = scheme in ("", "file") and not os.path.isabs(local_path(uri))
        if len(_relative) > 1000:
            _relative.clear()
        _relative[uri] = relative
    return (uri, os.getcwd() if relative else "")


def get_store(uri: str | None = None) -> TrackingStore:
    """The (cached) tracking store for a tracking URI; relative locations resolve against the cwd."""
    uri = uri or get_tracking_uri()
    key = _cache_key(uri)
    store = _stores.get(key)
    if store is not None:
        return store
    with _lock:
        store = _stores.get(key)
        if store is None:
            store_uri, artifact_root = resolve_store_uri(uri)
            factory = registry.lookup("tracking_store", scheme_of(store_uri))
            store = factory(store_uri, artifact_root)
            journal_dir = get_journal_dir()
            if journal_dir and scheme_of(store_uri) in ("http", "https"):
                from fluvial.store.tracking.journal import open_journal_store

                store = open_journal_store(store, journal_dir)
            _stores[key] = store
    return store


def get_registry_store(uri: str | None = None) -> RegistryStore:
    """The (cached) model registry store for a registry URI (default: the registry URI, which
    defaults to the tracking URI): SQL URIs and local directories -> the SQL registry store on that
    database, ``http(s)`` -> the REST registry store."""
    uri = uri or get_registry_uri()
    key = _cache_key(uri)
    store = _registry_stores.get(key)
    if store is not None:
        return store
    with _lock:
        store = _registry_stores.get(key)
        if store is None:
            store_uri, _ = resolve_store_uri(uri)
            store = registry.lookup("registry_store", scheme_of(store_uri))(store_uri)
            _registry_stores[key] = store
    return store


def get_artifact_repository(artifact_uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """The artifact repository for a concrete artifact URI (``runs:/`` is resolved by the caller).

    ``mlflow-artifacts:`` URIs resolve against ``tracking_uri`` (the client's), else the current one."""
    scheme = scheme_of(artifact_uri)
    if scheme in ("runs", "models"):
        raise InvalidParameterValue(f"{scheme}:/ URIs must be resolved before opening a repository: {artifact_uri}")
    factory = registry.lookup("artifact_repository", scheme)
    if scheme == "mlflow-artifacts":
        return factory(artifact_uri, tracking_uri=tracking_uri or get_tracking_uri())
    return factory(artifact_uri)


def run_artifact_uri(run_artifact_root: str, artifact_path: str | None = None) -> str:
    return append_to_uri_path(run_artifact_root, artifact_path) if artifact_path else run_artifact_root
