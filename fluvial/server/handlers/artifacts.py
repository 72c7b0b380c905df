"""Run artifact listing through the tracking API (``/mlflow/artifacts/list``)."""

from __future__ import annotations

from typing import Any

from fluvial._internal import registry
from fluvial._internal.paths import validate_relative_path
from fluvial._internal.uri import scheme_of
from fluvial.exceptions import InvalidParameterValue
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.runs import run_id_of
from fluvial.store.artifact.base import ArtifactRepository
from fluvial.wire.entities import file_info_to_json

PROXY_SCHEME = "mlflow-artifacts"


def run_artifact_repository(stores: Stores, artifact_uri: str) -> ArtifactRepository:
    """The repository holding a run's artifacts, as the server sees them.

    ``mlflow-artifacts:/<path>`` roots live in the server's artifacts destination; other roots are
    opened directly (the server must be able to reach them)."""
    scheme = scheme_of(artifact_uri)
    if scheme == PROXY_SCHEME or (scheme in ("http", "https") and "/mlflow-artifacts/artifacts" in artifact_uri):
        if stores.artifacts is None:
            raise InvalidParameterValue(
                "This run's artifacts are served by the tracking server, but this server runs with "
                "--no-serve-artifacts."
            )
        tail = artifact_uri.split("/mlflow-artifacts/artifacts", 1)[1] if scheme != PROXY_SCHEME else (
            artifact_uri.split(":", 1)[1]
        )
        if tail.startswith("//"):  # mlflow-artifacts://host:port/path
            tail = "/" + tail[2:].partition("/")[2]
        rel = validate_relative_path(tail.lstrip("/"))
        return SubRepository(stores.artifacts, rel)
    return registry.lookup("artifact_repository", scheme)(artifact_uri)


class SubRepository(ArtifactRepository):
    """A view of a sub-directory of another repository."""

    def __init__(self, parent: ArtifactRepository, prefix: str) -> None:
        super().__init__(parent.artifact_uri.rstrip("/") + "/" + prefix)
        self.parent, self.prefix = parent, prefix

    def _full(self, path: str | None) -> str:
        rel = validate_relative_path(path)
        return f"{self.prefix}/{rel}" if rel else self.prefix

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        self.parent.log_artifact(local_file, self._full(artifact_path))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self.parent.log_artifacts(local_dir, self._full(artifact_path))

    def list_artifacts(self, path: str | None = None) -> list:
        strip = len(self.prefix) + 1
        return [type(f)(f.path[strip:], f.is_dir, f.file_size) for f in self.parent.list_artifacts(self._full(path))]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        self.parent._download_file(self._full(remote_file_path), local_path)

    def _is_dir(self, path: str) -> bool:
        return self.parent._is_dir(self._full(path))

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self.parent.delete_artifacts(self._full(artifact_path))


@handler("ListArtifacts")
def list_artifacts(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    run = stores.tracking.get_run(run_id_of(req))
    path = validate_relative_path(req.get("path"))
    repo = run_artifact_repository(stores, run.info.artifact_uri)
    files = repo.list_artifacts(path or None)
    out: dict[str, Any] = {"root_uri": run.info.artifact_uri}
    if files:
        out["files"] = [file_info_to_json(f) for f in files]
    return out
