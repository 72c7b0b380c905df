"""Models from code: a Python file that builds the model and hands it over with ``set_model``.

``pyfunc.save_model(python_model="model.py", model_config=...)`` copies the file into the model
directory (MLmodel: ``loader_module: mlflow.pyfunc.loaders.code_model``, ``model_code_path``,
``config``); the file is executed when the model is loaded (and at save time only when an input
example asks for the model's output to infer the signature). While it runs, ``ModelConfig()`` reads
the model's configuration.

Model code written for MLflow does ``import mlflow``. When MLflow is not installed, fluvial runs such
code with ``mlflow`` and its submodules resolved to fluvial's (``mlflow.pyfunc`` is ``fluvial.pyfunc``);
those names then stay in ``sys.modules`` for the rest of the process, so the model's functions can
still use them when they predict. When MLflow itself loads a model whose code calls fluvial's
``set_model``, the model is handed to MLflow's ``set_model`` too.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException

# The model handed over by ``set_model`` while a model file runs (MLflow's global name).
__mlflow_model__: Any = None
# The configuration ``ModelConfig`` reads: None outside of loading (then development_config is used),
# "" while loading a model saved without model_config, else the dict or YAML path.
__mlflow_model_config__: Any = None

SET_MODEL_ERROR = (
    "Model should either be an instance of PythonModel or a callable object (a function); a path is not "
    "a model: pass the path as python_model= to log_model instead."
)


def set_model(model: Any) -> None:
    """Hand the model built by a model file over to ``log_model``/``load_model``."""
    from fluvial.pyfunc.model import PythonModel

    if isinstance(model, str) or not (isinstance(model, PythonModel) or callable(model)):
        raise MlflowException(SET_MODEL_ERROR)
    globals()["__mlflow_model__"] = model
    real = sys.modules.get("mlflow.models")
    if real is not None and not getattr(real, "__name__", "").startswith("fluvial") and hasattr(real, "set_model"):
        # the file is being loaded by MLflow: hand it the model as one of its own PythonModels
        real.set_model(_for_mlflow(model) if isinstance(model, PythonModel) else model)


def _for_mlflow(model: Any) -> Any:
    """A subclass of MLflow's ``PythonModel`` that delegates to fluvial's ``model``."""
    from fluvial.pyfunc.model import PythonModelWrapper

    base = sys.modules["mlflow.pyfunc"].PythonModel

    class FluvialPythonModel(base):  # type: ignore[misc, valid-type]
        def load_context(self, context: Any) -> None:
            model.load_context(context)

        def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
            return PythonModelWrapper(model, context).predict(model_input, params)

        def predict_stream(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
            return PythonModelWrapper(model, context).predict_stream(model_input, params)

    return FluvialPythonModel()


class ModelConfig:
    """The configuration of a model from code: ``model_config`` of ``log_model`` (a dict or a YAML
    file), or at development time ``development_config``."""

    def __init__(self, *, development_config: str | dict[str, Any] | None = None) -> None:
        config = __mlflow_model_config__
        real = sys.modules.get("mlflow.models.model_config")  # the file is being loaded by MLflow
        if config is None and real is not None and not getattr(real, "__name__", "").startswith("fluvial"):
            config = getattr(real, "__mlflow_model_config__", None)
        self.config = config if config is not None else development_config
        if not self.config:
            raise FileNotFoundError(
                "Config file is not provided which is needed to load the model. Please provide a valid path."
            )
        if not isinstance(self.config, dict) and not os.path.isfile(self.config):
            raise FileNotFoundError(f"Config file '{self.config}' not found.")

    def _read(self) -> dict[str, Any]:
        if isinstance(self.config, dict):
            return self.config
        return read_config_file(str(self.config))

    def to_dict(self) -> dict[str, Any]:
        return self._read()

    def get(self, key: str) -> Any:
        data = self._read()
        if data and key in data:
            return data[key]
        raise KeyError(f"Key '{key}' not found in configuration: {data}.")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML model configuration file as a dict."""
    import yaml

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidParameterValue(f"Model config file {path!r} does not exist.")
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise InvalidParameterValue(f"Error parsing YAML file: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"Model config file {path!r} must hold a mapping, got {type(data).__name__}.")
    return data


def model_config_dict(config: str | os.PathLike[str] | dict[str, Any] | None) -> dict[str, Any] | None:
    """``model_config`` as given to save/load: a dict, a YAML file path, or None."""
    if config is None or isinstance(config, dict):
        return config
    if isinstance(config, (str, os.PathLike)):
        return read_config_file(config)
    raise InvalidParameterValue(f"model_config must be a dict or a path to a YAML file, got {type(config).__name__}")


def code_file(python_model: str | os.PathLike[str]) -> str:
    """The absolute path of a model file given as ``python_model``."""
    path = os.path.abspath(os.fspath(python_model))
    if not os.path.isfile(path):
        hint = f" Perhaps you meant '{path}.py'?" if not os.path.splitext(path)[1] else ""
        raise InvalidParameterValue(
            f"The provided model path '{path}' does not exist.{hint} Ensure the file path is valid and try again."
        )
    return path


@contextlib.contextmanager
def _config(config: Any) -> Iterator[None]:
    globals()["__mlflow_model_config__"] = "" if config is None else config
    try:
        yield
    finally:
        globals()["__mlflow_model_config__"] = None


def run_model_file(path: str, config: dict[str, Any] | str | None) -> Any:
    """Execute a model file (as a fresh module) and return what it passed to ``set_model``."""
    globals()["__mlflow_model__"] = None
    with _config(config), mlflow_names_for_fluvial():
        name = f"code_model_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise MlflowException(f"Failed to import code model from {path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:
            raise MlflowException(f"Failed to import code model from {path}. Error: {exc!s}") from exc
        except Exception as exc:
            raise MlflowException(
                f"Failed to run user code from {path}. Error: {exc!s}. Review the stack trace for more information."
            ) from exc
    model = __mlflow_model__
    if model is None:
        raise MlflowException(
            "If the model is logged as code, ensure the model is set using fluvial.models.set_model() "
            "(mlflow.models.set_model()) within the code file."
        )
    return model


class _MlflowAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``mlflow`` and ``mlflow.*`` imports to fluvial's modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "mlflow" and not fullname.startswith("mlflow."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        from fluvial.pyfunc.pickling import fluvial_module_for

        try:
            module = importlib.import_module(fluvial_module_for(spec.name))
        except ImportError as exc:
            raise ImportError(f"{spec.name} (fluvial runs MLflow model code with its own modules): {exc}") from exc
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system stamped the alias spec on fluvial's module: give it its own back
        for name, own in list(self._specs.items()):
            if module.__spec__ is not None and module.__spec__.name == name:
                module.__spec__ = own
                del self._specs[name]

    def __init__(self) -> None:
        self._specs: dict[str, Any] = {}


def _mlflow_installed() -> bool:
    module = sys.modules.get("mlflow")
    if module is not None:
        return not getattr(module, "__name__", "").startswith("fluvial")
    return any(
        finder.find_spec("mlflow", None) is not None  # type: ignore[call-arg]
        for finder in sys.meta_path
        if not isinstance(finder, _MlflowAlias) and hasattr(finder, "find_spec")
    )


@contextlib.contextmanager
def mlflow_names_for_fluvial() -> Iterator[None]:
    """While active, and only when MLflow is not installed, ``import mlflow`` gives fluvial."""
    if _mlflow_installed():
        yield
        return
    finder = _MlflowAlias()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
