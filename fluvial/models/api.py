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

