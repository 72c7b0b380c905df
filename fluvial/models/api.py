"""Model-level helpers users call by name: ``get_model_info``, ``set_signature``."""

from __future__ import annotations

from typing import Any

from fluvial.exceptions import InvalidParameterValue
from fluvial.models.model import Model, ModelInfo


def get_model_info(model_uri: str) -> ModelInfo:
    """The ``ModelInfo`` of a saved or logged model, from its MLmodel file."""
    meta = Model.load(model_uri)
    info = meta.get_model_info()
    if not info.model_uri:
        info.model_uri = model_uri
    return info


def set_signature(model_uri: str, signature: Any) -> None:
    """Replace the signature in a local model's MLmodel file (remote models: download, set, re-log)."""
    import os

    from fluvial._internal.uri import is_file_uri, local_path

    if not is_file_uri(model_uri):
        raise InvalidParameterValue(
            "set_signature works on local model directories; download the model, set the signature, and log it again."
        )
    path = os.path.join(local_path(model_uri), "MLmodel")
    meta = Model.load(path)
    meta.signature = signature
    meta.save(path)



def infer_pip_requirements(
    model_uri: str,
    flavor: str,
    fallback: list[str] | None = None,
    timeout: float | None = None,
    extra_env_vars: dict[str, str] | None = None,
) -> list[str]:
    """The pip requirements of a saved or logged model (any URI ``download_artifacts`` accepts), from
    the modules a fresh interpreter imports while loading it; ``fallback`` is returned when that fails
    (None: the failure is raised). ``flavor`` names the model's flavor as in MLflow; the model is
    loaded through pyfunc whatever it is."""
    from fluvial.artifacts import download_artifacts
    from fluvial.models.infer_requirements import infer_pip_requirements as infer

    local = download_artifacts(artifact_uri=model_uri)
    return infer(local, flavor, fallback=fallback, timeout=timeout, extra_env_vars=extra_env_vars)
