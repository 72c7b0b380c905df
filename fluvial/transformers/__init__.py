"""``fluvial.transformers`` (MLflow's ``mlflow.transformers``): the Hugging Face transformers flavor."""

from fluvial.flavors.transformers import *  # noqa: F403
from fluvial.flavors.transformers import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
