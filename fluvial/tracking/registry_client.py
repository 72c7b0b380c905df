"""The model-registry half of ``MlflowClient`` (MLflow 2.22.5's method names and signatures).

Versions registered from a ``runs:/<run_id>/<path>`` source are stored with the run's resolved
artifact URI as their source (and the run id), so they keep working whoever reads them later.
Stage methods work without deprecation warnings: fluvial keeps stages.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fluvial.entities import ModelVersion, ModelVersionTag, PagedList, RegisteredModel, RegisteredModelTag
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from fluvial.store.registry.base import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    ModelsUri,
    RegistryStore,
    parse_models_uri,
    split_models_uri,
)

DEFAULT_AWAIT_MAX_SLEEP_SECONDS = 300
_POLL_SECONDS = 1.0


def split_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> (run_id, path)."""
    rest = uri[len("runs:"):].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Not a proper runs:/ URI: {uri}. Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'"
        )
    return run_id, path.strip("/")


def _tag_list(tags: dict[str, Any] | None, cls: Any) -> list[Any]:
    return [cls(str(k), str(v)) for k, v in (tags or {}).items()]


class RegistryClient:
    """Registry methods of ``MlflowClient``; the store comes from the registry URI (default: the
    tracking URI), resolved on first use."""

    _registry_uri: str
    _registry_store_cache: Any = None

    @property
    def _registry_store(self) -> RegistryStore:
        if self._registry_store_cache is None:
            from fluvial.tracking import _stores

            self._registry_store_cache = _stores.get_registry_store(self._registry_uri)
        return self._registry_store_cache  # type: ignore[no-any-return]

    # ---- registered models ---------------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self._registry_store.create_registered_model(name, _tag_list(tags, RegisteredModelTag), description)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        if not isinstance(new_name, str) or new_name.strip() == "":
            raise InvalidParameterValue("The name must not be an empty string.")
        return self._registry_store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self._registry_store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self._registry_store.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self._registry_store.search_registered_models(filter_string, max_results, order_by, page_token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registry_store.get_registered_model(name)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self._registry_store.get_latest_versions(name, stages)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._registry_store.set_registered_model_tag(name, RegisteredModelTag(key, str(value)))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._registry_store.delete_registered_model_tag(name, key)

    # ---- model versions ------------------------------------------------------------------------
    def _resolve_source(self, source: str, run_id: str | None) -> tuple[str, str | None]:
        """(source to store, run id): a ``runs:/`` source becomes the run's artifact URI, a relative
        local path an absolute one (the registry outlives the working directory)."""
        source = os.fspath(source)
        if source[:5].lower() != "runs:":
            from fluvial._internal.uri import is_local_path

            if source and is_local_path(source) and not os.path.isabs(source):
                source = os.path.abspath(source)
            return source, run_id
        from fluvial._internal.paths import validate_relative_path
        from fluvial._internal.uri import append_to_uri_path

        source_run, path = split_runs_uri(source)
        if run_id and run_id != source_run:
            raise InvalidParameterValue(
                f"The run_id {run_id!r} does not match the run of the source {source!r}."
            )
        root = self._store.get_run(source_run).info.artifact_uri  # type: ignore[attr-defined]
        rel = validate_relative_path(path)
        return (append_to_uri_path(root, rel) if rel else root), source_run

    def _await_ready(self, mv: ModelVersion, await_creation_for: int | None) -> ModelVersion:
        if not await_creation_for or mv.status != "PENDING_REGISTRATION":
            return mv
        deadline = time.monotonic() + float(await_creation_for)
        while mv.status == "PENDING_REGISTRATION" and time.monotonic() < deadline:
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            mv = self._registry_store.get_model_version(mv.name, mv.version)
        if mv.status != "READY":
            raise MlflowException(
                f"Model version creation failed for model name: {mv.name} version: {mv.version} "
                f"with status: {mv.status} and message: {mv.status_message}"
            )
        return mv

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
    ) -> ModelVersion:
        source, run_id = self._resolve_source(source, run_id)
        mv = self._registry_store.create_model_version(
            name, source, run_id, _tag_list(tags, ModelVersionTag), run_link, description
        )
        return self._await_ready(mv, await_creation_for)

    def _create_model_version(self, name: str, source: str, run_id: str | None = None,
                              tags: dict[str, Any] | None = None, run_link: str | None = None,
                              description: str | None = None,
                              await_creation_for: int = DEFAULT_AWAIT_MAX_SLEEP_SECONDS,
                              local_model_path: str | None = None) -> ModelVersion:
        return self.create_model_version(name, source, run_id, tags, run_link, description, await_creation_for)

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Register the version ``src_model_uri`` names as a new version of ``dst_name`` (created
        when missing), with the source's run, tags, link and description."""
        if str(src_model_uri)[:7].lower() != "models:":
            raise InvalidParameterValue(
                f"Unsupported source model URI: '{src_model_uri}'. The `copy_model_version` API only copies "
                "models stored in the 'models:/' scheme."
            )
        try:
            src_name, src_version = self._name_and_version(src_model_uri)
            src = self.get_model_version(src_name, src_version)  # type: ignore[arg-type]
        except MlflowException as exc:
            raise MlflowException(
                f"Failed to fetch model version from source model URI: '{src_model_uri}'. Error: {exc.message}",
                error_code=exc.error_code,
            ) from None
        try:
            self.create_registered_model(dst_name)
        except ResourceAlreadyExists:
            pass
        return self._registry_store.create_model_version(
            dst_name, f"models:/{src.name}/{src.version}", src.run_id,
            [ModelVersionTag(k, v) for k, v in src.tags.items()], src.run_link, src.description,
        )

    def update_model_version(self, name: str, version: str, description: str | None = None) -> ModelVersion:
        return self._registry_store.update_model_version(name, version, description)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self._registry_store.transition_model_version_stage(name, version, stage, archive_existing_versions)

    def delete_model_version(self, name: str, version: str) -> None:
        self._registry_store.delete_model_version(name, version)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self._registry_store.get_model_version(name, version)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self._registry_store.get_model_version_download_uri(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self._registry_store.search_model_versions(filter_string, max_results, order_by, page_token)

    def get_model_version_stages(self, name: str, version: str) -> list[str]:
        return self._registry_store.get_model_version_stages(name, version)

    def _version_for(self, name: str, version: str | None, stage: str | None) -> str | int:
        if version and stage:
            raise InvalidParameterValue("version and stage cannot be set together")
        if not (version or stage):
            raise InvalidParameterValue("version or stage must be set")
        if version:
            return version
        latest = self.get_latest_versions(name, [stage])  # type: ignore[list-item]
        if not latest:
            raise ResourceDoesNotExist(f"Could not find any model version for {stage} stage")
        return latest[0].version

    def set_model_version_tag(
        self, name: str, version: str | None = None, key: str | None = None, value: Any = None,
        stage: str | None = None,
    ) -> None:
        number = self._version_for(name, version, stage)
        self._registry_store.set_model_version_tag(name, number, ModelVersionTag(key, str(value)))  # type: ignore[arg-type]

    def delete_model_version_tag(
        self, name: str, version: str | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        number = self._version_for(name, version, stage)
        self._registry_store.delete_model_version_tag(name, number, key)  # type: ignore[arg-type]

    # ---- aliases -------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._registry_store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry_store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._registry_store.get_model_version_by_alias(name, alias)

    # ---- models:/ URIs ---------------------------------------------------------------------------
    def _version_of(self, ref: ModelsUri) -> int:
        """The version a parsed ``models:/`` URI names (by number, alias, stage or ``latest``)."""
        if ref.version is not None:
            return ref.version
        if ref.alias is not None:
            return self.get_model_version_by_alias(ref.name, ref.alias).version
        latest = self.get_latest_versions(ref.name, None if ref.stage is None else [ref.stage])
        if not latest:
            stage = "" if ref.stage is None else f" and stage '{ref.stage}'"
            raise ResourceDoesNotExist(f"No versions of model with name '{ref.name}'{stage} found")
        return max(int(v.version) for v in latest)

    def _name_and_version(self, model_uri: str) -> tuple[str, int]:
        base, _ = split_models_uri(model_uri)
        ref = parse_models_uri(base)
        return ref.name, self._version_of(ref)
