"""Model registry endpoints, and the rule for model version sources.

A version's ``source`` is where anyone who loads the model (the server included, e.g. for UI
downloads) reads its files, so the server only accepts sources inside the artifact location of the
run given by ``run_id`` or inside its own artifact roots (the default artifact root, the proxied
``mlflow-artifacts:`` space, the artifacts destination, and the operator's
``--allowed-artifact-location`` prefixes). Local paths anywhere else, ``file:`` URIs with hosts or
that resolve elsewhere (symlinks included), ``..`` or ``.`` segments, percent-encoded variants of
those, and ``?``, ``#``, ``;``, backslashes and control characters are refused, whatever tags the
version carries (MLflow 2.22.5 skips its check for versions tagged ``mlflow.prompt.is_prompt``).
A ``runs:/`` source is stored as the run's artifact URI.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from fluvial._internal.paths import validate_relative_path
from fluvial._internal.uri import append_to_uri_path, is_file_uri, local_path
from fluvial.entities import ModelVersionTag, RegisteredModelTag
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    NotImplementedFeature,
    ResourceDoesNotExist,
)
from fluvial.server.config import Stores
from fluvial.server.handlers import handler
from fluvial.server.handlers.limits import check_search_args
from fluvial.store.registry.base import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    logged_model_id,
    parse_models_uri,
    split_models_uri,
)
from fluvial.tracking.registry_client import split_runs_uri
from fluvial.wire.registry_entities import model_version_to_json, registered_model_to_json

_REFUSED_CHARS = ("\\", "?", "#", ";")


def _registry(stores: Stores) -> Any:
    if stores.registry is None:
        raise NotImplementedFeature("This server has no model registry store.")
    return stores.registry


# ---- model version sources --------------------------------------------------------------------------
def _invalid_source(source: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid model version source: '{source}'. {why}")


def _decoded(source: str) -> str:
    text = source
    for _ in range(4):
        once = unquote(text)
        if once == text:
            return text
        text = once
    raise _invalid_source(source, "It is percent-encoded too many times.")


def _scheme(uri: str) -> str:
    parts = urlsplit(uri)
    return "" if len(parts.scheme) <= 1 else parts.scheme.lower()  # "" and Windows drive letters: a path


def _normalized(uri: str) -> str:
    scheme, sep, rest = uri.partition(":")
    return scheme.lower() + sep + rest if sep and _scheme(uri) else uri


def _within(source: str, root: str) -> bool:
    """Whether ``source`` (already free of ``..``) lies inside the artifact location ``root``."""
    if is_file_uri(source) != is_file_uri(root):
        return False
    if is_file_uri(source):
        try:
            path, base = local_path(source), local_path(root)
        except MlflowException:
            return False
        if not os.path.isabs(path) or not os.path.isabs(base):
            return False
        path, base = os.path.realpath(path), os.path.realpath(base)
        return path == base or path.startswith(base.rstrip(os.sep) + os.sep)
    source, root = _normalized(source), _normalized(root).rstrip("/")
    return source == root or source.startswith(root + "/")


def _server_roots(stores: Stores) -> list[str]:
    config = stores.config
    roots = [config.artifact_root, *(r for r in config.allowed_artifact_locations if r != "*")]
    if config.serve_artifacts:
        roots += ["mlflow-artifacts:/", config.resolved_destination()]
    return roots


def _runs_source(stores: Stores, source: str, run_id: str | None) -> tuple[str, str]:
    source_run, path = split_runs_uri(source)
    if run_id and run_id != source_run:
        raise _invalid_source(source, f"Its run does not match run_id '{run_id}'.")
    rel = validate_relative_path(path)
    root = stores.tracking.get_run(source_run).info.artifact_uri
    return (append_to_uri_path(root, rel) if rel else root), source_run


def _logged_model(stores: Stores, model_id: str) -> Any:
    from fluvial.server.handlers.logged_models import model_store

    return model_store(stores).get(model_id)


def check_source(stores: Stores, source: str, run_id: str | None) -> tuple[str, str | None, str | None]:
    """(source to store, run id, storage location or None) for a CreateModelVersion request;
    refuses unsafe sources. MLflow 3 logged-model sources (``models:/m-...``) are stored as given,
    with the logged model's artifact location as the storage location."""
    decoded = _decoded(source)
    if any(ch in decoded for ch in _REFUSED_CHARS) or any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        raise _invalid_source(source, "Sources must not contain '?', '#', ';', backslashes or control characters.")
    if any(segment in ("..", ".") for segment in decoded.split("/")):
        raise _invalid_source(
            source, "An absolute path must be provided without relative path references ('.' or '..')."
        )
    scheme = _scheme(decoded)
    if scheme == "runs":
        return (*_runs_source(stores, source, run_id), None)
    if scheme == "models":
        model_id = logged_model_id(source)
        if model_id is not None:
            try:
                logged = _logged_model(stores, model_id)
            except ResourceDoesNotExist as exc:
                raise _invalid_source(source, exc.message) from None
            return source, run_id or logged.source_run_id, logged.artifact_location
        parse_models_uri(split_models_uri(source)[0])  # a registered version: its location was checked
        return source, run_id, None
    if "*" in stores.config.allowed_artifact_locations and not is_file_uri(decoded):
        return source, run_id, None
    roots = _server_roots(stores)
    if run_id:
        try:
            roots.append(stores.tracking.get_run(run_id).info.artifact_uri)
        except ResourceDoesNotExist:
            pass  # a run of another tracking server: only the server's own roots count
    if all(any(_within(form, root) for root in roots) for form in {source, decoded}):
        return source, run_id, None
    raise _invalid_source(
        source,
        "A model version's source must lie inside the artifact location of the run given by run_id, or "
        "inside this server's artifact root.",
    )


