"""The statsmodels flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader, in
MLflow's format: the fitted results pickled with statsmodels' own ``save`` as ``model.statsmodels``,
flavor entry ``{statsmodels_version, data, code}``. The pyfunc ``predict`` calls ``results.predict`` on
the DataFrame; for a time-series model the DataFrame has one row with ``start`` and ``end``."""

from __future__ import annotations

from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import MlflowException
from fluvial.models.flavor import (
    RawModelWrapper,
    default_requirements,
    load_flavor_dir,
    log_flavor_model,
    new_model_dir,
)
from fluvial.models.model import Model, ModelInfo, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "statsmodels"
LOADER_MODULE = "mlflow.statsmodels"  # MLflow's name, so MLflow loads what fluvial saves
DATA_FILE = "model.statsmodels"


def get_default_pip_requirements() -> list[str]:
    return default_requirements("statsmodels")


def save_model(
    statsmodels_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    remove_data: bool = False,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save fitted statsmodels results (``remove_data=True`` drops the training arrays first)."""
    statsmodels = require("statsmodels")

    if not hasattr(statsmodels_model, "save") or not hasattr(statsmodels_model, "predict"):
        raise MlflowException(
            f"save_model expects fitted statsmodels results (with save and predict), got {type(statsmodels_model).__name__}")
    with new_model_dir(path, mlflow_model, code_paths) as target:
        statsmodels_model.save(target.file(DATA_FILE), remove_data)
        add_to_model(target.model, LOADER_MODULE, data=DATA_FILE, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, statsmodels_version=statsmodels.__version__, data=DATA_FILE,
                                code=target.code)
        target.finish(
            signature=signature, input_example=input_example, predict=_StatsmodelsModelWrapper(statsmodels_model).predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    statsmodels_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    remove_data: bool = False,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log fitted statsmodels results as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, statsmodels_model=statsmodels_model,
        conda_env=conda_env, code_paths=code_paths, remove_data=remove_data, signature=signature,
        input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, **kwargs,
    )


def _load_model(path: str) -> Any:
    require("statsmodels")
    import statsmodels.iolib.api as smio

    return smio.load_pickle(path)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The fitted statsmodels results of a model with the statsmodels flavor."""
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load_model(model_file(model_dir, conf.get("data", DATA_FILE)))


class _StatsmodelsModelWrapper(RawModelWrapper):
    raw_attribute = "statsmodels_model"

    def predict(self, dataframe: Any, params: dict[str, Any] | None = None) -> Any:
        from statsmodels.tsa.base.tsa_model import TimeSeriesModel

        if isinstance(self.get_raw_model().model, TimeSeriesModel):
            if dataframe.shape[0] != 1 or not ("start" in dataframe.columns and "end" in dataframe.columns):
                raise MlflowException(
                    "prediction dataframes for a TimeSeriesModel must have exactly one row and include columns "
                    "called start and end")
            return self.get_raw_model().predict(start=dataframe["start"].iloc[0], end=dataframe["end"].iloc[0])
        return self.get_raw_model().predict(dataframe)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _StatsmodelsModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.statsmodels``); ``path`` is the data file."""
    return _StatsmodelsModelWrapper(_load_model(path))


from fluvial.flavors.statsmodels.autolog import autolog  # noqa: E402, F401
