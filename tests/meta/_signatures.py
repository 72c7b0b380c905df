"""Signature collector, run as a script with either side's Python (fluvial's or MLflow's):

    python _signatures.py names <root>            -> the public names of fluvial to compare
    python _signatures.py describe <root> <json>  -> {name: description} for those names under <root>

A description is "absent", "value" (not callable), or a list of [parameter, kind, default] where the
default is the repr of simple values, "<type name>" for other objects and null when there is none.
Names are written MLflow's way ("mlflow.pyfunc.load_model"); <root> ("fluvial" or "mlflow") replaces
"mlflow" when they are looked up. Standard library only.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import warnings

MODULES = ("config", "system_metrics", "pyfunc", "models", "sklearn", "xgboost", "lightgbm", "pytorch")
PREFIX = "SIGNATURES "


def _public_callables(module: object) -> list[str]:
    """``__all__``, else the functions and classes the module itself defines (not its imports)."""
    declared = getattr(module, "__all__", None)
    if declared:
        return sorted(n for n in declared if not inspect.ismodule(getattr(module, n, None)))
    own = getattr(module, "__name__", "")
    root, _, sub = own.partition(".")
    homes = (own, f"{root}.flavors.{sub}")  # fluvial.sklearn re-exports fluvial.flavors.sklearn
    return sorted(n for n in dir(module) if not n.startswith("_")
                  and (inspect.isfunction(getattr(module, n)) or inspect.isclass(getattr(module, n)))
                  and getattr(getattr(module, n), "__module__", "").startswith(homes))


def names(root: str) -> list[str]:
    top = importlib.import_module(root)
    found = [f"mlflow.{n}" for n in _public_callables(top)]
    client = top.MlflowClient
    found += [f"mlflow.MlflowClient.{n}" for n in sorted(vars(client) | {
        k: None for cls in client.__mro__[1:-1] for k in vars(cls)}) if not n.startswith("_")]
    for sub in MODULES:
        module = importlib.import_module(f"{root}.{sub}")
        found += [f"mlflow.{sub}.{n}" for n in _public_callables(module)]
    return found


def _default(value: object) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if value is None or isinstance(value, bool):
        return repr(value)
    for simple in (int, float, str):  # enum members that are ints or strings compare by value
        if isinstance(value, simple):
            return repr(simple(value))
    if isinstance(value, tuple) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return repr(value)
    return f"<{type(value).__name__}>"


def describe(root: str, wanted: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in wanted:
        parts = name.split(".")
        try:
            obj: object = importlib.import_module(root)
            for i, part in enumerate(parts[1:], start=1):
                try:
                    obj = getattr(obj, part)
                except AttributeError:
                    obj = importlib.import_module(".".join([root, *parts[1:i + 1]]))
        except (AttributeError, ImportError):
            out[name] = "absent"
            continue
        if not callable(obj):
            out[name] = "value"
            continue
        try:
            target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            out[name] = "value"
            continue
        params = list(sig.parameters.values())
        if inspect.isclass(obj) or ".MlflowClient." in name:
            params = params[1:]  # self
        out[name] = [[p.name, p.kind.name, _default(p.default)] for p in params]
    return out


def main(argv: list[str]) -> None:
    warnings.simplefilter("ignore")
    if argv[0] == "names":
        result: object = names(argv[1])
    else:
        result = describe(argv[1], json.loads(argv[2]))
    sys.stdout.write(PREFIX + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
