"""Autologging: ``fluvial.autolog()`` and the machinery behind each integration's ``autolog()``.

    import fluvial as mlflow
    mlflow.autolog()                     # every integration whose library is installed
    model = RandomForestClassifier().fit(X, y)   # a run was created, filled and ended

Modules:
  config.py     what each integration's autolog() was called with; version checks; messages
  patching.py   safe_patch / revert_patches: wrappers that never break the user's call
  session.py    AutologSession: the run one autologged call logs into
  hooks.py      run a function when a module gets imported (patch a library on import)

Integrations live with their flavors (``fluvial/flavors/<name>/autolog.py``) and are listed in
:data:`INTEGRATIONS` by dotted path, so nothing of theirs is imported until their library is.
Importing this package loads the standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fluvial.autologging.config import autologging_integration, get_config, is_enabled
from fluvial.autologging.patching import autologging_disabled, revert_patches, safe_patch
from fluvial.autologging.session import AUTOLOGGING_TAG, AutologSession

__all__ = [
    "AUTOLOGGING_TAG",
    "INTEGRATIONS",
    "AutologSession",
    "autolog",
    "autologging_disabled",
    "autologging_integration",
    "get_autologging_config",
    "get_config",
    "is_enabled",
    "revert_patches",
    "safe_patch",
]


@dataclass(frozen=True)
class Integration:
    """An autologging integration: the modules whose import enables it, and its ``autolog`` function."""

    name: str
    modules: tuple[str, ...]
    autolog: str  # "package.module:function"

    def load(self) -> Any:
        module, _, attr = self.autolog.partition(":")
        return getattr(importlib.import_module(module), attr)


INTEGRATIONS: dict[str, Integration] = {
    i.name: i
    for i in (
        Integration("sklearn", ("sklearn",), "fluvial.flavors.sklearn.autolog:autolog"),
        Integration("xgboost", ("xgboost",), "fluvial.flavors.xgboost.autolog:autolog"),
        Integration("lightgbm", ("lightgbm",), "fluvial.flavors.lightgbm.autolog:autolog"),
        Integration("pytorch", ("lightning.pytorch", "pytorch_lightning"), "fluvial.flavors.pytorch.autolog:autolog"),
        Integration("statsmodels", ("statsmodels",), "fluvial.flavors.statsmodels.autolog:autolog"),
        Integration("keras", ("keras",), "fluvial.flavors.keras.autolog:autolog"),
        Integration("pyspark.ml", ("pyspark.ml",), "fluvial.flavors.spark.autolog:autolog"),
    )
}
_UNIVERSAL = "universal"


def get_autologging_config(flavor_name: str, config_key: str, default_value: Any = None) -> Any:
    """MLflow's name for :func:`fluvial.autologging.get_config`."""
    return get_config(flavor_name, config_key, default_value)


def _installed(module: str) -> bool:
    """Whether the top-level package of ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):  # a parent package is missing or broken
        return False


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    log_traces: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
    exclude_flavors: list[str] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, disable) autologging for every supported library that is
    installed: scikit-learn, XGBoost, LightGBM, PyTorch Lightning, statsmodels, Keras and Spark MLlib
    (``pyspark.ml``). A library is patched when it is
    imported (right away if it already is), so this call imports none of them.

    The options go to each integration's own ``autolog`` (``fluvial.sklearn.autolog`` ...) where it takes
    them; ``exclude_flavors`` lists integrations to leave alone. ``log_traces`` is accepted for MLflow
    compatibility (no integration here produces traces)."""
    from fluvial.autologging import config, hooks

    options = {
        "log_input_examples": log_input_examples, "log_model_signatures": log_model_signatures,
        "log_models": log_models, "log_datasets": log_datasets, "log_traces": log_traces, "disable": disable,
        "exclusive": exclusive, "disable_for_unsupported_versions": disable_for_unsupported_versions,
        "silent": silent, "extra_tags": extra_tags,
    }
    excluded = set(exclude_flavors or ())
    hooks.cancel(_UNIVERSAL)
    for integration in INTEGRATIONS.values():
        if integration.name in excluded:
            continue
        if config.is_explicit(integration.name):
            continue  # its own autolog() call was explicit: that configuration wins
        if disable:
            if config.get_configs(integration.name):
                with config.universal_call():
                    integration.load()(disable=True)
            continue
        modules = [m for m in integration.modules if _installed(m)]
        if not modules:
            continue
        enable = _enabler(integration, options)
        for module in modules:
            hooks.when_imported(module, enable, owner=_UNIVERSAL)


def _enabler(integration: Integration, options: dict[str, Any]) -> Any:
    done: list[bool] = []

    def enable(_module: ModuleType) -> None:
        from fluvial.autologging import config

        if done or config.is_explicit(integration.name):
            return
        done.append(True)
        fn = integration.load()
        accepted = inspect.signature(fn).parameters
        with config.universal_call():
            fn(**{k: v for k, v in options.items() if k in accepted})
        config.info(integration.name, "Autologging enabled for %s.", integration.name)

    return enable
