"""The MLmodel descriptor (``Model``), ``ModelInfo``, and logging a model into a run.

MLmodel files are read and written in MLflow's format: YAML with sorted keys, signature parts as JSON
strings, unknown keys preserved, and ``loader_module`` names in MLflow's namespace (``mlflow.sklearn``)
so that MLflow loads what fluvial saves; fluvial maps them back to its own modules when loading.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

from fluvial._internal.paths import safe_join
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.version import MLFLOW_COMPAT_VERSION, VERSION

MLMODEL_FILE_NAME = "MLmodel"


@dataclass
class ModelInfo:
    """What ``log_model`` returns: where the model went and what it is."""

    artifact_path: str
    flavors: dict[str, Any]
    model_uri: str
    model_uuid: str | None
    run_id: str | None
    saved_input_example_info: dict[str, Any] | None
    signature: Any
    utc_time_created: str
    mlflow_version: str | None
    metadata: dict[str, Any] | None = None
    registered_model_version: int | None = None
    model_size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def signature_dict(self) -> dict[str, Any] | None:
        return self.signature.to_dict() if self.signature is not None else None

    @property
    def name(self) -> str:
        return self.artifact_path


class Model:
    """An MLmodel descriptor: flavors, signature, input example info, metadata."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: dict[str, Any] | None = None,
        signature: Any = None,
        saved_input_example_info: dict[str, Any] | None = None,
        model_uuid: str | type[uuid.UUID] | None = uuid.UUID,
        mlflow_version: str | None = MLFLOW_COMPAT_VERSION,
        metadata: dict[str, Any] | None = None,
        model_size_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.artifact_path = artifact_path
        self.run_id = run_id
        self.utc_time_created = str(utc_time_created or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        self.flavors: dict[str, Any] = dict(flavors or {})
        self.signature = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_uuid: str | None = uuid.uuid4().hex if model_uuid is uuid.UUID else model_uuid  # type: ignore[assignment]
        self.mlflow_version = mlflow_version
        self.metadata = metadata
        self.model_size_bytes = model_size_bytes
        self.__dict__.update(kwargs)  # unknown MLmodel keys are kept and written back

    # ---- flavors ---------------------------------------------------------------------------
    def add_flavor(self, name: str, **params: Any) -> Model:
        self.flavors[name] = params
        return self

    # ---- signature -------------------------------------------------------------------------
    def get_input_schema(self) -> Any:
        return self.signature.inputs if self.signature is not None else None

    def get_output_schema(self) -> Any:
        return self.signature.outputs if self.signature is not None else None

    def get_params_schema(self) -> Any:
        return getattr(self.signature, "params", None) if self.signature is not None else None

    def load_input_example(self, path: str | None = None) -> Any:
        if not self.saved_input_example_info or path is None:
            return None
        from fluvial.models.input_example import load_input_example

        return load_input_example(path, self.saved_input_example_info, schema=self.get_input_schema())

    # ---- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        signature = out.pop("signature", None)
        if signature is not None:
            out["signature"] = signature.to_dict()
            out.setdefault("is_signature_from_type_hint", False)
            out.setdefault("type_hint_from_example", False)
        for key in ("artifact_path", "run_id", "saved_input_example_info", "metadata", "model_size_bytes",
                    "mlflow_version", "model_uuid"):
            if out.get(key) is None:
                out.pop(key, None)
        return out

    def to_yaml(self, stream: Any = None) -> str | None:
        import yaml

        return yaml.safe_dump(self.to_dict(), stream=stream, default_flow_style=False)

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict())

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            self.to_yaml(fh)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        data = dict(data)
        signature = data.pop("signature", None)
        if signature is not None:
            from fluvial.models.signature import ModelSignature

            data["signature"] = ModelSignature.from_dict(signature)
        data.setdefault("model_uuid", None)
        data.setdefault("mlflow_version", None)
        return cls(**data)

    @classmethod
    def load(cls, path: str) -> Model:
        """Read an MLmodel file, from a model directory, the file itself, or any model URI."""
        path = os.fspath(path)
        if "://" in path or path.startswith(("runs:", "models:", "mlflow-artifacts:")):
            from fluvial.models.uri import download_model_file

            path = download_model_file(path)
        if os.path.isdir(path):
            path = os.path.join(path, MLMODEL_FILE_NAME)
        if not os.path.isfile(path):
            raise ResourceDoesNotExist(f'Could not find an "{MLMODEL_FILE_NAME}" configuration file at "{path}"')
        import yaml

        with open(path, encoding="utf-8") as fh:
            try:
                data = yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise InvalidParameterValue(f"The MLmodel file at {path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise InvalidParameterValue(f"The MLmodel file at {path} has no 'flavors' mapping")
        return cls.from_dict(data)

    def get_model_info(self) -> ModelInfo:
        return ModelInfo(
            artifact_path=self.artifact_path or "",
            flavors=self.flavors,
            model_uri=f"runs:/{self.run_id}/{self.artifact_path}" if self.run_id else "",
            model_uuid=self.model_uuid,
            run_id=self.run_id,
            saved_input_example_info=self.saved_input_example_info,
            signature=self.signature,
            utc_time_created=self.utc_time_created,
            mlflow_version=self.mlflow_version,
            metadata=self.metadata,
            model_size_bytes=self.model_size_bytes,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Model(artifact_path={self.artifact_path!r}, run_id={self.run_id!r}, flavors={list(self.flavors)})"

    # ---- logging ---------------------------------------------------------------------------
    @classmethod
    def log(
        cls,
        artifact_path: str,
        flavor: Any,
        registered_model_name: str | None = None,
        await_registration_for: int = 300,
        metadata: dict[str, Any] | None = None,
        run_id: str | None = None,
        **kwargs: Any,
    ) -> ModelInfo:
        """Save the model with ``flavor.save_model`` into a temp dir and log it as run artifacts under
        ``artifact_path`` of the active run (one is started when none is active)."""
        from fluvial.tracking import fluent
        from fluvial.tracking.client import MlflowClient

        if not artifact_path:
            raise InvalidParameterValue("log_model needs an artifact path (name) for the model, e.g. 'model'.")
        if registered_model_name is not None:
            from fluvial.models.registry_hook import check_registry_available

            check_registry_available()
        run_id = run_id or fluent._run_id()
        client = MlflowClient()
        with tempfile.TemporaryDirectory(prefix="fluvial-model-") as tmp:
            local = os.path.join(tmp, "model")
            mlflow_model = cls(artifact_path=artifact_path, run_id=run_id, metadata=metadata)
            flavor.save_model(path=local, mlflow_model=mlflow_model, **kwargs)
            client.log_artifacts(run_id, local, artifact_path)
        info = {k: mlflow_model.to_dict().get(k) for k in ("run_id", "artifact_path", "utc_time_created",
                                                          "model_uuid", "flavors")}
        client._store.record_logged_model(run_id, info)
        model_info = mlflow_model.get_model_info()
        if registered_model_name is not None:
            from fluvial.models.registry_hook import register_logged_model

            model_info.registered_model_version = register_logged_model(
                model_info.model_uri, registered_model_name, await_registration_for
            )
        return model_info


def directory_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def prepare_model_dir(path: str) -> str:
    """Create the directory a model is saved into; refuse a non-empty one, as MLflow does."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise InvalidParameterValue(f"Path '{path}' already exists and is not empty")
    os.makedirs(path, exist_ok=True)
    return path


def flavor_conf(path: str, flavor: str) -> tuple[str, dict[str, Any]]:
    """(model directory, the flavor's MLmodel block) for a model directory or a file inside it; a clear
    error when the model lacks the flavor."""
    from fluvial.exceptions import MlflowException

    model_dir = path if os.path.isdir(path) else os.path.dirname(path)
    meta = Model.load(os.path.join(model_dir, MLMODEL_FILE_NAME))
    conf = meta.flavors.get(flavor)
    if conf is None:
        raise MlflowException(f'Model does not have the "{flavor}" flavor (flavors: {sorted(meta.flavors)})')
    return model_dir, conf


def model_file(model_dir: str, relative: str) -> str:
    """A file named by an MLmodel entry, resolved inside the model directory (never outside)."""
    return safe_join(model_dir, relative)


def copy_code_paths(code_paths: list[str] | None, model_dir: str, dirname: str = "code") -> str | None:
    """Copy ``code_paths`` into ``<model_dir>/code`` (without ``__pycache__`` directories or compiled
    files); the relative directory name (or None)."""
    if not code_paths:
        return None
    target = os.path.join(model_dir, dirname)
    os.makedirs(target, exist_ok=True)
    for source in code_paths:
        source = os.fspath(source)
        if not os.path.exists(source):
            raise InvalidParameterValue(f"code path {source!r} does not exist")
        name = os.path.basename(os.path.normpath(source))
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(target, name), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, os.path.join(target, name))
    return dirname


def stamp_versions(model: Model) -> None:
    """fluvial records its own version next to the MLflow format version it writes."""
    model.__dict__.setdefault("fluvial_version", VERSION)
