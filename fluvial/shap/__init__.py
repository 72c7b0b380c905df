"""``fluvial.shap`` (MLflow's ``mlflow.shap``): ``log_explanation`` and the SHAP explainer flavor, in
MLflow 2.x's format.

``log_explanation(predict_function, features)`` runs a ``shap.KernelExplainer`` (background: up to 100
k-means centres of ``features``) and logs ``base_values.npy``, ``shap_values.npy`` and
``summary_bar_plot.png`` under ``model_explanations_shap/`` of the active run.

An explainer is saved as::

    model/
      MLmodel           shap: {shap_version, serialized_explainer: explainer.shap, underlying_model_flavor, code}
                        python_function: {loader_module: mlflow.shap, model_path: explainer.shap,
                                          underlying_model_flavor}
      explainer.shap    the explainer's own ``save`` (without the model when it is saved below)
      underlying_model/ the explained scikit-learn or PyTorch model, saved with fluvial's flavor

pyfunc ``predict(df)`` returns the SHAP values of ``df`` (``explainer(df.values).values``).
"""

from __future__ import annotations

import os
import tempfile
import types
import warnings
from typing import Any

from fluvial._internal.lazy import require
from fluvial.models.flavor import default_requirements, load_flavor_dir, log_flavor_model, new_model_dir
from fluvial.models.model import Model, ModelInfo, flavor_conf
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "shap"
LOADER_MODULE = "mlflow.shap"  # MLflow's name, so MLflow loads what fluvial saves
EXPLAINER_FILE = "explainer.shap"
UNDERLYING_MODEL_DIR = "underlying_model"
UNKNOWN_FLAVOR = "unknown"
DEFAULT_ARTIFACT_PATH = "model_explanations_shap"
MAX_BACKGROUND_ROWS = 100


def _require() -> Any:
    return require("shap")


def get_default_pip_requirements() -> list[str]:
    return default_requirements("shap")


def get_underlying_model_flavor(model: Any) -> str:
    """``sklearn`` for a scikit-learn estimator's method, ``pytorch`` for a torch module, else ``unknown``."""
    inner = getattr(model, "inner_model", None)
    if inner is None:
        return UNKNOWN_FLAVOR
    if isinstance(inner, types.MethodType):
        try:
            import sklearn.base

            if isinstance(inner.__self__, sklearn.base.BaseEstimator):
                return "sklearn"
        except ImportError:
            pass
    try:
        import torch

        if isinstance(inner, torch.nn.Module):
            return "pytorch"
    except ImportError:
        pass
    return UNKNOWN_FLAVOR


def log_explanation(predict_function: Any, features: Any, artifact_path: str | None = None) -> str:
    """Explain ``predict_function`` on ``features`` with SHAP's KernelExplainer and log the base values,
    the SHAP values and a summary bar plot to the active run; returns the explanation's artifact URI."""
    import numpy as np

    shap = _require()
    require("matplotlib", "dev")
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import fluvial
    from fluvial.autologging.patching import autologging_disabled

    artifact_path = DEFAULT_ARTIFACT_PATH if artifact_path is None else artifact_path
    with autologging_disabled(), tempfile.TemporaryDirectory() as tmp:
        background = shap.kmeans(features, min(MAX_BACKGROUND_ROWS, len(features)))
        explainer = shap.KernelExplainer(predict_function, background)
        shap_values = explainer.shap_values(features)
        np.save(os.path.join(tmp, "base_values.npy"), explainer.expected_value)
        np.save(os.path.join(tmp, "shap_values.npy"), shap_values)
        shap.summary_plot(shap_values, features, plot_type="bar", show=False)
        fig = plt.gcf()
        fig.tight_layout()
        fig.savefig(os.path.join(tmp, "summary_bar_plot.png"))
        plt.close(fig)
        for name in ("base_values.npy", "shap_values.npy", "summary_bar_plot.png"):
            fluvial.log_artifact(os.path.join(tmp, name), artifact_path)
        run = fluvial.active_run()
        assert run is not None  # log_artifact started one if there was none
        return run.info.artifact_uri.rstrip("/") + "/" + artifact_path


