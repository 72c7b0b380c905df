"""The ONNX flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader (ONNX Runtime), in
MLflow's format: ``model.onnx`` (large tensors in external files with ``save_as_external_data``), flavor
entry ``{onnx_version, data, providers, onnx_session_options, code}``.

The pyfunc ``predict`` feeds a dict as is, an array to the model's single input, a DataFrame's values to
a single input or its columns by name to several inputs; float64 is cast to float32 where the model
wants floats. A DataFrame in gives a DataFrame out (one column per output, flattened); otherwise a dict
of output name -> array."""

from __future__ import annotations

import os
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
from fluvial.models.model import MLMODEL_FILE_NAME, Model, ModelInfo, model_file
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "onnx"
LOADER_MODULE = "mlflow.onnx"  # MLflow's name, so MLflow loads what fluvial saves
DATA_FILE = "model.onnx"
ONNX_EXECUTION_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def get_default_pip_requirements() -> list[str]:
    return default_requirements("onnx", "onnxruntime")


def save_model(
    onnx_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    onnx_execution_providers: list[str] | None = None,
    onnx_session_options: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    save_as_external_data: bool = True,
) -> None:
    """Save an ONNX ``ModelProto``."""
    onnx = require("onnx")

    if not isinstance(onnx_model, onnx.ModelProto):
        raise MlflowException(f"save_model expects an onnx.ModelProto, got {type(onnx_model).__name__}")
    providers = list(onnx_execution_providers or ONNX_EXECUTION_PROVIDERS)
    with new_model_dir(path, mlflow_model, code_paths) as target:
        onnx.checker.check_model(onnx_model)
        onnx.save_model(onnx_model, target.file(DATA_FILE), save_as_external_data=save_as_external_data)
        add_to_model(target.model, LOADER_MODULE, data=DATA_FILE, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, onnx_version=onnx.__version__, data=DATA_FILE, providers=providers,
                                onnx_session_options=onnx_session_options, code=target.code)

        def predict(data: Any) -> Any:
            target.model.save(target.file(MLMODEL_FILE_NAME))  # the wrapper reads its options from it
            return _OnnxModelWrapper(target.file(DATA_FILE)).predict(data)

        target.finish(
            signature=signature, input_example=input_example, predict=predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    onnx_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    onnx_execution_providers: list[str] | None = None,
    onnx_session_options: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    save_as_external_data: bool = True,
    name: str | None = None,
) -> ModelInfo:
    """Log an ONNX model as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, onnx_model=onnx_model,
        conda_env=conda_env, code_paths=code_paths, signature=signature, input_example=input_example,
        pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
        onnx_execution_providers=onnx_execution_providers, onnx_session_options=onnx_session_options,
        save_as_external_data=save_as_external_data,
    )


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The ``onnx.ModelProto`` (external tensors loaded)."""
    onnx = require("onnx")

    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return onnx.load(model_file(model_dir, conf.get("data", DATA_FILE)))


def _session_options(onnxruntime: Any, options: dict[str, Any] | None) -> Any:
    sess_options = onnxruntime.SessionOptions()
    options = options or {}
    if options.get("inter_op_num_threads"):
        sess_options.inter_op_num_threads = options["inter_op_num_threads"]
    if options.get("intra_op_num_threads"):
        sess_options.intra_op_num_threads = options["intra_op_num_threads"]
    mode = str(options.get("execution_mode") or "").upper()
    if mode == "SEQUENTIAL":
        sess_options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    elif mode == "PARALLEL":
        sess_options.execution_mode = onnxruntime.ExecutionMode.ORT_PARALLEL
    if options.get("graph_optimization_level"):
        sess_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel(options["graph_optimization_level"])
    for key, value in (options.get("extra_session_config") or {}).items():
        sess_options.add_session_config_entry(key, value)
    return sess_options


class _OnnxModelWrapper(RawModelWrapper):
    raw_attribute = "rt"

    def __init__(self, path: str, providers: list[str] | None = None) -> None:
        onnxruntime = require("onnxruntime")
        meta = Model.load(os.path.join(os.path.dirname(path), MLMODEL_FILE_NAME))
        conf = meta.flavors.get(FLAVOR_NAME) or {}
        wanted = conf.get("providers") or providers or ONNX_EXECUTION_PROVIDERS
        available = set(onnxruntime.get_available_providers())
        usable = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        super().__init__(onnxruntime.InferenceSession(
            path, sess_options=_session_options(onnxruntime, conf.get("onnx_session_options")), providers=usable))
        self.inputs = [(i.name, i.type) for i in self.get_raw_model().get_inputs()]
        self.output_names = [o.name for o in self.get_raw_model().get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(data, dict):
            feeds = dict(data)
        elif isinstance(data, np.ndarray):
            if len(self.inputs) != 1:
                raise MlflowException(
                    "Unable to map numpy array input to the expected model input. Numpy arrays can only be used as "
                    f"input for ONNX models that have a single input. This model requires {len(self.inputs)} "
                    f"inputs. Please pass in data as either a dictionary or a DataFrame with the following tensors: "
                    f"{[name for name, _ in self.inputs]}.")
            feeds = {self.inputs[0][0]: data}
        elif isinstance(data, pd.DataFrame):
            if len(self.inputs) > 1:
                feeds = {name: data[name].values for name, _ in self.inputs}
            else:
                feeds = {self.inputs[0][0]: data.values}
        else:
            raise TypeError(f"Input should be a dictionary or a numpy array or a pandas.DataFrame, got '{type(data)}'")
        for name, kind in self.inputs:  # scoring payloads arrive as float64
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and getattr(feed, "dtype", None) == np.float64:
                feeds[name] = feed.astype(np.float32)
        predicted = self.get_raw_model().run(self.output_names, feeds)
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame.from_dict(
                {name: np.asarray(out).reshape(-1) for name, out in zip(self.output_names, predicted, strict=True)})
        return dict(zip(self.output_names, predicted, strict=True))


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _OnnxModelWrapper:
    """The pyfunc loader (``loader_module: mlflow.onnx``); ``path`` is ``model.onnx``."""
    return _OnnxModelWrapper(path)
