"""``fluvial.statsmodels`` (MLflow's ``mlflow.statsmodels``): the statsmodels flavor and its autologging."""

from fluvial.flavors.statsmodels import *  # noqa: F403
from fluvial.flavors.statsmodels import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    autolog,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
