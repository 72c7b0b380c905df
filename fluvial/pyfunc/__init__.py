"""The universal ``python_function`` flavor: load any model, save custom ones.

``import fluvial.pyfunc`` loads the standard library only; everything else is imported on use.
"""

from __future__ import annotations

import importlib
from typing import Any

FLAVOR_NAME = "python_function"
MAIN = "loader_module"
CODE = "code"
DATA = "data"
ENV = "env"

_NAMES = {
    "load_model": "fluvial.pyfunc.loading",
    "load_pyfunc": "fluvial.pyfunc.loading",
    "PyFuncModel": "fluvial.pyfunc.loading",
    "PythonModel": "fluvial.pyfunc.model",
    "PythonModelContext": "fluvial.pyfunc.model",
    "save_model": "fluvial.pyfunc.saving",
    "log_model": "fluvial.pyfunc.saving",
    "add_to_model": "fluvial.models.saving",
    "spark_udf": "fluvial.pyfunc.spark",
    "get_model_dependencies": "fluvial.models.environment",
}

__all__ = ["CODE", "DATA", "ENV", "FLAVOR_NAME", "MAIN", *_NAMES]


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fluvial.pyfunc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
