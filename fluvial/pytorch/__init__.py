"""``fluvial.pytorch`` (MLflow's ``mlflow.pytorch``): the PyTorch flavor and its (Lightning) autologging."""

from fluvial.flavors.pytorch import *  # noqa: F403
from fluvial.flavors.pytorch import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    autolog,
    get_default_pip_requirements,
    load_model,
    load_state_dict,
    log_model,
    log_state_dict,
    save_model,
    save_state_dict,
)
