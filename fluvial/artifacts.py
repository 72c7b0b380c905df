"""``fluvial.artifacts``: download, list and read artifacts by run id or artifact URI."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from fluvial._internal.uri import scheme_of
from fluvial.entities import FileInfo
from fluvial.exceptions import InvalidParameterValue
from fluvial.tracking import _stores
from fluvial.tracking.client import MlflowClient


def _split_runs_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("runs:"):].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(f"Not a valid runs:/ URI: {uri!r}. Expected runs:/<run_id>/<path>")
    return run_id, path


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Download a file or directory to ``dst_path`` (a temp dir by default); the local path."""
    if artifact_uri is not None and (run_id is not None or artifact_path is not None):
        raise InvalidParameterValue(
            "Either ``artifact_uri`` or ``run_id`` must be specified, but not both. If ``artifact_path`` is "
            "specified, ``run_id`` must also be specified."
        )
    if artifact_uri is None and run_id is None:
        raise InvalidParameterValue("Either ``artifact_uri`` or ``run_id`` must be specified.")
    if artifact_uri is not None and scheme_of(artifact_uri) == "runs":
        run_id, artifact_path = _split_runs_uri(artifact_uri)
        artifact_uri = None
    if artifact_uri is not None and scheme_of(artifact_uri) == "models":
        from fluvial.tracking.registry import download_models_uri

        return download_models_uri(artifact_uri, dst_path)
    if run_id is not None:
        return MlflowClient(tracking_uri).download_artifacts(run_id, artifact_path or "", dst_path)
    assert artifact_uri is not None
    parent, name = _split_parent(artifact_uri)
    if name is None:
        return _stores.get_artifact_repository(artifact_uri, tracking_uri).download_artifacts("", dst_path)
    return _stores.get_artifact_repository(parent, tracking_uri).download_artifacts(name, dst_path)


def _split_parent(uri: str) -> tuple[str, str | None]:
    """(parent URI, last path segment); segment None when the URI has no path to split."""
    trimmed = uri.rstrip("/")
    head, sep, tail = trimmed.rpartition("/")
    if not sep or not tail or head.endswith(":") or head.endswith(":/") or head == "":
        return uri, None
    return head, tail


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    if artifact_uri is not None and scheme_of(artifact_uri) == "runs":
        run_id, artifact_path = _split_runs_uri(artifact_uri)
        artifact_uri = None
    if run_id is not None:
        return MlflowClient(tracking_uri).list_artifacts(run_id, artifact_path)
    if artifact_uri is None:
        raise InvalidParameterValue("Either ``artifact_uri`` or ``run_id`` must be specified.")
    return _stores.get_artifact_repository(artifact_uri, tracking_uri).list_artifacts(artifact_path)


def load_text(artifact_uri: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = download_artifacts(artifact_uri=artifact_uri, dst_path=tmp)
        if not os.path.isfile(path):
            raise InvalidParameterValue(f"{artifact_uri!r} is not a file")
        with open(path, encoding="utf-8") as fh:
            return fh.read()


def load_dict(artifact_uri: str) -> Any:
    text = load_text(artifact_uri)
    if artifact_uri.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidParameterValue(f"Unable to form a JSON object from file content: {exc}") from None


def load_image(artifact_uri: str) -> Any:
    from fluvial._internal.lazy import require

    Image = require("PIL.Image", "dev")
    with tempfile.TemporaryDirectory() as tmp:
        path = download_artifacts(artifact_uri=artifact_uri, dst_path=tmp)
        with Image.open(path) as img:
            img.load()
            return img
