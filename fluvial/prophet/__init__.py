"""``fluvial.prophet`` (MLflow's ``mlflow.prophet``): the Prophet flavor."""

from fluvial.flavors.prophet import *  # noqa: F403
from fluvial.flavors.prophet import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
