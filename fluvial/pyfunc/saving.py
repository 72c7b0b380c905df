"""``save_model`` / ``log_model`` for custom Python models and loader-module models."""

from __future__ import annotations

import os
import shutil
from typing import Any

from fluvial.exceptions import InvalidParameterValue
from fluvial.models.flavor import log_flavor_model, new_model_dir
from fluvial.models.model import Model, ModelInfo
from fluvial.models.saving import add_to_model
from fluvial.pyfunc import model as python_model_flavor


def _default_requirements() -> list[str]:
    from fluvial.models.requirements import pinned_requirement as pinned

    return [pinned("cloudpickle")]


def save_model(
    path: str,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: list[str] | None = None,
    infer_code_paths: bool = False,
    conda_env: Any = None,
    mlflow_model: Model | None = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | str | None = None,
    streamable: bool | None = None,
    code_path: list[str] | None = None,
    **kwargs: Any,
) -> None:
    """Save a custom model (``python_model=``, with ``artifacts``) or a loader-module model
    (``loader_module=`` and ``data_path=``) in MLflow's pyfunc format."""
    if (python_model is None) == (loader_module is None):
        raise InvalidParameterValue(
            "Either `loader_module` or `python_model` must be specified. A `loader_module` should be a python "
            "module. A `python_model` should be a subclass of PythonModel"
        )
    if kwargs:
        raise TypeError(f"save_model() got unexpected keyword arguments: {kwargs}")
    if artifacts and python_model is None:
        raise InvalidParameterValue("artifacts= goes with python_model=, not with loader_module=")
    config = model_config
    if isinstance(config, str):
        import yaml

        with open(config, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    with new_model_dir(path, mlflow_model, code_paths or code_path) as target:
        path, mlflow_model, code = target.path, target.model, target.code
        if python_model is not None:
            block = python_model_flavor.copy_artifacts(artifacts or {}, path)
            python_model_flavor.save_python_model(path, python_model)
            import cloudpickle

            if streamable is None:  # streamable when the class implements predict_stream itself
                base = python_model_flavor.PythonModel.predict_stream
                streamable = getattr(type(python_model), "predict_stream", base) is not base
            extra: dict[str, Any] = {"python_model": python_model_flavor.PYTHON_MODEL_FILE,
                                     "cloudpickle_version": cloudpickle.__version__, "streamable": bool(streamable)}
            if block:
                extra["artifacts"] = block
            add_to_model(mlflow_model, python_model_flavor.LOADER_MODULE, code=code, model_config=config, **extra)
            wrapper = None

            def predict(data: Any) -> Any:
                nonlocal wrapper
                if wrapper is None:
                    wrapper = python_model_flavor.PythonModelWrapper(
                        python_model if isinstance(python_model, python_model_flavor.PythonModel)
                        else python_model_flavor._FunctionModel(python_model),
                        python_model_flavor.PythonModelContext(
                            {k: os.path.join(path, v["path"]) for k, v in block.items()}, config),
                    )
                    if hasattr(wrapper.python_model, "load_context"):
                        wrapper.python_model.load_context(wrapper.context)
                return wrapper.predict(data)
        else:
            data = None
            if data_path is not None:
                data = os.path.basename(os.path.normpath(data_path))
                dest = os.path.join(path, data)
                if os.path.isdir(data_path):
                    shutil.copytree(data_path, dest)
                else:
                    shutil.copy2(data_path, dest)
            add_to_model(mlflow_model, loader_module, data=data, code=code, model_config=config)  # type: ignore[arg-type]
            predict = None  # type: ignore[assignment]
        target.finish(
            signature=signature, input_example=input_example, predict=predict,
            default_pip_requirements=_default_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: list[str] | None = None,
    conda_env: Any = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | str | None = None,
    streamable: bool | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Log a custom or loader-module model as artifacts of the active run (``name=`` is MLflow 3's
    spelling of ``artifact_path``)."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, loader_module=loader_module,
        data_path=data_path, code_paths=code_paths, conda_env=conda_env, python_model=python_model,
        artifacts=artifacts, signature=signature, input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, model_config=model_config, streamable=streamable,
    )
