"""The frame every flavor's ``save_model``, ``log_model`` and ``load_model`` shares.

A flavor writes only its own files; this module owns the rest:

- :func:`new_model_dir` makes the target directory (refusing a non-empty one), copies ``code_paths``
  into ``code/``, and removes the half-written directory when saving fails;
- :meth:`ModelDir.finish` writes the input example, signature, environment files and ``MLmodel``;
- :func:`log_flavor_model` checks the keyword arguments against the flavor's ``save_model`` *before* a
  run is touched (a misspelt ``input_exmple=`` is a ``TypeError``, as in MLflow), then saves the model
  into a temporary directory and logs it into the run;
- :func:`load_flavor_dir` downloads a model, reads the flavor's ``MLmodel`` block and puts the model's
  ``code/`` directory on ``sys.path``;
- :class:`RawModelWrapper` is the pyfunc of a model that predicts by itself, and
  :func:`default_requirements` a flavor's pinned default ``requirements.txt`` lines.

A flavor imports its library with :func:`fluvial._internal.lazy.require` (a missing one names the
``pip install`` line).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fluvial.models.model import (
    Model,
    ModelInfo,
    copy_code_paths,
    flavor_conf,
    model_file,
    prepare_model_dir,
)
from fluvial.models.saving import finish_model


def default_requirements(*packages: str) -> list[str]:
    """``packages`` pinned to their installed versions (``["catboost==1.2.8"]``): the default
    ``requirements.txt`` of a flavor."""
    from fluvial.models.requirements import pinned_requirement

    return [pinned_requirement(package) for package in packages]


class RawModelWrapper:
    """The pyfunc of a flavor's model that predicts on the input as given: ``predict(data, params)`` is
    the model's ``predict(data)``. ``raw_attribute`` names the attribute that holds the model (MLflow's
    wrappers expose it as e.g. ``cb_model``; a subclass keeps that name)."""

    raw_attribute = "model"

    def __init__(self, raw_model: Any) -> None:
        setattr(self, self.raw_attribute, raw_model)

    def get_raw_model(self) -> Any:
        return getattr(self, self.raw_attribute)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.get_raw_model().predict(data)


@dataclass
class ModelDir:
    """A model directory being written: its absolute ``path``, the ``Model`` (MLmodel) being built and
    the relative name of its code directory (``code`` or None)."""

    path: str
    model: Model
    code: str | None

    def file(self, relative: str) -> str:
        return os.path.join(self.path, relative)

    def finish(
        self,
        *,
        default_pip_requirements: list[str],
        signature: Any = None,
        input_example: Any = None,
        predict: Callable[[Any], Any] | None = None,
        pip_requirements: Any = None,
        extra_pip_requirements: Any = None,
        conda_env: Any = None,
        metadata: dict[str, Any] | None = None,
        infer_requirements: bool = True,
    ) -> Model:
        """Input example, signature (inferred from the example through ``predict`` when not given),
        environment files and the MLmodel file. ``infer_requirements=False``: the defaults stand, for
        the flavors MLflow infers none for."""
        return finish_model(
            self.path, self.model, signature=signature, input_example=input_example, predict=predict,
            default_pip_requirements=default_pip_requirements, pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
            infer_requirements=infer_requirements,
        )


@contextlib.contextmanager
def new_model_dir(path: str, mlflow_model: Model | None = None, code_paths: list[str] | None = None,
                  ) -> Iterator[ModelDir]:
    """The directory a flavor saves into; removed again if anything inside the block fails."""
    path = prepare_model_dir(path)
    try:
        yield ModelDir(path, mlflow_model or Model(), copy_code_paths(code_paths, path))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def check_save_kwargs(save_model: Callable[..., Any], kwargs: dict[str, Any],
                      extra_kwargs_to: Callable[..., Any] | None = None) -> None:
    """A ``TypeError`` naming the first keyword neither ``save_model`` nor ``extra_kwargs_to`` (the
    function a flavor hands its extra keywords to, e.g. ``torch.save``) takes: MLflow's behaviour."""
    parameters = dict(inspect.signature(save_model).parameters)
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        if extra_kwargs_to is None:
            return
        extra = inspect.signature(extra_kwargs_to).parameters
        if any(p.kind is p.VAR_KEYWORD for p in extra.values()):
            return
        parameters.update(extra)
    for key in kwargs:
        if key not in parameters:
            module = getattr(save_model, "__module__", "")
            raise TypeError(f"{module}.log_model() got an unexpected keyword argument {key!r}")


def log_flavor_model(
    flavor: ModuleType | str,
    artifact_path: str | None,
    *,
    name: str | None = None,
    registered_model_name: str | None = None,
    await_registration_for: int = 300,
    metadata: dict[str, Any] | None = None,
    extra_kwargs_to: Callable[..., Any] | None = None,
    **save_kwargs: Any,
) -> ModelInfo:
    """Save the model with ``flavor.save_model(**save_kwargs)`` and log it under ``artifact_path`` (or
    MLflow 3's ``name``) of the active run, registering it when ``registered_model_name`` is given.
    Keywords are checked first (see :func:`check_save_kwargs`), so a bad call starts no run."""
    module = sys.modules[flavor] if isinstance(flavor, str) else flavor
    check_save_kwargs(module.save_model, save_kwargs, extra_kwargs_to)
    return Model.log(
        artifact_path=artifact_path or name,  # type: ignore[arg-type]
        flavor=module,
        registered_model_name=registered_model_name,
        await_registration_for=await_registration_for,
        metadata=metadata,
        **save_kwargs,
    )


def load_flavor_dir(model_uri: str, flavor_name: str, dst_path: str | None = None) -> tuple[str, dict[str, Any]]:
    """(local model directory, the flavor's MLmodel block) of ``model_uri``, with the model's code
    directory on ``sys.path``."""
    from fluvial.models.uri import download_model

    local = download_model(model_uri, dst_path)
    model_dir, conf = flavor_conf(local, flavor_name)
    add_code_to_path(model_dir, conf.get("code"))
    return model_dir, conf


def add_code_to_path(model_dir: str, code: str | None) -> None:
    """Put ``<model_dir>/<code>`` first on ``sys.path`` (MLflow does the same before loading)."""
    if not code:
        return
    code_dir = model_file(model_dir, code)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)

