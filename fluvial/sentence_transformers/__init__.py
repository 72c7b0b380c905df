"""``fluvial.sentence_transformers`` (MLflow's ``mlflow.sentence_transformers``): the sentence-transformers
flavor."""

from fluvial.flavors.sentence_transformers import *  # noqa: F403
from fluvial.flavors.sentence_transformers import (  # noqa: F401
    FLAVOR_NAME,
    _load_pyfunc,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)
