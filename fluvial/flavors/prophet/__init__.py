"""The Prophet flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in MLflow's
format: the fitted model serialized with ``prophet.serialize.model_to_json`` and that JSON text written
as a JSON string to ``model.pr`` (MLflow's encoding); flavor entry
``{prophet_version, code, model_type, data}``. The pyfunc ``predict`` is the model's ``predict`` on a
DataFrame with a ``ds`` column (e.g. from ``make_future_dataframe``). As in MLflow, the requirements are
the pinned ``prophet`` alone (not inferred)."""

from __future__ import annotations

import json
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue
from fluvial.models.flavor import (
    RawModelWrapper,
    default_requirements,
    load_flavor_dir,
    log_flavor_model,
    new_model_dir,
)
from fluvial.models.model import Model, ModelInfo, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "prophet"
LOADER_MODULE = "mlflow.prophet"  # MLflow's name, so MLflow loads what fluvial saves
DATA_FILE = "model.pr"


def get_default_pip_requirements() -> list[str]:
    return default_requirements("prophet")


def save_model(
    pr_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save a fitted ``prophet.Prophet`` model."""
    prophet = require("prophet")
    from prophet.serialize import model_to_json

    if not isinstance(pr_model, prophet.Prophet):
        raise InvalidParameterValue(f"save_model expects a prophet.Prophet model, got {type(pr_model).__name__}")
    with new_model_dir(path, mlflow_model, code_paths) as target:
        serialized = model_to_json(pr_model)  # refuses an unfitted model
        with open(target.file(DATA_FILE), "w") as fh:
            json.dump(serialized, fh)
        add_to_model(target.model, LOADER_MODULE, code=target.code, data=DATA_FILE)
        target.model.add_flavor(FLAVOR_NAME, prophet_version=prophet.__version__, code=target.code,
                                model_type=type(pr_model).__name__, data=DATA_FILE)
        target.finish(
            signature=signature, input_example=input_example, predict=_ProphetModelWrapper(pr_model).predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
            infer_requirements=False,
        )


def log_model(
    pr_model: Any,
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
) -> ModelInfo:
    """Log a fitted Prophet model as artifacts of the active run."""
    return log_flavor_model(__name__, **locals())  # every parameter above, by name


def _load_model(path: str) -> Any:
    require("prophet")
    from prophet.serialize import model_from_json

    with open(path) as fh:
        return model_from_json(json.load(fh))


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The fitted ``prophet.Prophet`` model."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_model(model_file(model_dir, conf.get("data", DATA_FILE)))


class _ProphetModelWrapper(RawModelWrapper):
    raw_attribute = "pr_model"


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _ProphetModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.prophet``); ``path`` is the data file."""
    return _ProphetModelWrapper(_load_model(path))
