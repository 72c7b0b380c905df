"""Model URIs to local directories: local paths and ``file:`` in place; ``runs:/``, ``models:/``,
``mlflow-artifacts:``, ``http(s)``, ``s3`` downloaded."""

from __future__ import annotations

import os
import tempfile

from fluvial._internal.uri import local_path, scheme_of
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist


def resolve_models_uri(model_uri: str) -> str:
    """The artifact URI a ``models:/`` URI points at (through the model registry)."""
    from fluvial.models.registry_hook import resolve_models_uri as resolve

    return resolve(model_uri)


def download_model(model_uri: str, dst_path: str | None = None) -> str:
    """A local directory (or file) holding what ``model_uri`` names."""
    model_uri = os.fspath(model_uri)
    scheme = scheme_of(model_uri)
    if scheme in ("", "file"):
        path = os.path.abspath(local_path(model_uri))
        if not os.path.exists(path):
            raise ResourceDoesNotExist(f"No model at {model_uri!r}: the path does not exist.")
        return path
    from fluvial import artifacts

    if scheme == "models":
        resolved = resolve_models_uri(model_uri)
        target = artifacts.download_artifacts(artifact_uri=resolved, dst_path=dst_path or tempfile.mkdtemp(
            prefix="fluvial-model-"))
        from fluvial.models.registry_hook import write_registered_model_meta

        write_registered_model_meta(model_uri, target)
        return target
    if scheme == "runs":
        rest = model_uri[len("runs:"):].lstrip("/")
        if not rest.partition("/")[0]:
            raise InvalidParameterValue(f"Not a proper runs:/ URI: {model_uri}. Runs URIs must be of the form "
                                        "'runs:/<run_id>/run-relative/path/to/artifact'")
    return artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst_path or tempfile.mkdtemp(
        prefix="fluvial-model-"))


def download_model_file(model_uri: str) -> str:
    """Download just the MLmodel file of a remote model (or the whole model when it is local)."""
    from fluvial.models.model import MLMODEL_FILE_NAME

    uri = model_uri.rstrip("/")
    if uri.endswith("/" + MLMODEL_FILE_NAME):
        return download_model(uri)
    try:
        return download_model(f"{uri}/{MLMODEL_FILE_NAME}")
    except ResourceDoesNotExist:
        return download_model(uri)
