"""``fluvial.spark`` (MLflow's ``mlflow.spark``): the Spark MLlib flavor."""

from fluvial.flavors.spark import *  # noqa: F403
from fluvial.flavors.spark import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
