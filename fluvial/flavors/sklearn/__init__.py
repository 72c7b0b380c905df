"""The scikit-learn flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in
MLflow's format (``model.pkl`` with pickle or cloudpickle; skops models saved by MLflow 3 load too)."""

from __future__ import annotations

import os
import pickle
from typing import Any

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

FLAVOR_NAME = "sklearn"
LOADER_MODULE = "mlflow.sklearn"  # MLflow's name, so MLflow loads what fluvial saves
MODEL_FILE = "model.pkl"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SERIALIZATION_FORMAT_SKOPS = "skops"
SUPPORTED_SERIALIZATION_FORMATS = [SERIALIZATION_FORMAT_PICKLE, SERIALIZATION_FORMAT_CLOUDPICKLE,
                                   SERIALIZATION_FORMAT_SKOPS]
PYFUNC_PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")


def get_default_pip_requirements(include_cloudpickle: bool = False) -> list[str]:
    return default_requirements("scikit-learn", *(["cloudpickle"] if include_cloudpickle else []))


def _dump(sk_model: Any, path: str, serialization_format: str, skops_trusted_types: list[str] | None) -> None:
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        from fluvial._internal.lazy import require

        skops_io = require("skops.io", "sklearn")
        skops_io.dump(sk_model, path)
        return
    with open(path, "wb") as fh:
        if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
            import cloudpickle

            cloudpickle.dump(sk_model, fh, protocol=pickle.DEFAULT_PROTOCOL)
        else:
            pickle.dump(sk_model, fh, protocol=pickle.DEFAULT_PROTOCOL)


def save_model(
    sk_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    serialization_format: str = SERIALIZATION_FORMAT_CLOUDPICKLE,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    skops_trusted_types: list[str] | None = None,
) -> None:
    """Save a scikit-learn estimator in MLflow's sklearn format (with a pyfunc flavor)."""
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unrecognized serialization format: {serialization_format}. Please specify one of the following "
            f"supported formats: {SUPPORTED_SERIALIZATION_FORMATS}."
        )
    if pyfunc_predict_fn not in PYFUNC_PREDICT_FNS:
        raise InvalidParameterValue(
            f"Invalid pyfunc_predict_fn {pyfunc_predict_fn!r}; expected one of {list(PYFUNC_PREDICT_FNS)}"
        )
    import sklearn

    with new_model_dir(path, mlflow_model, code_paths) as target:
        code = target.code
        _dump(sk_model, target.file(MODEL_FILE), serialization_format, skops_trusted_types)
        if hasattr(sk_model, pyfunc_predict_fn):
            add_to_model(target.model, LOADER_MODULE, model_path=MODEL_FILE, predict_fn=pyfunc_predict_fn, code=code)
        flavor: dict[str, Any] = {"pickled_model": MODEL_FILE, "sklearn_version": sklearn.__version__,
                                  "serialization_format": serialization_format, "code": code}
        if serialization_format == SERIALIZATION_FORMAT_SKOPS and skops_trusted_types:
            flavor["skops_trusted_types"] = list(skops_trusted_types)
        target.model.add_flavor(FLAVOR_NAME, **flavor)
        target.finish(
            signature=signature, input_example=input_example, predict=getattr(sk_model, pyfunc_predict_fn, None),
            default_pip_requirements=get_default_pip_requirements(serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE),
            pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
            conda_env=conda_env, metadata=metadata,
        )


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    serialization_format: str = SERIALIZATION_FORMAT_CLOUDPICKLE,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    skops_trusted_types: list[str] | None = None,
) -> ModelInfo:
    """Log a scikit-learn estimator as artifacts of the active run (``name=`` is MLflow 3's spelling)."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, sk_model=sk_model, conda_env=conda_env,
        code_paths=code_paths, serialization_format=serialization_format, signature=signature,
        input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, pyfunc_predict_fn=pyfunc_predict_fn,
        skops_trusted_types=skops_trusted_types,
    )


def _load_from_file(path: str, serialization_format: str, skops_trusted_types: list[str] | None = None) -> Any:
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unrecognized serialization format: {serialization_format}. Please specify one of the following "
            f"supported formats: {SUPPORTED_SERIALIZATION_FORMATS}."
        )
    if not os.path.isfile(path):
        raise MlflowException(f"The model file {path} is missing")
    try:
        if serialization_format == SERIALIZATION_FORMAT_SKOPS:
            from fluvial._internal.lazy import require

            skops_io = require("skops.io", "sklearn")
            # only the types skops trusts by default, plus those the model's MLmodel lists
            return skops_io.load(path, trusted=skops_trusted_types)
        from fluvial.pyfunc import pickling

        with open(path, "rb") as fh:
            return pickling.load(fh)  # cloudpickle output is plain pickle data
    except MlflowException:
        raise
    except Exception as exc:
        raise MlflowException(
            f"Could not load the scikit-learn model in {path} ({serialization_format}): {type(exc).__name__}: {exc}"
        ) from exc


def _model_dir_and_conf(path: str) -> tuple[str, dict[str, Any]]:
    return flavor_conf(path, FLAVOR_NAME)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The original scikit-learn estimator of a model with the sklearn flavor."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_from_file(
        model_file(model_dir, conf.get("pickled_model", MODEL_FILE)),
        conf.get("serialization_format", SERIALIZATION_FORMAT_PICKLE),
        conf.get("skops_trusted_types"),
    )


class _SklearnModelWrapper(RawModelWrapper):
    raw_attribute = "sklearn_model"

    def __init__(self, sk_model: Any) -> None:
        super().__init__(sk_model)
        for name in PYFUNC_PREDICT_FNS[1:]:
            if hasattr(sk_model, name):
                setattr(self, name, getattr(sk_model, name))


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _SklearnModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.sklearn``)."""
    if os.path.isfile(path):  # models from MLflow <= 1.9 pass the pickle itself
        return _SklearnModelWrapper(_load_from_file(path, SERIALIZATION_FORMAT_PICKLE))
    model_dir, conf = _model_dir_and_conf(path)
    return _SklearnModelWrapper(
        _load_from_file(model_file(model_dir, conf.get("pickled_model", MODEL_FILE)),
                        conf.get("serialization_format", SERIALIZATION_FORMAT_PICKLE), conf.get("skops_trusted_types"))
    )
from fluvial.flavors.sklearn.autolog import autolog  # noqa: E402, F401