def _underlying_requirements(model_dir: str) -> list[str]:
    path = os.path.join(model_dir, "requirements.txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith("mlflow")]


def save_explainer(
    explainer: Any,
    path: str,
    serialize_model_using_mlflow: bool = True,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save a SHAP explainer; a scikit-learn or PyTorch model it explains is saved with that flavor in
    ``underlying_model/`` (``serialize_model_using_mlflow=False``: inside the explainer file by SHAP)."""
    shap = _require()
    flavor = UNKNOWN_FLAVOR
    with new_model_dir(path, mlflow_model, code_paths) as target:
        defaults = get_default_pip_requirements()
        by_fluvial = False
        if serialize_model_using_mlflow:
            flavor = get_underlying_model_flavor(explainer.model)
            underlying = target.file(UNDERLYING_MODEL_DIR)
            if flavor == "sklearn":
                import fluvial.sklearn

                fluvial.sklearn.save_model(explainer.model.inner_model.__self__, underlying)
            elif flavor == "pytorch":
                import fluvial.pytorch

                fluvial.pytorch.save_model(explainer.model.inner_model, underlying)
            else:
                warnings.warn("Unable to serialize underlying model using MLflow, will use SHAP serialization",
                              stacklevel=2)
            by_fluvial = flavor != UNKNOWN_FLAVOR
            if by_fluvial:
                defaults = list(dict.fromkeys(defaults + _underlying_requirements(underlying)))
        with open(target.file(EXPLAINER_FILE), "wb") as f:
            if by_fluvial:
                explainer.save(f, model_saver=False)
            else:
                explainer.save(f)
        add_to_model(target.model, LOADER_MODULE, code=target.code, model_path=EXPLAINER_FILE,
                     underlying_model_flavor=flavor)
        target.model.add_flavor(FLAVOR_NAME, shap_version=shap.__version__, serialized_explainer=EXPLAINER_FILE,
                                underlying_model_flavor=flavor, code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=None, default_pip_requirements=defaults,
            pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements, conda_env=conda_env,
            metadata=metadata,
        )


save_model = save_explainer


def log_explainer(
    explainer: Any,
    artifact_path: str | None = None,
    serialize_model_using_mlflow: bool = True,
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
    """Log a SHAP explainer as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, explainer=explainer,
        serialize_model_using_mlflow=serialize_model_using_mlflow, conda_env=conda_env, code_paths=code_paths,
        signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
    )


def _load(model_dir: str, conf: dict[str, Any]) -> Any:
    shap = _require()
    model = None
    flavor = conf.get("underlying_model_flavor", UNKNOWN_FLAVOR)
    underlying = os.path.join(model_dir, UNDERLYING_MODEL_DIR)
    if flavor == "sklearn":
        import fluvial.sklearn

        model = fluvial.sklearn._load_pyfunc(underlying).predict
    elif flavor == "pytorch":
        from fluvial.flavors.pytorch import _load_model

        model = _load_model(os.path.join(underlying, "data"))
    with open(os.path.join(model_dir, conf["serialized_explainer"]), "rb") as f:
        if model is None:
            return shap.Explainer.load(f)
        return shap.Explainer.load(f, model_loader=lambda _file: model)


def load_explainer(model_uri: str) -> Any:
    """The SHAP explainer, with its underlying model loaded back through its flavor."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME)
    return _load(model_dir, conf)


class _SHAPWrapper:
    def __init__(self, explainer: Any) -> None:
        self.explainer = explainer

    def get_raw_model(self) -> Any:
        return self.explainer

    def predict(self, dataframe: Any, params: dict[str, Any] | None = None) -> Any:
        return self.explainer(dataframe.values).values


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _SHAPWrapper:
    """The pyfunc loader (``loader_module: mlflow.shap``); ``path`` is the model directory."""
    model_dir, conf = flavor_conf(path, FLAVOR_NAME)
    return _SHAPWrapper(_load(model_dir, conf))
