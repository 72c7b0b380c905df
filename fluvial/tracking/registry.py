"""The registry's fluent API (``register_model``, ``search_registered_models``,
``search_model_versions``) and ``models:/`` URIs: which version a URI names, where its files are, and
downloading it with its ``registered_model_meta``.

``models:/<name>/<version>``, ``models:/<name>/<stage>`` (any case; the highest version in it),
``models:/<name>/latest`` (any case; the highest version), ``models:/<name>@<alias>``, each optionally
followed by ``/<path inside the model>``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fluvial.entities import ModelVersion, RegisteredModel
from fluvial.exceptions import MlflowException, ResourceAlreadyExists
from fluvial.store.registry.base import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    check_tag,
    parse_models_uri,
    split_models_uri,
)
from fluvial.tracking.registry_client import DEFAULT_AWAIT_MAX_SLEEP_SECONDS, RegistryClient

REGISTERED_MODEL_META = "registered_model_meta"
_MAX_PAGES = 100_000


def _eprint(message: str) -> None:
    print(message, file=sys.stderr)


def _client() -> Any:
    from fluvial.tracking.client import MlflowClient

    return MlflowClient()


class _Registry(RegistryClient):
    """Registry access without opening a tracking store (for resolving ``models:/`` URIs)."""

    def __init__(self, registry_uri: str | None = None) -> None:
        from fluvial.tracking import _stores

        self._registry_uri = registry_uri or _stores.get_registry_uri()


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
    *,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` (``runs:/``, ``models:/``, or any artifact URI or local path)
    as a new version of ``name``, creating the registered model when it does not exist yet.

    Input is checked before anything is created; if the version cannot be created, a registered
    model created by this call is removed again."""
    client = _client()
    tag_map = {str(k): str(v) for k, v in (tags or {}).items()}
    for key, value in tag_map.items():
        check_tag(key, value, model_version=True)
    source, run_id = client._resolve_source(os.fspath(model_uri), None)
    created = False
    try:
        client.create_registered_model(name)
        created = True
        _eprint(f"Successfully registered model '{name}'.")
    except ResourceAlreadyExists:
        _eprint(f"Registered model {name!r} already exists. Creating a new version of this model...")
    except MlflowException as exc:
        if exc.error_code != "ALREADY_EXISTS":
            raise
    try:
        mv = client.create_model_version(name, source, run_id, tag_map, await_creation_for=await_registration_for)
    except MlflowException:
        if created:
            _remove_if_empty(client, name)
        raise
    _eprint(f"Created version '{mv.version}' of model '{mv.name}'.")
    return mv  # type: ignore[no-any-return]


def _remove_if_empty(client: Any, name: str) -> None:
    try:
        if not client.get_registered_model(name).latest_versions:
            client.delete_registered_model(name)
    except MlflowException:
        pass


def _paged(fetch: Any, page_size: int, max_results: int | None) -> list[Any]:
    out: list[Any] = []
    token = None
    for _ in range(_MAX_PAGES):
        want = page_size if max_results is None else min(page_size, max_results - len(out))
        if want <= 0:
            break
        page = fetch(want, token)
        out.extend(page)
        token = page.token
        if not token:
            break
    return out


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[RegisteredModel]:
    """All registered models matching ``filter_string`` (or the first ``max_results``)."""
    client = _Registry()
    return _paged(lambda n, token: client.search_registered_models(filter_string, n, order_by, token),
                  SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD, max_results)


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[ModelVersion]:
    """All model versions matching ``filter_string`` (or the first ``max_results``)."""
    client = _Registry()
    return _paged(lambda n, token: client.search_model_versions(filter_string, n, order_by, token),
                  SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT, max_results)


# ---- models:/ URIs ----------------------------------------------------------------------------------
def name_and_version(model_uri: str) -> tuple[str, str]:
    """(registered model name, version as a string) that a ``models:/`` URI names."""
    name, version = _Registry()._name_and_version(model_uri)
    return name, str(version)


def download_uri_for(model_uri: str) -> str:
    """The artifact URI of what a ``models:/`` URI names (the version's location, plus any sub-path)."""
    from fluvial._internal.paths import validate_relative_path
    from fluvial._internal.uri import append_to_uri_path

    base, sub = split_models_uri(model_uri)
    ref = parse_models_uri(base)
    registry = _Registry()
    location = registry.get_model_version_download_uri(ref.name, registry._version_of(ref))
    rel = validate_relative_path(sub)
    return append_to_uri_path(location, rel) if rel else location


def write_registered_model_meta(model_uri: str, local_dir: str) -> None:
    """``registered_model_meta`` (name and version) in a model directory downloaded via ``models:/``."""
    if not os.path.isdir(local_dir) or not os.path.isfile(os.path.join(local_dir, "MLmodel")):
        return
    name, version = name_and_version(model_uri)
    with open(os.path.join(local_dir, REGISTERED_MODEL_META), "w", encoding="utf-8") as fh:
        fh.write(f"model_name: {_yaml_scalar(name)}\nmodel_version: '{version}'\n")


def _yaml_scalar(text: str) -> str:
    """A YAML plain or single-quoted scalar for ``text`` (no YAML library needed for two keys)."""
    plain = text and text.strip() == text and text[0].isalnum() and all(ch.isalnum() or ch in "-_." for ch in text)
    if plain and text.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "none", "~"):
        try:
            float(text)
        except ValueError:
            return text
    return "'" + text.replace("'", "''") + "'"


def download_models_uri(model_uri: str, dst_path: str | None = None) -> str:
    """Download what a ``models:/`` URI names; a model directory gets its ``registered_model_meta``."""
    from fluvial import artifacts

    local = artifacts.download_artifacts(artifact_uri=download_uri_for(model_uri), dst_path=dst_path)
    write_registered_model_meta(model_uri, local)
    return local


__all__ = [
    "download_models_uri",
    "download_uri_for",
    "name_and_version",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "write_registered_model_meta",
]
