"""Where models meet the model registry: ``registered_model_name=`` and ``models:/`` URIs.

The registry is reached through the client layer by name, so models stay independent of it."""

from __future__ import annotations

import os

from fluvial.exceptions import NotImplementedFeature

REGISTERED_MODEL_META = "registered_model_meta"


def _registry() -> object:
    import importlib

    try:
        return importlib.import_module("fluvial.tracking.registry")
    except ImportError:
        raise NotImplementedFeature(
            "The model registry is not available in this version of fluvial: registered_model_name= and "
            "models:/ URIs need it. Log the model without registered_model_name and load it by its runs:/ URI."
        ) from None


def check_registry_available() -> None:
    _registry()


def register_logged_model(model_uri: str, name: str, await_registration_for: int) -> int:
    registry = _registry()
    version = registry.register_model(model_uri, name, await_registration_for=await_registration_for)  # type: ignore[attr-defined]
    return int(version.version)


def resolve_models_uri(model_uri: str) -> str:
    registry = _registry()
    return registry.download_uri_for(model_uri)  # type: ignore[attr-defined, no-any-return]


def write_registered_model_meta(model_uri: str, local_dir: str) -> None:
    """``registered_model_meta`` (name and version) in a model downloaded through ``models:/``."""
    if not os.path.isdir(local_dir) or not os.path.isfile(os.path.join(local_dir, "MLmodel")):
        return
    registry = _registry()
    name, version = registry.name_and_version(model_uri)  # type: ignore[attr-defined]
    import yaml

    with open(os.path.join(local_dir, REGISTERED_MODEL_META), "w", encoding="utf-8") as fh:
        yaml.safe_dump({"model_name": name, "model_version": str(version)}, fh, default_flow_style=False)
