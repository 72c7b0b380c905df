"""``save_model`` / ``log_model`` for custom Python models (a ``PythonModel``, a function, or a Python
file: a model from code) and loader-module models."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.flavor import ModelDir, log_flavor_model, new_model_dir
from fluvial.models.model import Model, ModelInfo
from fluvial.models.saving import FLAVOR_NAME, add_to_model
from fluvial.pyfunc import model as python_model_flavor

CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"  # MLflow's name, so MLflow loads what fluvial saves


def _refuse_unsupported(resources: Any, auth_policy: Any, prompts: Any) -> None:
    """MLflow options fluvial does not implement: an error, never silently dropped."""
    for option, value in (("resources", resources), ("auth_policy", auth_policy), ("prompts", prompts)):
        if value is not None:
            raise MlflowException(f"{option}= (Databricks model serving / prompt registry) is not supported by fluvial.",
                                  error_code="NOT_IMPLEMENTED")


def _default_requirements() -> list[str]:
    from fluvial.models.requirements import pinned_requirement as pinned

    return [pinned("cloudpickle")]


def save_model(
    path: str,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_path: list[str] | None = None,
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
    model_config: dict[str, Any] | str | os.PathLike[str] | None = None,
    example_no_conversion: bool | None = None,
    streamable: bool | None = None,
    resources: Any = None,
    auth_policy: Any = None,
    **kwargs: Any,
) -> None:
    """Save a custom model (``python_model=`` an instance, a function, or the path of a Python file
    that calls ``set_model``; with ``artifacts``) or a loader-module model (``loader_module=`` and
    ``data_path=``) in MLflow's pyfunc format. ``infer_code_paths=True`` saves the local modules the
    model imports when it loads."""
    if (python_model is None) == (loader_module is None):
        raise InvalidParameterValue(
            "Either `loader_module` or `python_model` must be specified. A `loader_module` should be a python "
            "module. A `python_model` should be a subclass of PythonModel"
        )
    mlflow_model = kwargs.pop("model", mlflow_model)  # MLflow's other spelling
    if kwargs:
        raise TypeError(f"save_model() got unexpected keyword arguments: {sorted(kwargs)}")
    _refuse_unsupported(resources, auth_policy, None)
    if example_no_conversion is not None:
        import warnings

        warnings.warn("example_no_conversion is deprecated (MLflow 2.16) and has no effect.", FutureWarning,
                      stacklevel=2)
    if artifacts and python_model is None:
        raise InvalidParameterValue("artifacts= goes with python_model=, not with loader_module=")
    code_paths = code_paths or code_path
    if infer_code_paths and code_paths:
        raise MlflowException("If 'infer_code_path' is set to True, 'code_paths' param cannot be set.")
    from fluvial.models.from_code import model_config_dict

    config = model_config_dict(model_config)
    with new_model_dir(path, mlflow_model, code_paths) as target:
        if isinstance(python_model, (str, os.PathLike)):
            predict = _add_code_model(target, python_model, artifacts, config, streamable,
                                      need_predict=input_example is not None and signature is None)
        elif python_model is not None:
            predict = _add_python_model(target, python_model, artifacts, config, streamable)
        else:
            predict = None
            data = None
            if data_path is not None:
                data = os.path.basename(os.path.normpath(data_path))
                dest = target.file(data)
                if os.path.isdir(data_path):
                    shutil.copytree(data_path, dest)
                else:
                    shutil.copy2(data_path, dest)
            add_to_model(target.model, loader_module, data=data, code=target.code, model_config=config)  # type: ignore[arg-type]
        if infer_code_paths:
            from fluvial.models.code_paths import infer_and_copy_code_paths

            target.code = infer_and_copy_code_paths(target.path, target.model)
            if target.code:
                target.model.flavors[FLAVOR_NAME]["code"] = target.code
        target.finish(
            signature=signature, input_example=input_example, predict=predict,
            default_pip_requirements=_default_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def _flavor_params(artifacts_block: dict[str, Any], streamable: bool) -> dict[str, Any]:
    import cloudpickle

    extra: dict[str, Any] = {"cloudpickle_version": cloudpickle.__version__, "streamable": bool(streamable)}
    if artifacts_block:
        extra["artifacts"] = artifacts_block
    return extra


def _lazy_predict(build: Callable[[], Any]) -> Callable[[Any], Any]:
    """A predict function that builds the pyfunc wrapper on first use (signature inference only)."""
    wrapper = None

    def predict(data: Any) -> Any:
        nonlocal wrapper
        if wrapper is None:
            wrapper = build()
            if hasattr(wrapper.python_model, "load_context"):
                wrapper.python_model.load_context(wrapper.context)
        return wrapper.predict(data)

    return predict


def _add_python_model(target: ModelDir, python_model: Any, artifacts: dict[str, str] | None,
                      config: dict[str, Any] | None, streamable: bool | None) -> Callable[[Any], Any]:
    block = python_model_flavor.copy_artifacts(artifacts or {}, target.path)
    python_model_flavor.save_python_model(target.path, python_model)
    if streamable is None:  # streamable when the class implements predict_stream itself
        base = python_model_flavor.PythonModel.predict_stream
        streamable = getattr(type(python_model), "predict_stream", base) is not base
    add_to_model(target.model, python_model_flavor.LOADER_MODULE, code=target.code, model_config=config,
                 python_model=python_model_flavor.PYTHON_MODEL_FILE, **_flavor_params(block, streamable))

    def build() -> Any:
        model = python_model if isinstance(python_model, python_model_flavor.PythonModel) \
            else python_model_flavor._FunctionModel(python_model)
        context = python_model_flavor.PythonModelContext(
            {k: os.path.join(target.path, v["path"]) for k, v in block.items()}, config)
        return python_model_flavor.PythonModelWrapper(model, context)

    return _lazy_predict(build)


def _add_code_model(target: ModelDir, python_model: str | os.PathLike[str], artifacts: dict[str, str] | None,
                    config: dict[str, Any] | None, streamable: bool | None,
                    need_predict: bool) -> Callable[[Any], Any] | None:
    """A model from code: the file is copied next to MLmodel and recorded as ``model_code_path`` (its
    original absolute path, as MLflow writes it; loaders use the file name). It runs at save time only
    when the signature is inferred from an input example."""
    from fluvial.models.from_code import code_file

    source = code_file(python_model)
    shutil.copy2(source, target.file(os.path.basename(source)))
    block = python_model_flavor.copy_artifacts(artifacts or {}, target.path)
    add_to_model(target.model, CODE_MODEL_LOADER, code=target.code, model_config=config,
                 model_code_path=source, **_flavor_params(block, bool(streamable)))
    if not need_predict:
        return None

    def build() -> Any:
        from fluvial.pyfunc.loaders.code_model import _load_pyfunc

        target.model.save(target.file("MLmodel"))  # the loader reads the flavor block from it
        return _load_pyfunc(target.path)

    wrapper = None

    def predict(data: Any) -> Any:
        nonlocal wrapper
        if wrapper is None:
            wrapper = build()
        return wrapper.predict(data)

    return predict


def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_path: list[str] | None = None,
    code_paths: list[str] | None = None,
    infer_code_paths: bool = False,
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
    model_config: dict[str, Any] | str | os.PathLike[str] | None = None,
    example_no_conversion: bool | None = None,
    streamable: bool | None = None,
    resources: Any = None,
    auth_policy: Any = None,
    prompts: Any = None,
    name: str | None = None,
) -> ModelInfo:
    """Log a custom or loader-module model as artifacts of the active run (``name=`` is MLflow 3's
    spelling of ``artifact_path``)."""
    _refuse_unsupported(resources, auth_policy, prompts)
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, loader_module=loader_module,
        data_path=data_path, code_path=code_path, code_paths=code_paths, infer_code_paths=infer_code_paths,
        conda_env=conda_env, python_model=python_model, artifacts=artifacts, signature=signature,
        input_example=input_example, pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements, model_config=model_config, streamable=streamable,
        example_no_conversion=example_no_conversion,
    )
