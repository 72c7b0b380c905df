"""What every flavor's ``save_model`` does after writing its own data: the input example, the
signature (inferred from the example when asked), the environment files and the MLmodel file."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fluvial.models.model import MLMODEL_FILE_NAME, Model, directory_size, stamp_versions

FLAVOR_NAME = "python_function"


def add_to_model(
    model: Model,
    loader_module: str,
    data: str | None = None,
    code: str | None = None,
    conda_env: str | None = None,
    python_env: str | None = None,
    model_config: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Model:
    """Add the ``python_function`` flavor (the universal loader entry) to a model."""
    import platform

    params: dict[str, Any] = {"loader_module": loader_module, "python_version": platform.python_version()}
    if data is not None:
        params["data"] = data
    if code is not None:
        params["code"] = code
    if conda_env or python_env:
        params["env"] = {k: v for k, v in (("conda", conda_env), ("virtualenv", python_env)) if v}
    if model_config:
        params["config"] = model_config
    params.update(kwargs)
    return model.add_flavor(FLAVOR_NAME, **params)


def finish_model(
    path: str,
    mlflow_model: Model,
    *,
    signature: Any = None,
    input_example: Any = None,
    predict: Callable[[Any], Any] | None = None,
    default_pip_requirements: list[str],
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    metadata: dict[str, Any] | None = None,
    infer_requirements: bool = True,
) -> Model:
    """Write the input example, signature, environment files and MLmodel for a saved model.

    ``signature=None`` with an input example infers the signature from the example and, given
    ``predict``, from the model's output on it; ``signature=False`` disables that."""
    if metadata is not None:
        mlflow_model.metadata = metadata
    if input_example is not None:
        from fluvial.models.input_example import save_input_example

        mlflow_model.saved_input_example_info = save_input_example(path, input_example)
    if signature is None and input_example is not None:
        signature = _infer_from_example(input_example, predict)
    if signature is not False and signature is not None:
        mlflow_model.signature = signature
    mlflow_model.model_size_bytes = directory_size(path)
    stamp_versions(mlflow_model)
    from fluvial.models.environment import ENV_FILES, write_environment

    pyfunc_conf = mlflow_model.flavors.get(FLAVOR_NAME)
    if pyfunc_conf is not None:
        pyfunc_conf["env"] = dict(ENV_FILES)
    # MLmodel first: requirement inference loads the saved model in a fresh interpreter through it.
    mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

    def infer() -> list[str]:
        if pyfunc_conf is None or not infer_requirements:  # nothing to load through pyfunc: the defaults stand
            return list(default_pip_requirements)
        from fluvial.models.infer_requirements import infer_pip_requirements

        return infer_pip_requirements(path, fallback=list(default_pip_requirements))

    write_environment(
        path,
        default_pip_requirements=default_pip_requirements,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        conda_env=conda_env,
        infer_from=infer,
    )
    return mlflow_model


def _infer_from_example(example: Any, predict: Callable[[Any], Any] | None) -> Any:
    import logging

    from fluvial.models.signature import infer_signature

    data, params = example if isinstance(example, tuple) and len(example) == 2 else (example, None)
    output = None
    if predict is not None:
        try:
            output = predict(data)
        except Exception as exc:
            logging.getLogger(__name__).warning(
                "Could not run the model on the input example to infer the output schema: %s", exc)
    return infer_signature(data, output, params)
