"""The pickle module PyTorch models are saved with (``torch.save(..., pickle_module=...)``): cloudpickle,
so classes defined in ``__main__`` travel with the model. MLflow names its twin
``mlflow.pytorch.pickle_module``; models record that name, and fluvial maps it here when loading.

Unpickling goes through fluvial's :class:`~fluvial.pyfunc.pickling.CompatUnpickler`, which also finds the
``mlflow.*`` names a model pickled by MLflow may refer to.
"""

from cloudpickle import *  # noqa: F403
from cloudpickle import __all__ as _cloudpickle_all

from fluvial.pyfunc.pickling import CompatUnpickler as Unpickler

__all__ = [*_cloudpickle_all, "Unpickler"]
