"""Pickles that cross between MLflow and fluvial.

A custom model pickled by MLflow refers to ``mlflow.pyfunc.model.PythonModel`` (and sometimes other
``mlflow.*`` names) by import path; fluvial unpickles it without an ``mlflow`` package by mapping those
names onto its own. In the other direction fluvial pickles references to its own base classes under their
MLflow names, so MLflow unpickles fluvial's models with nothing of fluvial installed.
"""

from __future__ import annotations

import importlib
import pickle
from typing import IO, Any

# MLflow module -> the fluvial module providing the same names (prefix match, longest first)
MODULE_MAP: dict[str, str] = {
    "mlflow.pyfunc.model": "fluvial.pyfunc.model",
    "mlflow.pyfunc.context": "fluvial.pyfunc.model",
    "mlflow.pyfunc.utils": "fluvial.pyfunc.model",
    "mlflow.pyfunc": "fluvial.pyfunc",
    "mlflow.models.signature": "fluvial.models.signature",
    "mlflow.types.schema": "fluvial.models.schema",
    "mlflow.models": "fluvial.models",
    "mlflow": "fluvial",
}


class _TypeHints:
    """Stands in for ``mlflow.models.signature._TypeHints``, which MLflow 2.20+ stores on every pickled
    ``PythonModel`` (the type hints of its predict; fluvial keeps them as plain attributes)."""

    def __init__(self, input: Any = None, output: Any = None) -> None:
        self.input = input
        self.output = output


# (MLflow module, name) -> the object fluvial substitutes when the name has no fluvial twin
NAME_MAP: dict[tuple[str, str], Any] = {("mlflow.models.signature", "_TypeHints"): _TypeHints}


def fluvial_module_for(module: str) -> str:
    for prefix in sorted(MODULE_MAP, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return MODULE_MAP[prefix] + module[len(prefix):]
    return module


def _mapped_import(name: str, package: str | None = None) -> Any:
    return importlib.import_module(fluvial_module_for(name), package)


class CompatUnpickler(pickle.Unpickler):
    """An unpickler that finds ``mlflow.*`` globals in fluvial."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "importlib" and name == "import_module":
            return _mapped_import
        if (module, name) in NAME_MAP:
            return NAME_MAP[(module, name)]
        if module.startswith("mlflow"):
            target = importlib.import_module(fluvial_module_for(module))
            found = getattr(target, name, None)
            if found is None:
                raise pickle.UnpicklingError(
                    f"The pickle needs {module}.{name}, which fluvial does not provide."
                )
            return found
        return super().find_class(module, name)


def load(fh: IO[bytes]) -> Any:
    return CompatUnpickler(fh).load()


def _mlflow_names() -> dict[int, tuple[str, str]]:
    """id(fluvial class) -> (MLflow module, name) for the classes pickled under MLflow's names."""
    from fluvial.pyfunc import model

    return {id(model.PythonModel): ("mlflow.pyfunc.model", "PythonModel")}


def dump(obj: Any, fh: IO[bytes]) -> None:
    """cloudpickle ``obj``, writing fluvial's base classes as references to MLflow's."""
    import cloudpickle

    names = _mlflow_names()

    class _Pickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
        def reducer_override(self, o: Any) -> Any:
            target = names.get(id(o))
            if target is not None:
                # ``getattr(importlib.import_module("mlflow.pyfunc.model"), "PythonModel")`` on load:
                # plain stdlib calls, resolvable by MLflow, and mapped by CompatUnpickler in fluvial.
                return getattr, (_ModuleRef(target[0]), target[1])
            if isinstance(o, _ModuleRef):
                return importlib.import_module, (o.name,)
            return super().reducer_override(o)

    _Pickler(fh, protocol=pickle.DEFAULT_PROTOCOL).dump(obj)


class _ModuleRef:
    def __init__(self, name: str) -> None:
        self.name = name
