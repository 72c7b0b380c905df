"""The sentence-transformers flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader,
in MLflow 2.x's format::

    model/
      MLmodel    sentence_transformers: {sentence_transformers_version, source_model_name,
                                         pipeline_model_type, code}
                 python_function: {loader_module: mlflow.sentence_transformers,
                                   data: model.sentence_transformer}
      model.sentence_transformer/   the model's own ``save``

pyfunc ``predict`` is ``model.encode`` (a string, a list of strings or a one-column DataFrame in; a float
array out; ``params`` go to ``encode``). MLflow's ``task="llm/v1/embeddings"`` is not supported.
"""

from __future__ import annotations

import os
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
from fluvial.models.model import Model, ModelInfo
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "sentence_transformers"
LOADER_MODULE = "mlflow.sentence_transformers"  # MLflow's name, so MLflow loads what fluvial saves
DATA_PATH = "model.sentence_transformer"


def _require() -> Any:
    return require("sentence_transformers")


def get_default_pip_requirements() -> list[str]:
    return default_requirements("sentence-transformers", "transformers", "torch")


def _default_signature() -> Any:
    import numpy as np

    from fluvial.models.schema import ColSpec, Schema, TensorSpec
    from fluvial.models.signature import ModelSignature

    return ModelSignature(Schema([ColSpec("string")]), Schema([TensorSpec(np.dtype("float64"), [-1])]))


def _model_metadata(model: Any) -> dict[str, str]:
    from sentence_transformers.models import Transformer

    for module in model.modules():
        if isinstance(module, Transformer):
            inner = module.auto_model
            return {"source_model_name": inner.name_or_path, "pipeline_model_type": type(inner).__name__}
    return {}


def save_model(
    model: Any,
    path: str,
    task: str | None = None,
    inference_config: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    metadata: dict[str, Any] | None = None,
    example_no_conversion: bool | None = None,
) -> None:
    """Save a ``SentenceTransformer`` in MLflow's sentence_transformers format."""
    sentence_transformers = _require()
    del example_no_conversion  # deprecated in MLflow 2.16 and without effect there too
    if task is not None:
        raise InvalidParameterValue(f"task={task!r} (MLflow's LLM embeddings task) is not supported by fluvial.")
    if not isinstance(model, sentence_transformers.SentenceTransformer):
        raise InvalidParameterValue(f"save_model expects a SentenceTransformer, got {type(model).__name__}")
    if signature is None and input_example is None:
        signature = _default_signature()
    with new_model_dir(path, mlflow_model, code_paths) as target:
        model.save(target.file(DATA_PATH))
        if inference_config:
            import json

            with open(target.file("inference_config"), "w") as f:
                json.dump(inference_config, f)
        add_to_model(target.model, LOADER_MODULE, data=DATA_PATH, code=target.code)
        target.model.add_flavor(FLAVOR_NAME, sentence_transformers_version=sentence_transformers.__version__,
                                code=target.code, **_model_metadata(model))
        target.finish(
            signature=signature, input_example=input_example, predict=_Wrapper(model).predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def log_model(
    model: Any,
    artifact_path: str | None = None,
    task: str | None = None,
    inference_config: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    metadata: dict[str, Any] | None = None,
    example_no_conversion: bool | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Log a ``SentenceTransformer`` as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, model=model, task=task,
        inference_config=inference_config, code_paths=code_paths, signature=signature, input_example=input_example,
        pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements, conda_env=conda_env,
        example_no_conversion=example_no_conversion,
    )


def _load(path: str) -> Any:
    # trust_remote_code as MLflow: the whole repository travels with the model, nothing is fetched
    return _require().SentenceTransformer(os.path.abspath(path), trust_remote_code=True)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The ``SentenceTransformer``."""
    model_dir, _ = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    return _load(os.path.join(model_dir, DATA_PATH))


class _Wrapper(RawModelWrapper):
    def predict(self, sentences: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if isinstance(sentences, pd.DataFrame):
            sentences = sentences.iloc[:, 0]
            if isinstance(sentences.iloc[0], list):
                sentences = sentences.iloc[0]
            else:
                sentences = sentences.tolist()
        if not params:
            return self.get_raw_model().encode(sentences)
        try:
            return self.get_raw_model().encode(sentences, **params)
        except TypeError as exc:
            raise InvalidParameterValue(f"Received invalid parameter value for `params` argument: {exc}") from exc


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _Wrapper:
    """The pyfunc loader (``loader_module: mlflow.sentence_transformers``); ``path`` is the data directory."""
    if (model_config or {}).get("task"):
        raise InvalidParameterValue("MLflow's LLM embeddings task is not supported by fluvial.")
    return _Wrapper(_load(path))
