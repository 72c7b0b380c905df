"""``fluvial.pytorch.pickle_module`` (MLflow's ``mlflow.pytorch.pickle_module``)."""

from fluvial.flavors.pytorch.pickle_module import *  # noqa: F403
from fluvial.flavors.pytorch.pickle_module import Unpickler  # noqa: F401
