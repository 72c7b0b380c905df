"""What a server is configured with, and the stores it serves, built once per worker process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BACKEND = "sqlite:///mlflow.db"
DEFAULT_ARTIFACTS_DESTINATION = "./mlartifacts"
PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"


@dataclass(frozen=True)
class ServerConfig:
    backend_store_uri: str = DEFAULT_BACKEND
    registry_store_uri: str | None = None
    default_artifact_root: str | None = None
    artifacts_destination: str = DEFAULT_ARTIFACTS_DESTINATION
    serve_artifacts: bool = True
    artifacts_only: bool = False
    static_prefix: str = ""
    # hardening beyond MLflow 2.x
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    cors_allowed_origins: tuple[str, ...] = ()
    allowed_artifact_locations: tuple[str, ...] = ()  # extra prefixes experiments may point at ("*" = any)
    max_request_bytes: int = 16 * 1024 * 1024  # JSON API bodies; artifact uploads stream without a cap
    max_filter_length: int = 10_000
    max_order_by_clauses: int = 20
    # --app-name basic-auth: users and permissions (fluvial/server/auth), configured by this ini file
    app_name: str | None = None
    auth_config_path: str | None = None

    @property
    def artifact_root(self) -> str:
        """Where new experiments' artifacts go (their ``artifact_location`` prefix)."""
        if self.default_artifact_root:
            return self.default_artifact_root
        if self.serve_artifacts:
            return PROXY_ARTIFACT_ROOT
        return os.path.abspath(DEFAULT_ARTIFACTS_DESTINATION)

    def resolved_destination(self) -> str:
        dest = self.artifacts_destination
        return os.path.abspath(dest) if "://" not in dest and not dest.startswith("file:") else dest


@dataclass
class Stores:
    """The stores a server serves. Handlers get this and nothing else."""

    config: ServerConfig
    tracking: Any  # TrackingStore
    artifacts: Any = None  # ArtifactRepository at the artifacts destination (None: not serving)
    registry: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def build_stores(config: ServerConfig) -> Stores:
    """Open the stores for a worker: the SQL tracking store, the model registry store (the backend
    store's database unless ``--registry-store-uri`` names another) and the proxied artifact
    destination."""
    from fluvial._internal import registry
    from fluvial._internal.uri import scheme_of
    from fluvial.tracking._stores import resolve_store_uri

    store_uri, _ = resolve_store_uri(config.backend_store_uri)  # a plain path means a local directory
    tracking = registry.lookup("tracking_store", scheme_of(store_uri))(store_uri, config.artifact_root)
    registry_uri, _ = resolve_store_uri(config.registry_store_uri or config.backend_store_uri)
    registry_store = registry.lookup("registry_store", scheme_of(registry_uri))(registry_uri)
    artifacts = None
    if config.serve_artifacts:
        dest = config.resolved_destination()
        artifacts = registry.lookup("artifact_repository", scheme_of(dest))(dest)
    stores = Stores(config=config, tracking=tracking, artifacts=artifacts, registry=registry_store)
    if config.app_name is not None:
        from fluvial.server.auth.setup import attach

        attach(stores)
    return stores
