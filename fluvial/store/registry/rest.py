"""The REST registry store: ``http(s)://`` registry URIs, talking MLflow's registry API to a
``fluvial server`` or an ``mlflow server``. Input is checked with the same rules as the SQL store
before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fluvial.entities import ModelVersion, ModelVersionTag, PagedList, RegisteredModel, RegisteredModelTag
from fluvial.exceptions import EndpointNotFound, MlflowException
from fluvial.store.registry.base import (
    MAX_DESCRIPTION_LENGTH,
    MAX_RUN_ID_LENGTH,
    MAX_RUN_LINK_LENGTH,
    MAX_SOURCE_LENGTH,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    RegistryStore,
    check_alias,
    check_model_name,
    check_stage,
    check_tag,
    check_text,
    check_version,
)
from fluvial.store.rest import RestClient, raise_for_response
from fluvial.transport.auth import default_headers
from fluvial.transport.base import HttpRequest, Transport
from fluvial.wire.registry_entities import model_version_from_json, registered_model_from_json


class RestRegistryStore(RegistryStore):
    def __init__(self, store_uri: str, artifact_uri: str | None = None, transport: Transport | None = None) -> None:
        self.client = RestClient(store_uri, transport)
        self.store_uri = store_uri

    def _call(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.client.call(name, payload)

    @staticmethod
    def _version_key(name: str, version: int | str) -> dict[str, str]:
        return {"name": check_model_name(name), "version": str(check_version(version))}

    # ---- registered models ---------------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: Sequence[RegisteredModelTag] | None = None, description: str | None = None
    ) -> RegisteredModel:
        name = check_model_name(name)
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        tag_list = [dict(zip(("key", "value"), check_tag(t.key, t.value), strict=True)) for t in tags or ()]
        body = self._call("CreateRegisteredModel", {"name": name, "tags": tag_list, "description": description})
        return registered_model_from_json(body["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        body = self._call("GetRegisteredModel", {"name": check_model_name(name)})
        return registered_model_from_json(body["registered_model"])

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        body = self._call("UpdateRegisteredModel", {"name": check_model_name(name), "description": description})
        return registered_model_from_json(body["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        body = self._call("RenameRegisteredModel", {"name": check_model_name(name),
                                                    "new_name": check_model_name(new_name, "new_name")})
        return registered_model_from_json(body["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self._call("DeleteRegisteredModel", {"name": check_model_name(name)})

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        body = self._call("SearchRegisteredModels", {"filter": filter_string, "max_results": max_results,
                                                     "order_by": list(order_by or []), "page_token": page_token})
        found = [registered_model_from_json(m) for m in body.get("registered_models", [])]
        return PagedList(found, body.get("next_page_token") or None)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        payload = {"name": check_model_name(name), "stages": [str(s) for s in stages or ()]}
        try:
            body = self._call("GetLatestVersions", payload)
        except EndpointNotFound:  # servers that only have the GET form
            body = self._get_fallback("/mlflow/registered-models/get-latest-versions", payload)
        return [model_version_from_json(mv) for mv in body.get("model_versions", [])]

    def _get_fallback(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        pairs = [(k, str(item)) for k, value in payload.items() for item in (value if isinstance(value, list) else [value])]
        url = self.client.url("/api/2.0" + path, urlencode(pairs))
        response = self.client.transport.send(HttpRequest("GET", url, default_headers()))
        raise_for_response(response, path)
        try:
            body = json.loads(response.body or b"{}")
        except ValueError:
            raise MlflowException(f"The server's answer to {path} is not JSON") from None
        return body if isinstance(body, dict) else {}

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        key, value = check_tag(tag.key, tag.value)
        self._call("SetRegisteredModelTag", {"name": check_model_name(name), "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        check_tag(key, "")
        self._call("DeleteRegisteredModelTag", {"name": check_model_name(name), "key": key})

    # ---- model versions --------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Sequence[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        storage_location: str | None = None,
    ) -> ModelVersion:
        payload = {
            "name": check_model_name(name),
            "source": check_text(source, "source", MAX_SOURCE_LENGTH, required=True),
            "run_id": check_text(run_id, "run_id", MAX_RUN_ID_LENGTH) or None,
            "tags": [dict(zip(("key", "value"), check_tag(t.key, t.value, model_version=True), strict=True))
                     for t in tags or ()],
            "run_link": check_text(run_link, "run_link", MAX_RUN_LINK_LENGTH) or None,
            "description": check_text(description, "description", MAX_DESCRIPTION_LENGTH),
        }
        return model_version_from_json(self._call("CreateModelVersion", payload)["model_version"])

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return model_version_from_json(self._call("GetModelVersion", self._version_key(name, version))["model_version"])

    def update_model_version(self, name: str, version: int | str, description: str | None) -> ModelVersion:
        payload = {**self._version_key(name, version),
                   "description": check_text(description, "description", MAX_DESCRIPTION_LENGTH)}
        return model_version_from_json(self._call("UpdateModelVersion", payload)["model_version"])

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        payload = {**self._version_key(name, version), "stage": check_stage(stage),
                   "archive_existing_versions": bool(archive_existing_versions)}
        return model_version_from_json(self._call("TransitionModelVersionStage", payload)["model_version"])

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._call("DeleteModelVersion", self._version_key(name, version))

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return str(self._call("GetModelVersionDownloadUri", self._version_key(name, version))["artifact_uri"])

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        body = self._call("SearchModelVersions", {"filter": filter_string, "max_results": max_results,
                                                  "order_by": list(order_by or []), "page_token": page_token})
        found = [model_version_from_json(m) for m in body.get("model_versions", [])]
        return PagedList(found, body.get("next_page_token") or None)

    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None:
        key, value = check_tag(tag.key, tag.value, model_version=True)
        self._call("SetModelVersionTag", {**self._version_key(name, version), "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        check_tag(key, "")
        self._call("DeleteModelVersionTag", {**self._version_key(name, version), "key": key})

    # ---- aliases -----------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self._call("SetRegisteredModelAlias", {"alias": check_alias(alias), **self._version_key(name, version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call("DeleteRegisteredModelAlias", {"name": check_model_name(name), "alias": check_alias(alias)})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        body = self._call("GetModelVersionByAlias", {"name": check_model_name(name), "alias": check_alias(alias)})
        return model_version_from_json(body["model_version"])
