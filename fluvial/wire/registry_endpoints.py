"""The model registry's REST endpoints (reference §14), registered into the endpoint table.

Three RPCs share ``/mlflow/registered-models/alias`` (POST sets, DELETE deletes, GET reads); the
server picks by method. Fields that only MLflow 3.x clients send (``model_id``,
``deployment_job_id``) are accepted and ignored.
"""

from __future__ import annotations

from fluvial.wire.access import EDIT_MODEL, MANAGE_MODEL, READ_MODEL, USER, edit, filtered
from fluvial.wire.endpoints import Endpoint, register
from fluvial.wire.fields import boolean, int64, message, string

TAG = {"key": string(required=True), "value": string()}
NAME = {"name": string(required=True)}
VERSION = {"name": string(required=True), "version": string(required=True)}
SEARCH = {"filter": string(), "max_results": int64(), "order_by": string(repeated=True), "page_token": string()}
RM = "/mlflow/registered-models"
MV = "/mlflow/model-versions"

REGISTRY: list[Endpoint] = [
    Endpoint("CreateRegisteredModel", ("POST",), f"{RM}/create",
             {**NAME, "tags": message(TAG, repeated=True), "description": string(), "deployment_job_id": string()}, access=USER),
    Endpoint("GetRegisteredModel", ("GET",), f"{RM}/get", NAME, access=READ_MODEL),
    Endpoint("RenameRegisteredModel", ("POST",), f"{RM}/rename", {**NAME, "new_name": string(required=True)}, access=EDIT_MODEL),
    Endpoint("UpdateRegisteredModel", ("PATCH",), f"{RM}/update",
             {**NAME, "description": string(), "deployment_job_id": string()}, access=EDIT_MODEL),
    Endpoint("DeleteRegisteredModel", ("DELETE",), f"{RM}/delete", NAME, access=MANAGE_MODEL),
    Endpoint("SearchRegisteredModels", ("GET",), f"{RM}/search", SEARCH, access=filtered("registered_models")),
    Endpoint("GetLatestVersions", ("POST", "GET"), f"{RM}/get-latest-versions",
             {**NAME, "stages": string(repeated=True)}, access=READ_MODEL),
    Endpoint("SetRegisteredModelTag", ("POST",), f"{RM}/set-tag", {**NAME, **TAG}, access=EDIT_MODEL),
    Endpoint("DeleteRegisteredModelTag", ("DELETE",), f"{RM}/delete-tag", {**NAME, "key": string(required=True)}, access=EDIT_MODEL),
    Endpoint("SetRegisteredModelAlias", ("POST",), f"{RM}/alias",
             {**NAME, "alias": string(required=True), "version": string(required=True)}, access=EDIT_MODEL),
    Endpoint("DeleteRegisteredModelAlias", ("DELETE",), f"{RM}/alias", {**NAME, "alias": string(required=True)}, access=MANAGE_MODEL),
    Endpoint("GetModelVersionByAlias", ("GET",), f"{RM}/alias", {**NAME, "alias": string(required=True)}, access=READ_MODEL),
    Endpoint("CreateModelVersion", ("POST",), f"{MV}/create",
             {**NAME, "source": string(required=True), "run_id": string(), "tags": message(TAG, repeated=True),
              "run_link": string(), "description": string(), "model_id": string()}, access=edit("model_version_source")),
    Endpoint("GetModelVersion", ("GET",), f"{MV}/get", VERSION, access=READ_MODEL),
    Endpoint("UpdateModelVersion", ("PATCH",), f"{MV}/update", {**VERSION, "description": string()}, access=EDIT_MODEL),
    Endpoint("TransitionModelVersionStage", ("POST",), f"{MV}/transition-stage",
             {**VERSION, "stage": string(required=True), "archive_existing_versions": boolean()}, access=EDIT_MODEL),
    Endpoint("DeleteModelVersion", ("DELETE",), f"{MV}/delete", VERSION, access=MANAGE_MODEL),
    Endpoint("SearchModelVersions", ("GET",), f"{MV}/search", SEARCH, access=filtered("model_versions")),
    Endpoint("GetModelVersionDownloadUri", ("GET",), f"{MV}/get-download-uri", VERSION, access=READ_MODEL),
    Endpoint("SetModelVersionTag", ("POST",), f"{MV}/set-tag", {**VERSION, **TAG}, access=EDIT_MODEL),
    Endpoint("DeleteModelVersionTag", ("DELETE",), f"{MV}/delete-tag", {**VERSION, "key": string(required=True)}, access=MANAGE_MODEL),
]
register(REGISTRY)
