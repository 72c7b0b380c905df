"""``fluvial.onnx`` (MLflow's ``mlflow.onnx``): the ONNX flavor."""

from fluvial.flavors.onnx import *  # noqa: F403
from fluvial.flavors.onnx import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
