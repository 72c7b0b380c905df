"""``fluvial.sklearn`` (MLflow's ``mlflow.sklearn``): the scikit-learn flavor."""

from fluvial.flavors.sklearn import *  # noqa: F403
from fluvial.flavors.sklearn import (  # noqa: F401
    FLAVOR_NAME,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_SKOPS,
    SUPPORTED_SERIALIZATION_FORMATS,
    _load_pyfunc,
    autolog,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
