"""The PyTorch flavor: ``save_model``, ``log_model``, ``load_model``, state-dict helpers and the pyfunc
loader, in MLflow's format::

    model/
      MLmodel          pytorch: {model_data: data, pytorch_version, code[, extra_files]}
                       python_function: {loader_module: mlflow.pytorch, data: data, pickle_module_name,
                                         config: {device: null}}
      data/model.pth   torch.save(model, pickle_module=...) (TorchScript: the scripted archive)
      data/pickle_module_info.txt   the pickle module's name (mlflow.pytorch.pickle_module by default)

The pyfunc ``predict`` takes a DataFrame (its values as float32) or an array and returns the model's
output tensor as a DataFrame (same index) or an array.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.flavor import (
    RawModelWrapper,
    default_requirements,
    load_flavor_dir,
    log_flavor_model,
    new_model_dir,
)
from fluvial.models.model import Model, ModelInfo, model_file
from fluvial.models.saving import add_to_model

_logger = logging.getLogger(__name__)

FLAVOR_NAME = "pytorch"
LOADER_MODULE = "mlflow.pytorch"  # MLflow's name, so MLflow loads what fluvial saves
DEFAULT_PICKLE_MODULE_NAME = "mlflow.pytorch.pickle_module"
MODEL_DATA = "data"
MODEL_FILE = "model.pth"
STATE_DICT_FILE = "state_dict.pth"
PICKLE_MODULE_INFO_FILE = "pickle_module_info.txt"
EXTRA_FILES_KEY = "extra_files"
DEVICE_ENV = "MLFLOW_DEFAULT_PREDICTION_DEVICE"


def get_default_pip_requirements() -> list[str]:
    return default_requirements("torch", "cloudpickle")


def _pickle_module_name(pickle_module: Any) -> str:
    """The name recorded for ``pickle_module``: fluvial's default is recorded as MLflow's, so MLflow
    imports its own twin when it loads the model."""
    if pickle_module is None:
        return DEFAULT_PICKLE_MODULE_NAME
    name = pickle_module.__name__
    if name in ("fluvial.pytorch.pickle_module", "fluvial.flavors.pytorch.pickle_module"):
        return DEFAULT_PICKLE_MODULE_NAME
    return name


def _import_pickle_module(name: str) -> Any:
    from fluvial.pyfunc.pickling import fluvial_module_for

    if name in (DEFAULT_PICKLE_MODULE_NAME, "fluvial.pytorch.pickle_module"):
        name = "fluvial.flavors.pytorch.pickle_module"
    try:
        return importlib.import_module(fluvial_module_for(name) if name.startswith("mlflow.") else name)
    except ImportError as exc:
        raise MlflowException(f"Failed to import the pickle module the PyTorch model was saved with: {name!r} "
                              f"({exc})", error_code="RESOURCE_DOES_NOT_EXIST") from None


def save_model(
    pytorch_model: Any,
    path: str,
    conda_env: Any = None,
    mlflow_model: Model | None = None,
    code_paths: list[str] | None = None,
    pickle_module: Any = None,
    signature: Any = None,
    input_example: Any = None,
    requirements_file: str | None = None,
    extra_files: list[str] | None = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save a ``torch.nn.Module`` (or a TorchScript module) in MLflow's pytorch format (with pyfunc).
    ``kwargs`` go to ``torch.save``; ``extra_files`` (local paths) are copied under ``extra_files/``."""
    torch = require("torch")

    if not isinstance(pytorch_model, torch.nn.Module):
        raise TypeError("Argument 'pytorch_model' should be a torch.nn.Module")
    if requirements_file is not None:
        if pip_requirements is not None:
            raise InvalidParameterValue("Pass requirements_file or pip_requirements, not both.")
        _logger.warning("requirements_file is deprecated (as in MLflow); use pip_requirements. Using it as such.")
        pip_requirements = requirements_file
    from fluvial.models.flavor import check_save_kwargs

    check_save_kwargs(save_model, kwargs, torch.save)
    name = _pickle_module_name(pickle_module)
    module = pickle_module or _import_pickle_module(name)
    with new_model_dir(path, mlflow_model, code_paths) as target:
        code = target.code
        data_dir = target.file(MODEL_DATA)
        os.makedirs(data_dir)
        with open(os.path.join(data_dir, PICKLE_MODULE_INFO_FILE), "w") as fh:
            fh.write(name)
        model_path = os.path.join(data_dir, MODEL_FILE)
        if isinstance(pytorch_model, torch.jit.ScriptModule):
            torch.jit.save(pytorch_model, model_path)
        else:
            torch.save(pytorch_model, model_path, pickle_module=module, **kwargs)
        flavor: dict[str, Any] = {"model_data": MODEL_DATA, "pytorch_version": str(torch.__version__), "code": code}
        if extra_files:
            flavor[EXTRA_FILES_KEY] = _copy_extra_files(extra_files, target.path)
        target.model.add_flavor(FLAVOR_NAME, **flavor)
        add_to_model(target.model, LOADER_MODULE, data=MODEL_DATA, code=code, pickle_module_name=name,
                     model_config={"device": None})
        target.finish(
            signature=signature, input_example=input_example, predict=_PyTorchWrapper(pytorch_model, "cpu").predict,
            default_pip_requirements=get_default_pip_requirements(), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def _copy_extra_files(extra_files: list[str], model_dir: str) -> list[dict[str, str]]:
    if not isinstance(extra_files, list):
        raise TypeError("Extra files argument should be a list")
    target = os.path.join(model_dir, EXTRA_FILES_KEY)
    os.makedirs(target, exist_ok=True)
    entries = []
    for source in extra_files:
        if not os.path.isfile(source):
            raise InvalidParameterValue(f"extra file {source!r} does not exist")
        shutil.copy2(source, os.path.join(target, os.path.basename(source)))
        entries.append({"path": f"{EXTRA_FILES_KEY}/{os.path.basename(source)}"})
    return entries


def log_model(
    pytorch_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    pickle_module: Any = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    requirements_file: str | None = None,
    extra_files: list[str] | None = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a PyTorch model as artifacts of the active run (``name=`` is MLflow 3's spelling); other
    keyword arguments go to ``torch.save``."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, pytorch_model=pytorch_model,
        conda_env=conda_env, code_paths=code_paths, pickle_module=pickle_module, signature=signature,
        input_example=input_example, requirements_file=requirements_file, extra_files=extra_files,
        pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
        extra_kwargs_to=require("torch").save, **kwargs,
    )


def _load_model(path: str, device: str | None = None, **kwargs: Any) -> Any:
    """The module saved in ``path`` (the ``data`` directory, or the ``model.pth`` file itself)."""
    torch = require("torch")

    if os.path.isdir(path):
        model_path = os.path.join(path, MODEL_FILE)
        info = os.path.join(path, PICKLE_MODULE_INFO_FILE)
        name = DEFAULT_PICKLE_MODULE_NAME
        if os.path.isfile(info):
            with open(info) as fh:
                name = fh.read().strip()
        if "pickle_module" not in kwargs:
            kwargs["pickle_module"] = _import_pickle_module(name)
    else:
        model_path = path
    if not os.path.isfile(model_path):
        raise MlflowException(f"The model file {model_path} is missing")
    if _is_torchscript(model_path):
        model = torch.jit.load(model_path, map_location=kwargs.get("map_location"))
    else:
        kwargs.setdefault("weights_only", False)  # a whole pickled module, not a state dict
        model = torch.load(model_path, **kwargs)
    model.eval()
    if device:
        model.to(device=device)
    return model


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive (``torch.jit.save``): a zip with a ``code/`` directory and ``constants.pkl``."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def load_model(model_uri: str, dst_path: str | None = None, **kwargs: Any) -> Any:
    """The ``torch.nn.Module`` of a model with the pytorch flavor (in eval mode); ``kwargs`` go to
    ``torch.load``."""
    torch = require("torch")

    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    if conf.get("pytorch_version") and str(conf["pytorch_version"]) != str(torch.__version__):
        _logger.warning("The model was saved with PyTorch %s; PyTorch %s is installed.", conf["pytorch_version"],
                        torch.__version__)
    return _load_model(model_file(model_dir, conf.get("model_data", MODEL_DATA)), **kwargs)


class _PyTorchWrapper(RawModelWrapper):
    raw_attribute = "pytorch_model"

    def __init__(self, pytorch_model: Any, device: str) -> None:
        super().__init__(pytorch_model)
        self.device = device

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        torch = require("torch")

        if params and "device" in params:
            raise ValueError("The device is chosen when the model is loaded, e.g. "
                             "pyfunc.load_model(uri, model_config={'device': 'cuda'}), not as a predict param.")
        if isinstance(data, pd.DataFrame):
            values = data.values.astype(np.float32)
        elif isinstance(data, np.ndarray):
            values = data
        else:
            raise TypeError("The PyTorch flavor predicts on a pandas.DataFrame or a numpy.ndarray, "
                            f"not {type(data).__name__}")
        with torch.no_grad():
            output = self.get_raw_model()(torch.from_numpy(values).to(self.device))
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"Expected the model to return one tensor, got {type(output).__name__}")
            output = output.to("cpu").numpy()
        if isinstance(data, pd.DataFrame):
            frame = pd.DataFrame(output)
            frame.index = data.index
            return frame
        return output


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None, weights_only: bool = False) -> _PyTorchWrapper:
    """The pyfunc loader (``loader_module: mlflow.pytorch``); ``path`` is the ``data`` directory.
    The device: ``model_config["device"]``, else ``MLFLOW_DEFAULT_PREDICTION_DEVICE``, else CUDA when
    available, else the CPU."""
    torch = require("torch")

    device = (model_config or {}).get("device") or os.environ.get(DEVICE_ENV) or (
        "cuda" if torch.cuda.is_available() else "cpu")
    return _PyTorchWrapper(_load_model(path, device=device, weights_only=weights_only), device)


