"""The Keras 3 flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in MLflow's
format::

    model/
      MLmodel        keras: {data: data, keras_version, keras_backend, save_exported_model: false}
                     python_function: {loader_module: mlflow.keras}
      data/model.keras        model.save(...) (the native Keras 3 format)
      data/keras_module.txt   "keras"

Any backend works (TensorFlow, JAX, PyTorch). When Keras is not imported yet and ``KERAS_BACKEND`` is
not set, loading selects the backend the model was saved with, so a model saved under the torch backend
loads where TensorFlow is not installed. ``save_exported_model=True`` (TensorFlow's exported graph) is
not supported: it needs TensorFlow, which fluvial does not use.
"""

from __future__ import annotations

import os
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.flavor import (
    RawModelWrapper,
    default_requirements,
    load_flavor_dir,
    log_flavor_model,
    new_model_dir,
)
from fluvial.models.model import MLMODEL_FILE_NAME, Model, ModelInfo, flavor_conf, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "keras"
LOADER_MODULE = "mlflow.keras"  # MLflow's name, so MLflow loads what fluvial saves
DATA_DIR = "data"
MODEL_NAME = "model"
KERAS_MODULE_FILE = "keras_module.txt"


def _keras(backend: str | None = None) -> Any:
    """``keras``; a backend recorded with a model is selected if Keras is not imported yet."""
    import sys

    if backend and "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = backend
    return require("keras")


def get_default_pip_requirements() -> list[str]:
    return default_requirements("keras")


def save_model(
    model: Any,
    path: str,
    save_exported_model: bool = False,
    conda_env: Any = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    save_model_kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
) -> None:
    """Save a Keras 3 model as ``data/model.keras``; ``save_model_kwargs`` go to ``model.save``."""
    keras = require("keras")

    if save_exported_model:
        raise InvalidParameterValue(
            "save_exported_model=True saves a TensorFlow graph and needs TensorFlow; fluvial saves Keras models in "
            "the native .keras format only (save_exported_model=False).")
    if not isinstance(model, keras.Model):
        raise MlflowException(f"save_model expects a keras.Model, got {type(model).__name__}")
    with new_model_dir(path, mlflow_model, code_paths) as target:
        os.makedirs(target.file(DATA_DIR))
        with open(os.path.join(target.file(DATA_DIR), KERAS_MODULE_FILE), "w") as fh:
            fh.write("keras")
        model.save(os.path.join(target.file(DATA_DIR), MODEL_NAME + ".keras"), **(save_model_kwargs or {}))
        target.model.add_flavor(FLAVOR_NAME, data=DATA_DIR, keras_version=keras.__version__,
                                keras_backend=keras.backend.backend(), save_exported_model=False)
        add_to_model(target.model, LOADER_MODULE, code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=KerasModelWrapper(model).predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    model: Any,
    artifact_path: str | None = None,
    save_exported_model: bool = False,
    conda_env: Any = None,
    signature: Any = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    save_model_kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Log a Keras 3 model as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name,
        registered_model_name=registered_model_name, await_registration_for=await_registration_for,
        metadata=metadata, model=model, save_exported_model=save_exported_model, conda_env=conda_env,
        signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, save_model_kwargs=save_model_kwargs, code_paths=code_paths,
    )


def _load(model_dir: str, conf: dict[str, Any], custom_objects: dict[str, Any] | None = None,
          **load_model_kwargs: Any) -> Any:
    keras = _keras(conf.get("keras_backend"))
    if conf.get("save_exported_model"):
        raise MlflowException(
            "This Keras model was saved as an exported TensorFlow graph (save_exported_model=True); load it with "
            "MLflow and TensorFlow, fluvial reads the native .keras format only.")
    path = model_file(model_dir, conf.get("data", MODEL_NAME))
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_NAME)
    return keras.saving.load_model(path + ".keras", custom_objects=custom_objects, **load_model_kwargs)


def load_model(model_uri: str, dst_path: str | None = None, custom_objects: dict[str, Any] | None = None,
               load_model_kwargs: dict[str, Any] | None = None) -> Any:
    """The ``keras.Model``."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load(model_dir, conf, custom_objects, **(load_model_kwargs or {}))


class KerasModelWrapper(RawModelWrapper):
    """pyfunc: ``model.predict`` on a DataFrame's values (a DataFrame back, same index) or on an array,
    list, tuple or dict (an array back)."""

    def __init__(self, model: Any, signature: Any = None, save_exported_model: bool = False) -> None:
        super().__init__(model)
        self.signature = signature

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        keras = require("keras")
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(self.get_raw_model().predict(data.values, verbose=0), index=data.index)
        if not isinstance(data, (np.ndarray, list, tuple, dict)):
            raise MlflowException(
                f"`data` must be one of: ['ndarray', 'list', 'tuple', 'dict'], but received type: {type(data)}.",
                error_code="INVALID_PARAMETER_VALUE")
        return keras.ops.convert_to_numpy(self.get_raw_model().predict(data, verbose=0))


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> KerasModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.keras``); ``path`` is the model directory."""
    model_dir = path if os.path.isfile(os.path.join(path, MLMODEL_FILE_NAME)) else os.path.dirname(path)
    _, conf = flavor_conf(model_dir, FLAVOR_NAME)
    return KerasModelWrapper(_load(model_dir, conf), Model.load(model_dir).signature)


from fluvial.flavors.keras.autolog import MlflowCallback, autolog  # noqa: E402, F401
