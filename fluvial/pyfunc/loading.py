"""``load_model`` for any flavor through its ``loader_module``, and ``PyFuncModel``."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from types import ModuleType
from typing import Any

from fluvial.exceptions import MissingDependency, MlflowException, ResourceDoesNotExist
from fluvial.models.model import MLMODEL_FILE_NAME, Model, model_file
from fluvial.pyfunc.pickling import fluvial_module_for

FLAVOR_NAME = "python_function"
MODEL_CONFIG_KEY = "config"  # the pyfunc flavor's saved model_config
INFERENCE_CONFIG_ENV = "MLFLOW_PYFUNC_INFERENCE_CONFIG"  # JSON overrides of it at load, as in MLflow
_logger = logging.getLogger(__name__)


def import_loader(name: str) -> ModuleType:
    """The module named by ``loader_module``; ``mlflow.*`` names map onto fluvial's modules."""
    target = fluvial_module_for(name) if name.startswith("mlflow.") else name
    try:
        module = importlib.import_module(target)
    except ImportError as exc:
        if name.startswith("mlflow."):
            raise MlflowException(
                f"This model was saved with MLflow's {name!r} flavor, which fluvial does not provide "
                f"({exc}). Load it with a flavor fluvial has, or with MLflow."
            ) from None
        raise MlflowException(
            f"Could not import the model's loader module {name!r}: {exc}. Install it, or save the model with "
            "code_paths so it travels with the model."
        ) from None
    if not hasattr(module, "_load_pyfunc"):
        raise MlflowException(f"The loader module {name!r} has no _load_pyfunc function.")
    return module


def _takes_params(fn: Any) -> bool:
    import inspect

    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "params" in parameters


class PyFuncModel:
    """A model loaded through the universal ``python_function`` flavor."""

    def __init__(self, model_meta: Model, model_impl: Any, predict_fn: str = "predict",
                 predict_stream_fn: str | None = None) -> None:
        if not hasattr(model_impl, predict_fn):
            raise MlflowException(f"Model implementation is missing required {predict_fn} method.")
        self._model_meta = model_meta
        self._model_impl = model_impl
        self._predict_fn = getattr(model_impl, predict_fn)
        self._predict_takes_params = _takes_params(self._predict_fn)
        self._predict_stream_fn = predict_stream_fn
        self.input_example: Any = None

    @property
    def metadata(self) -> Model:
        return self._model_meta

    @property
    def model_config(self) -> dict[str, Any]:
        return dict(self._model_meta.flavors.get(FLAVOR_NAME, {}).get("config") or {})

    @property
    def loader_module(self) -> str | None:
        return self._model_meta.flavors.get(FLAVOR_NAME, {}).get("loader_module")

    def _prepare(self, data: Any, params: dict[str, Any] | None) -> tuple[Any, dict[str, Any] | None]:
        from fluvial.models.enforcement import enforce_params, enforce_schema, schema_enforcement_error

        schema = self._model_meta.get_input_schema()
        if schema is not None:
            try:
                data = enforce_schema(data, schema)
            except Exception as exc:
                raise schema_enforcement_error(data, schema, exc) from None
        params = enforce_params(params, self._model_meta.get_params_schema())
        return data, params

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict after enforcing the input schema and params of the model's signature."""
        data, params = self._prepare(data, params)
        if self._predict_takes_params:
            return self._predict_fn(data, params=params)
        if params:
            _logger.warning("The model's predict method does not take params; ignoring %s", sorted(params))
        return self._predict_fn(data)

    def predict_stream(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if not self._model_meta.flavors.get(FLAVOR_NAME, {}).get("streamable"):
            raise MlflowException("This model does not support predict_stream method.")
        data, params = self._prepare(data, params)
        return getattr(self._model_impl, self._predict_stream_fn or "predict_stream")(data, params=params)

    def unwrap_python_model(self) -> Any:
        python_model = getattr(self._model_impl, "python_model", None)
        if python_model is None:
            raise MlflowException("Unable to retrieve base model object from pyfunc.")
        return python_model

    def get_raw_model(self) -> Any:
        getter = getattr(self._model_impl, "get_raw_model", None)
        if getter is None:
            raise NotImplementedError("get_raw_model is not available for this model's flavor")
        return getter()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyFuncModel) and self._model_meta == other._model_meta

    def __repr__(self) -> str:
        import yaml

        info = {"flavor": self.loader_module}
        if self._model_meta.run_id:
            info = {"run_id": self._model_meta.run_id, "artifact_path": self._model_meta.artifact_path, **info}
        return yaml.safe_dump({"mlflow.pyfunc.loaded_model": info}, default_flow_style=False)


