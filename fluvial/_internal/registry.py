"""Registries of implementations by URI scheme or name, as dotted-path strings resolved on first use.

Built-ins are registered exactly like third-party plugins; entry points (``fluvial.<kind>``) are scanned
only when a name is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from fluvial.exceptions import InvalidParameterValue

_REGISTRIES: dict[str, dict[str, str]] = {
    # tracking store factories: callable(store_uri, artifact_uri) -> TrackingStore
    "tracking_store": {
        "sqlite": "fluvial.store.tracking.sql.store:SqlTrackingStore",
        "postgresql": "fluvial.store.tracking.sql.store:SqlTrackingStore",
        "mysql": "fluvial.store.tracking.sql.store:SqlTrackingStore",
        "mssql": "fluvial.store.tracking.sql.store:SqlTrackingStore",
        "http": "fluvial.store.tracking.rest:RestTrackingStore",
        "https": "fluvial.store.tracking.rest:RestTrackingStore",
    },
    # model registry store factories: callable(store_uri) -> RegistryStore
    "registry_store": {
        "sqlite": "fluvial.store.registry.sql:SqlRegistryStore",
        "postgresql": "fluvial.store.registry.sql:SqlRegistryStore",
        "mysql": "fluvial.store.registry.sql:SqlRegistryStore",
        "mssql": "fluvial.store.registry.sql:SqlRegistryStore",
        "http": "fluvial.store.registry.rest:RestRegistryStore",
        "https": "fluvial.store.registry.rest:RestRegistryStore",
    },
    # the client layer's current tracking URI, for lower layers (mlflow-artifacts: URI resolution)
    "tracking_uri": {"current": "fluvial.tracking._stores:get_tracking_uri"},
    # artifact repositories: callable(artifact_uri) -> ArtifactRepository
    "artifact_repository": {
        "": "fluvial.store.artifact.local:LocalArtifactRepository",
        "file": "fluvial.store.artifact.local:LocalArtifactRepository",
        "mlflow-artifacts": "fluvial.store.artifact.http:HttpArtifactRepository",
        "http": "fluvial.store.artifact.http:HttpArtifactRepository",
        "https": "fluvial.store.artifact.http:HttpArtifactRepository",
        "s3": "fluvial.store.artifact.s3:S3ArtifactRepository",
    },
}
_SCANNED: set[str] = set()


def register(kind: str, name: str, target: str) -> None:
    """Register ``target`` ("package.module:attr") for ``name`` under ``kind``."""
    _REGISTRIES.setdefault(kind, {})[name] = target


def _scan_entry_points(kind: str) -> None:
    if kind in _SCANNED:
        return
    _SCANNED.add(kind)
    from importlib.metadata import entry_points

    for ep in entry_points(group=f"fluvial.{kind}"):
        _REGISTRIES.setdefault(kind, {}).setdefault(ep.name, ep.value)


def lookup(kind: str, name: str) -> Any:
    """The object registered for ``name``; InvalidParameterValue listing the known names if none."""
    table = _REGISTRIES.setdefault(kind, {})
    if name not in table:
        _scan_entry_points(kind)
    target = table.get(name)
    if target is None:
        known = ", ".join(repr(k) for k in sorted(table) if k)
        raise InvalidParameterValue(f"No {kind.replace('_', ' ')} is registered for {name!r}. Known: {known}.")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def names(kind: str) -> list[str]:
    return sorted(_REGISTRIES.get(kind, {}))
