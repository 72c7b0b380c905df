"""``fluvial.keras`` (MLflow's ``mlflow.keras``): the Keras 3 flavor and its autologging."""

from fluvial.flavors.keras import *  # noqa: F403
from fluvial.flavors.keras import (  # noqa: F401
    FLAVOR_NAME,
    KerasModelWrapper,
    MlflowCallback,
    _load_pyfunc,
    autolog,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
