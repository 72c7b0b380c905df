"""``fluvial.lightgbm`` (MLflow's ``mlflow.lightgbm``): the LightGBM flavor and its autologging."""

from fluvial.flavors.lightgbm import *  # noqa: F403
from fluvial.flavors.lightgbm import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    autolog,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
