"""Custom Python models: ``PythonModel``, ``PythonModelContext``, and the ``python_model.pkl`` format
(``loader_module: mlflow.pyfunc.model``), read and written as MLflow does."""

from __future__ import annotations

import inspect
import os
import shutil
from abc import ABCMeta
from collections.abc import Callable
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.model import MLMODEL_FILE_NAME, Model, model_file

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
LOADER_MODULE = "mlflow.pyfunc.model"  # MLflow's name, so MLflow loads what fluvial saves


class PythonModel(metaclass=ABCMeta):  # noqa: B024 - subclasses may implement only predict
    """Base class of custom models: implement ``predict(context, model_input, params=None)`` and
    optionally ``load_context(context)``, called once when the model is loaded."""

    def load_context(self, context: PythonModelContext) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Load artifacts or state from ``context``; called once after the model is unpickled."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("PythonModel subclasses must implement predict(context, model_input, params=None)")

    def predict_stream(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("This model does not support streaming predictions")


class PythonModelContext:
    """What a custom model sees at load and predict time: its artifacts (name -> absolute local path)
    and its model configuration."""

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any] | None) -> None:
        self._artifacts = artifacts
        self._model_config = model_config or {}

    @property
    def artifacts(self) -> dict[str, str]:
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any]:
        return self._model_config


class _FunctionModel(PythonModel):
    """A plain callable given as ``python_model``: ``fn(model_input)``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.fn(model_input)


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class PythonModelWrapper:
    """The pyfunc implementation of a custom model: adapts ``predict(model_input, params)`` to the
    user's ``predict``, with or without ``context`` and ``params`` (MLflow 2.20+ allows both forms)."""

    def __init__(self, python_model: PythonModel, context: PythonModelContext) -> None:
        self.python_model: Any = python_model  # user classes define predict with or without context/params
        self.context = context
        predict = python_model.predict
        self._with_context = _takes(predict, "context")
        self._with_params = _takes(predict, "params")

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        args: list[Any] = [self.context] if self._with_context else []
        kwargs = {"params": params} if self._with_params else {}
        return self.python_model.predict(*args, model_input, **kwargs)

    def predict_stream(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        args: list[Any] = [self.context] if _takes(self.python_model.predict_stream, "context") else []
        return self.python_model.predict_stream(*args, model_input, params=params)

    def get_raw_model(self) -> PythonModel:
        return self.python_model


def copy_artifacts(artifacts: dict[str, str], model_dir: str) -> dict[str, dict[str, str]]:
    """Copy (downloading when remote) each artifact into ``artifacts/``; the MLmodel ``artifacts`` block."""
    from fluvial.models.uri import download_model

    if not artifacts:
        return {}
    target = os.path.join(model_dir, ARTIFACTS_DIR)
    os.makedirs(target, exist_ok=True)
    block: dict[str, dict[str, str]] = {}
    for name, uri in artifacts.items():
        source = download_model(uri)
        base = os.path.basename(os.path.normpath(source))
        dest = os.path.join(target, base)
        if os.path.exists(dest):
            raise InvalidParameterValue(f"Two artifacts would be copied to artifacts/{base}; rename one of them")
        if os.path.isdir(source):
            shutil.copytree(source, dest)
        else:
            shutil.copy2(source, dest)
        block[name] = {"path": f"{ARTIFACTS_DIR}/{base}", "uri": str(uri)}
    return block


def save_python_model(model_dir: str, python_model: Any) -> None:
    from fluvial.pyfunc import pickling

    if not isinstance(python_model, PythonModel):
        if callable(python_model):
            python_model = _FunctionModel(python_model)
        else:
            raise InvalidParameterValue(
                f"python_model must be a PythonModel subclass instance or a callable, got {type(python_model).__name__}"
            )
    with open(os.path.join(model_dir, PYTHON_MODEL_FILE), "wb") as fh:
        pickling.dump(python_model, fh)


def _load_pyfunc(model_path: str, model_config: dict[str, Any] | None = None) -> PythonModelWrapper:
    """The loader of ``loader_module: mlflow.pyfunc.model``: unpickle, build the context, load_context."""
    from fluvial.pyfunc import pickling

    model_dir = model_path if os.path.isdir(model_path) else os.path.dirname(model_path)
    conf = Model.load(os.path.join(model_dir, MLMODEL_FILE_NAME)).flavors.get("python_function", {})
    pickle_path = model_file(model_dir, conf.get("python_model", PYTHON_MODEL_FILE))
    try:
        with open(pickle_path, "rb") as fh:
            python_model = pickling.load(fh)
    except FileNotFoundError:
        raise MlflowException(f"The model's {PYTHON_MODEL_FILE} is missing from {model_dir}") from None
    except Exception as exc:
        raise MlflowException(
            f"Could not unpickle the custom model in {pickle_path}: {type(exc).__name__}: {exc}. The class must be "
            "importable (add its module with code_paths) and the file must not be corrupt."
        ) from exc
    artifacts = {
        name: model_file(model_dir, entry["path"]) for name, entry in (conf.get("artifacts") or {}).items()
    }
    # pyfunc.load_model hands over the saved config with its overrides applied (MLflow's rule)
    config = dict(model_config if model_config is not None else conf.get("config") or {})
    context = PythonModelContext(artifacts, config)
    if hasattr(python_model, "load_context"):
        python_model.load_context(context)
    return PythonModelWrapper(python_model, context)
