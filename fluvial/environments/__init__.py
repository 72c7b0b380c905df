"""Environment managers: where a model's (or project's) code runs.

``local`` uses the running interpreter as it is; ``virtualenv`` (and ``uv``) and ``conda`` build an
isolated environment with the model's Python version and requirements plus fluvial itself, cached
under ``MLFLOW_ENV_ROOT`` (default ``~/.fluvial/envs``) by a hash of what goes into it.

Managers are looked up by name (:func:`get_env_manager`); each module is imported on first use.
This package imports the standard library only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fluvial.exceptions import InvalidParameterValue

if TYPE_CHECKING:
    from fluvial.environments.base import EnvManager

ENV_MANAGERS = ("local", "virtualenv", "conda", "uv")

# name -> "module:class"
_MANAGERS = {
    "local": "fluvial.environments.local:LocalEnvManager",
    "virtualenv": "fluvial.environments.virtualenv:VirtualenvManager",
    "uv": "fluvial.environments.virtualenv:UvManager",
    "conda": "fluvial.environments.conda:CondaManager",
}


def validate_env_manager(name: str) -> str:
    """``name`` lower-cased, or InvalidParameterValue naming the choices."""
    key = (name or "").strip().lower()
    if key not in _MANAGERS:
        raise InvalidParameterValue(
            f"Invalid value for env manager: {name!r}. Must be one of {', '.join(ENV_MANAGERS)}."
        )
    return key


def get_env_manager(name: str) -> EnvManager:
    """An instance of the environment manager called ``name`` (local, virtualenv, uv, conda)."""
    module_name, _, attr = _MANAGERS[validate_env_manager(name)].partition(":")
    manager: EnvManager = getattr(importlib.import_module(module_name), attr)()
    return manager


__all__ = ["ENV_MANAGERS", "get_env_manager", "validate_env_manager"]
