"""The CatBoost flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in MLflow's
format: the model saved with CatBoost's own ``save_model`` as ``model.cb`` (``format=`` chooses the
file format, default ``cbm``), flavor entry ``{catboost_version, data, model_type, save_format, code}``
where ``model_type`` is the class name (``CatBoostClassifier``, ``CatBoostRegressor``, ``CatBoostRanker``
or ``CatBoost``)."""

from __future__ import annotations

import os
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import MlflowException
from fluvial.models.flavor import (
    RawModelWrapper,
    check_save_kwargs,
    default_requirements,
    load_flavor_dir,
    log_flavor_model,
    new_model_dir,
)
from fluvial.models.model import Model, ModelInfo, flavor_conf, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "catboost"
LOADER_MODULE = "mlflow.catboost"  # MLflow's name, so MLflow loads what fluvial saves
DATA_FILE = "model.cb"


def get_default_pip_requirements() -> list[str]:
    return default_requirements("catboost")


def save_model(
    cb_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save a CatBoost model; ``kwargs`` go to the model's ``save_model`` (e.g. ``format="json"``)."""
    catboost = require("catboost")

    if not isinstance(cb_model, catboost.CatBoost):
        raise MlflowException(f"save_model expects a CatBoost model, got {type(cb_model).__name__}")
    check_save_kwargs(save_model, kwargs, cb_model.save_model)
    with new_model_dir(path, mlflow_model, code_paths) as target:
        cb_model.save_model(target.file(DATA_FILE), **kwargs)
        add_to_model(target.model, LOADER_MODULE, data=DATA_FILE, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, catboost_version=catboost.__version__, code=target.code,
                                model_type=type(cb_model).__name__, save_format=kwargs.get("format", "cbm"),
                                data=DATA_FILE)
        target.finish(
            signature=signature, input_example=input_example, predict=cb_model.predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    cb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a CatBoost model as artifacts of the active run; ``kwargs`` go to the model's ``save_model``."""
    extra_to = require("catboost").CatBoost.save_model
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, cb_model=cb_model, conda_env=conda_env,
        code_paths=code_paths, signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, extra_kwargs_to=extra_to, **kwargs,
    )


def _model_class(name: str | None) -> Any:
    catboost = require("catboost")

    classes = {c: getattr(catboost, c) for c in ("CatBoost", "CatBoostClassifier", "CatBoostRegressor",
                                                  "CatBoostRanker") if hasattr(catboost, c)}
    if name not in classes:
        raise MlflowException(f"Invalid model type: {name!r}. Must be one of {list(classes)}")
    return classes[name]


def _load_model(path: str, model_type: str | None, save_format: str | None) -> Any:
    model = _model_class(model_type)()
    model.load_model(os.path.abspath(path), save_format or "cbm")
    return model


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The CatBoost model (of the class it was saved as)."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_model(model_file(model_dir, conf.get("data", DATA_FILE)), conf.get("model_type"),
                       conf.get("save_format"))


class _CatboostModelWrapper(RawModelWrapper):
    raw_attribute = "cb_model"


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _CatboostModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.catboost``); ``path`` is the data file."""
    _, conf = flavor_conf(os.path.dirname(path), FLAVOR_NAME)
    return _CatboostModelWrapper(_load_model(path, conf.get("model_type"), conf.get("save_format")))
