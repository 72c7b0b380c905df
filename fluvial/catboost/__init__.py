"""``fluvial.catboost`` (MLflow's ``mlflow.catboost``): the CatBoost flavor."""

from fluvial.flavors.catboost import *  # noqa: F403
from fluvial.flavors.catboost import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