# ---- registered models ----------------------------------------------------------------------------------
@handler("CreateRegisteredModel")
def create_registered_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    tags = [RegisteredModelTag(t["key"], t.get("value", "")) for t in req.get("tags", [])]
    model = _registry(stores).create_registered_model(req["name"], tags, req.get("description"))
    return {"registered_model": registered_model_to_json(model)}


@handler("GetRegisteredModel")
def get_registered_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"registered_model": registered_model_to_json(_registry(stores).get_registered_model(req["name"]))}


@handler("RenameRegisteredModel")
def rename_registered_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model = _registry(stores).rename_registered_model(req["name"], req["new_name"])
    return {"registered_model": registered_model_to_json(model)}


@handler("UpdateRegisteredModel")
def update_registered_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    model = _registry(stores).update_registered_model(req["name"], req.get("description"))
    return {"registered_model": registered_model_to_json(model)}


@handler("DeleteRegisteredModel")
def delete_registered_model(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).delete_registered_model(req["name"])
    return {}


def _paged(page: Any, key: str, encode: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if page:
        out[key] = [encode(item) for item in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@handler("SearchRegisteredModels")
def search_registered_models(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    order_by = req.get("order_by", [])
    check_search_args(stores.config, req.get("filter"), order_by)
    page = _registry(stores).search_registered_models(
        req.get("filter"), req.get("max_results", SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT), order_by,
        req.get("page_token"),
    )
    return _paged(page, "registered_models", registered_model_to_json)


@handler("GetLatestVersions")
def get_latest_versions(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    versions = _registry(stores).get_latest_versions(req["name"], req.get("stages") or None)
    return {"model_versions": [model_version_to_json(mv) for mv in versions]} if versions else {}


@handler("SetRegisteredModelTag")
def set_registered_model_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).set_registered_model_tag(req["name"], RegisteredModelTag(req["key"], req.get("value", "")))
    return {}


@handler("DeleteRegisteredModelTag")
def delete_registered_model_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).delete_registered_model_tag(req["name"], req["key"])
    return {}


@handler("SetRegisteredModelAlias")
def set_registered_model_alias(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).set_registered_model_alias(req["name"], req["alias"], req["version"])
    return {}


@handler("DeleteRegisteredModelAlias")
def delete_registered_model_alias(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).delete_registered_model_alias(req["name"], req["alias"])
    return {}


@handler("GetModelVersionByAlias")
def get_model_version_by_alias(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": model_version_to_json(
        _registry(stores).get_model_version_by_alias(req["name"], req["alias"]))}


# ---- model versions ---------------------------------------------------------------------------------------
@handler("CreateModelVersion")
def create_model_version(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(stores)
    registry.get_registered_model(req["name"])  # a missing model is reported before the source
    source, run_id, location = check_source(stores, req["source"], req.get("run_id") or None)
    if not run_id and req.get("model_id"):  # MLflow 3: the logged model's run
        try:
            run_id = _logged_model(stores, req["model_id"]).source_run_id
        except MlflowException:
            pass
    tags = [ModelVersionTag(t["key"], t.get("value", "")) for t in req.get("tags", [])]
    version = registry.create_model_version(
        req["name"], source, run_id, tags, req.get("run_link") or None, req.get("description"),
        storage_location=location,
    )
    return {"model_version": model_version_to_json(version)}


@handler("GetModelVersion")
def get_model_version(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": model_version_to_json(_registry(stores).get_model_version(req["name"], req["version"]))}


@handler("UpdateModelVersion")
def update_model_version(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    version = _registry(stores).update_model_version(req["name"], req["version"], req.get("description"))
    return {"model_version": model_version_to_json(version)}


@handler("TransitionModelVersionStage")
def transition_model_version_stage(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    version = _registry(stores).transition_model_version_stage(
        req["name"], req["version"], req["stage"], bool(req.get("archive_existing_versions", False))
    )
    return {"model_version": model_version_to_json(version)}


@handler("DeleteModelVersion")
def delete_model_version(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).delete_model_version(req["name"], req["version"])
    return {}


@handler("SearchModelVersions")
def search_model_versions(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    order_by = req.get("order_by", [])
    check_search_args(stores.config, req.get("filter"), order_by)
    page = _registry(stores).search_model_versions(
        req.get("filter"), req.get("max_results", SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD), order_by,
        req.get("page_token"),
    )
    return _paged(page, "model_versions", model_version_to_json)


@handler("GetModelVersionDownloadUri")
def get_model_version_download_uri(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    return {"artifact_uri": _registry(stores).get_model_version_download_uri(req["name"], req["version"])}


@handler("SetModelVersionTag")
def set_model_version_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).set_model_version_tag(req["name"], req["version"], ModelVersionTag(req["key"], req.get("value", "")))
    return {}


@handler("DeleteModelVersionTag")
def delete_model_version_tag(stores: Stores, req: dict[str, Any]) -> dict[str, Any]:
    _registry(stores).delete_model_version_tag(req["name"], req["version"], req["key"])
    return {}