def load_model(
    model_uri: str,
    suppress_warnings: bool = False,
    dst_path: str | None = None,
    model_config: dict[str, Any] | str | None = None,
) -> PyFuncModel:
    """Load any model with a ``python_function`` flavor, from any model URI."""
    from fluvial.models.uri import download_model

    local = download_model(model_uri, dst_path)
    if not os.path.isfile(os.path.join(local, MLMODEL_FILE_NAME)):
        raise ResourceDoesNotExist(f'Could not find an "{MLMODEL_FILE_NAME}" configuration file at "{local}"')
    meta = Model.load(local)
    conf = meta.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise ResourceDoesNotExist(
            f'Model does not have the "{FLAVOR_NAME}" flavor (its flavors: {sorted(meta.flavors)}). Load it with '
            "its own flavor's load_model."
        )
    loader = conf.get("loader_module")
    if not loader:
        raise MlflowException(f"The {FLAVOR_NAME} flavor of the model at {local} names no loader_module.")
    if not suppress_warnings:
        _warn_python_version(conf.get("python_version"))
    if conf.get("code"):
        code_dir = model_file(local, conf["code"])
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    data_path = model_file(local, conf["data"]) if conf.get("data") else local
    config = _overridden_config(conf.get(MODEL_CONFIG_KEY), _model_config(model_config))
    if config:
        conf[MODEL_CONFIG_KEY] = config  # PyFuncModel.model_config shows what the model got, as in MLflow
    try:
        module = import_loader(loader)
        impl = module._load_pyfunc(data_path, config) if config else module._load_pyfunc(data_path)
    except Exception as exc:
        missing = _missing_module(exc)
        if missing is None:
            raise
        from fluvial._internal.lazy import missing_module_message

        raise MissingDependency(f"Cannot load the model at {local}: {missing_module_message(missing)}") from exc
    model = PyFuncModel(meta, impl, conf.get("predict_fn", "predict"), conf.get("predict_stream_fn"))
    if meta.saved_input_example_info:
        try:
            model.input_example = meta.load_input_example(local)
        except Exception:
            _logger.debug("Could not load the model's input example", exc_info=True)
    return model


load_pyfunc = load_model


def _missing_module(exc: BaseException) -> str | None:
    """The module whose absence caused ``exc`` (through its causes), if that is what happened."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
        # `raise ... from None` says the context is not the cause (e.g. a flavor fluvial does not provide)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def _model_config(config: dict[str, Any] | str | None) -> dict[str, Any] | None:
    if config is None or isinstance(config, dict):
        return config
    import yaml

    with open(config, encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    if not isinstance(loaded, dict):
        raise MlflowException(f"model_config file {config} must hold a mapping")
    return loaded


def _overridden_config(saved: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """The config a loader gets, by MLflow's rule: the model's saved ``config`` (its pyfunc flavor's), with
    the values of ``MLFLOW_PYFUNC_INFERENCE_CONFIG`` (a JSON object) and then ``model_config`` given at load
    for the keys it already has. Other keys, or any key for a model saved without a config, are dropped
    with a warning naming them (the model was not saved to take them)."""
    overrides: dict[str, Any] = {}
    if env := os.environ.get(INFERENCE_CONFIG_ENV):
        try:
            parsed = json.loads(env)
        except ValueError as exc:
            raise MlflowException.invalid_parameter_value(
                f"{INFERENCE_CONFIG_ENV} must hold a JSON object; it does not parse: {exc}"
            ) from None
        if not isinstance(parsed, dict):
            raise MlflowException.invalid_parameter_value(
                f"{INFERENCE_CONFIG_ENV} must hold a JSON object, not {type(parsed).__name__}"
            )
        overrides.update(parsed)
    overrides.update(given or {})
    if not overrides:
        return saved
    if not saved:
        _logger.warning(
            "model_config key(s) %s were ignored: the model's python_function flavor takes no configuration "
            "(save or log it with model_config to allow them).", ", ".join(sorted(overrides)),
        )
        return None
    ignored = sorted(set(overrides) - set(saved))
    if ignored:
        _logger.warning(
            "model_config key(s) %s were ignored: they are not in the model's saved config (its keys: %s); "
            "save or log the model with model_config holding them.", ", ".join(ignored), ", ".join(sorted(saved)),
        )
    return {**saved, **{k: v for k, v in overrides.items() if k in saved}}


def _warn_python_version(saved: str | None) -> None:
    import platform

    if saved and saved.split(".")[:2] != platform.python_version().split(".")[:2]:
        _logger.warning(
            "The model was saved with Python %s and is loaded with Python %s; this can fail or differ.",
            saved, platform.python_version(),
        )
