"""The XGBoost flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in MLflow's
format: the model saved with XGBoost's own ``save_model`` as ``model.<model_format>`` (default ``xgb``),
and the flavor entry ``{xgb_version, data, model_class, model_format, code}``. ``model_class`` is the
class to rebuild on load (``xgboost.core.Booster`` or a scikit-learn wrapper such as
``xgboost.sklearn.XGBClassifier``)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import warnings
from collections.abc import Iterator
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
from fluvial.models.model import Model, ModelInfo, flavor_conf, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "xgboost"
LOADER_MODULE = "mlflow.xgboost"  # MLflow's name, so MLflow loads what fluvial saves
DEFAULT_MODEL_CLASS = "xgboost.core.Booster"


def get_default_pip_requirements() -> list[str]:
    return default_requirements("xgboost")


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


@contextlib.contextmanager
def _quiet_format_notice() -> Iterator[None]:
    """XGBoost notes that the ``.xgb`` extension is not one of its format names and saves UBJSON; that
    is MLflow's default file name, so the notice is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(UBJSON|Unknown file format)", category=UserWarning)
        yield


def save_model(
    xgb_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "xgb",
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save a ``Booster`` or an XGBoost scikit-learn model in MLflow's xgboost format (with pyfunc)."""
    xgboost = require("xgboost")

    if not isinstance(xgb_model, (xgboost.Booster, xgboost.XGBModel)):
        raise InvalidParameterValue(
            f"save_model expects an xgboost.Booster or an XGBoost scikit-learn model, got {type(xgb_model).__name__}")
    with new_model_dir(path, mlflow_model, code_paths) as target:
        data = f"model.{model_format}"
        with _quiet_format_notice():
            xgb_model.save_model(target.file(data))
        add_to_model(target.model, LOADER_MODULE, data=data, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, xgb_version=xgboost.__version__, data=data,
                                model_class=class_path(xgb_model), model_format=model_format, code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=_XGBModelWrapper(xgb_model).predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    xgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "xgb",
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log an XGBoost model as artifacts of the active run (``name=`` is MLflow 3's spelling); other
    keyword arguments go to ``save_model`` (an unknown one is a ``TypeError``)."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, xgb_model=xgb_model, conda_env=conda_env,
        code_paths=code_paths, signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, model_format=model_format, **kwargs,
    )


def _model_class(name: str) -> type:
    xgboost = require("xgboost")

    module_name, _, class_name = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise MlflowException(f"The XGBoost model class {name!r} of this model cannot be imported: {exc}") from None
    if not (inspect.isclass(cls) and issubclass(cls, (xgboost.Booster, xgboost.XGBModel))):
        raise MlflowException(f"The model class {name!r} is not an XGBoost model class")
    return cls


def _load_model(path: str) -> Any:
    model_dir, conf = flavor_conf(path, FLAVOR_NAME)
    data = model_file(model_dir, conf.get("data", "model.xgb"))
    if not os.path.isfile(data):
        raise MlflowException(f"The model file {data} is missing")
    model = _model_class(conf.get("model_class", DEFAULT_MODEL_CLASS))()
    with _quiet_format_notice():
        model.load_model(data)
    return model


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The XGBoost model (a ``Booster`` or the scikit-learn wrapper it was saved as)."""
    model_dir, _conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_model(model_dir)


class _XGBModelWrapper(RawModelWrapper):
    """pyfunc: ``predict`` on a DataFrame or array (a DMatrix is built for a Booster)."""

    raw_attribute = "xgb_model"

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        xgboost = require("xgboost")

        model = self.get_raw_model()
        if isinstance(model, xgboost.Booster):
            fn = model.predict
            extra = _accepted(fn, params)
            return fn(xgboost.DMatrix(data), validate_features=True, **extra)
        fn = model.predict
        return fn(data, **_accepted(fn, params))


def _accepted(fn: Any, params: dict[str, Any] | None) -> dict[str, Any]:
    """The params ``fn`` takes (others are dropped, as MLflow does)."""
    if not params:
        return {}
    accepted = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        return dict(params)
    return {k: v for k, v in params.items() if k in accepted and k != "validate_features"}


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _XGBModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.xgboost``)."""
    return _XGBModelWrapper(_load_model(path))


from fluvial.flavors.xgboost.autolog import autolog  # noqa: E402, F401
