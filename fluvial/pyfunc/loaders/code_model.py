"""The loader of models from code (``loader_module: mlflow.pyfunc.loaders.code_model``): run the
model file saved in the model directory, then wrap what it passed to ``set_model``."""

from __future__ import annotations

import os
from typing import Any

from fluvial.exceptions import MlflowException
from fluvial.models.model import MLMODEL_FILE_NAME, Model, model_file

MODEL_CODE_PATH = "model_code_path"


def load_code_model(model_dir: str, model_config: dict[str, Any] | None = None) -> Any:
    """(the model object, its PythonModelContext) of a model from code in ``model_dir``."""
    from fluvial.models.from_code import run_model_file
    from fluvial.pyfunc.model import PythonModelContext

    conf = Model.load(os.path.join(model_dir, MLMODEL_FILE_NAME)).flavors.get("python_function", {})
    saved_as = conf.get(MODEL_CODE_PATH)
    if not saved_as:
        raise MlflowException(f"The model at {model_dir} is not a model from code (its MLmodel has no {MODEL_CODE_PATH})")
    # MLflow records the file's original absolute path; the copy is the file of that name in the model dir
    path = model_file(model_dir, os.path.basename(str(saved_as).replace("\\", "/")))
    if not os.path.isfile(path):
        raise MlflowException(f"The model's code file {os.path.basename(path)} is missing from {model_dir}")
    # pyfunc.load_model hands over the saved config with its overrides applied (MLflow's rule)
    config = model_config if model_config is not None else conf.get("config")
    model = run_model_file(path, config)
    artifacts = {name: model_file(model_dir, entry["path"]) for name, entry in (conf.get("artifacts") or {}).items()}
    return model, PythonModelContext(artifacts, config if isinstance(config, dict) else None)


def _load_pyfunc(local_path: str, model_config: dict[str, Any] | None = None) -> Any:
    from fluvial.pyfunc.model import PythonModel, PythonModelWrapper, _FunctionModel

    model_dir = local_path if os.path.isdir(local_path) else os.path.dirname(local_path)
    model, context = load_code_model(model_dir, model_config)
    if not isinstance(model, PythonModel) and not hasattr(model, "predict"):
        model = _FunctionModel(model)  # a function given to set_model
    if hasattr(model, "load_context"):
        model.load_context(context)
    return PythonModelWrapper(model, context)
