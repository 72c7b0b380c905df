"""The LightGBM flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in MLflow's
format: a ``Booster`` saved with LightGBM's ``save_model`` as ``model.lgb``, a scikit-learn wrapper
(``LGBMClassifier`` ...) pickled with cloudpickle as ``model.pkl``; the flavor entry is
``{lgb_version, data, model_class, code}``."""

from __future__ import annotations

import os
import pickle
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

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"  # MLflow's name, so MLflow loads what fluvial saves
BOOSTER_CLASS = "lightgbm.basic.Booster"



def get_default_pip_requirements(include_cloudpickle: bool = False) -> list[str]:
    return default_requirements("lightgbm", *(["cloudpickle"] if include_cloudpickle else []))


def save_model(
    lgb_model: Any,
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
    """Save a ``Booster`` or a LightGBM scikit-learn model in MLflow's lightgbm format (with pyfunc)."""
    lightgbm = require("lightgbm")

    is_booster = isinstance(lgb_model, lightgbm.Booster)
    if not (is_booster or isinstance(lgb_model, lightgbm.LGBMModel)):
        raise InvalidParameterValue(
            f"save_model expects a lightgbm.Booster or a LightGBM scikit-learn model, got {type(lgb_model).__name__}")
    with new_model_dir(path, mlflow_model, code_paths) as target:
        data = "model.lgb" if is_booster else "model.pkl"
        if is_booster:
            lgb_model.save_model(target.file(data))
        else:
            import cloudpickle

            with open(target.file(data), "wb") as fh:
                cloudpickle.dump(lgb_model, fh, protocol=pickle.DEFAULT_PROTOCOL)
        cls = type(lgb_model)
        add_to_model(target.model, LOADER_MODULE, data=data, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, lgb_version=lightgbm.__version__, data=data,
                                model_class=f"{cls.__module__}.{cls.__qualname__}", code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=_LGBModelWrapper(lgb_model).predict,
            default_pip_requirements=get_default_pip_requirements(include_cloudpickle=not is_booster),
            pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements, conda_env=conda_env,
            metadata=metadata,
        )


def log_model(
    lgb_model: Any,
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
    """Log a LightGBM model as artifacts of the active run (``name=`` is MLflow 3's spelling); other
    keyword arguments go to ``save_model`` (an unknown one is a ``TypeError``)."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, lgb_model=lgb_model, conda_env=conda_env,
        code_paths=code_paths, signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, **kwargs,
    )


def _load_model(path: str) -> Any:
    model_dir, conf = flavor_conf(path, FLAVOR_NAME)
    data = model_file(model_dir, conf.get("data", "model.lgb"))
    if not os.path.isfile(data):
        raise MlflowException(f"The model file {data} is missing")
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        lightgbm = require("lightgbm")

        return lightgbm.Booster(model_file=data)
    from fluvial.pyfunc import pickling

    with open(data, "rb") as fh:
        return pickling.load(fh)  # cloudpickle output is plain pickle data


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The LightGBM model (a ``Booster`` or the scikit-learn wrapper it was saved as)."""
    model_dir, _conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_model(model_dir)


class _LGBModelWrapper(RawModelWrapper):
    """pyfunc: the model's own ``predict`` (probabilities for a multiclass Booster, labels for a
    classifier wrapper)."""

    raw_attribute = "lgb_model"


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _LGBModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.lightgbm``)."""
    return _LGBModelWrapper(_load_model(path))


from fluvial.flavors.lightgbm.autolog import autolog  # noqa: E402, F401