# ---- state dicts ---------------------------------------------------------------------------------
def save_state_dict(state_dict: dict[str, Any], path: str, **kwargs: Any) -> None:
    """Save a state dict as ``<path>/state_dict.pth`` (MLflow's layout); ``kwargs`` go to ``torch.save``."""
    torch = require("torch")

    if not isinstance(state_dict, dict):
        raise TypeError(f"Invalid object type for `state_dict`: {type(state_dict)}. Must be an instance of `dict`")
    os.makedirs(path, exist_ok=True)
    torch.save(state_dict, os.path.join(path, STATE_DICT_FILE), **kwargs)


def log_state_dict(state_dict: dict[str, Any], artifact_path: str, **kwargs: Any) -> None:
    """Save a state dict and log it under ``artifact_path`` of the active run."""
    import tempfile

    from fluvial.tracking import fluent

    with tempfile.TemporaryDirectory() as tmp:
        save_state_dict(state_dict, tmp, **kwargs)
        fluent.log_artifacts(tmp, artifact_path)


def load_state_dict(state_dict_uri: str, dst_path: str | None = None, **kwargs: Any) -> Any:
    """The state dict saved under ``state_dict_uri``; ``kwargs`` go to ``torch.load``."""
    torch = require("torch")

    from fluvial.models.uri import download_model

    local = download_model(state_dict_uri, dst_path)
    path = os.path.join(local, STATE_DICT_FILE) if os.path.isdir(local) else local
    return torch.load(path, **kwargs)


from fluvial.flavors.pytorch.autolog import autolog  # noqa: E402, F401
