"""MLflow Projects: run a directory or git repository with an ``MLproject`` file as a tracked run.

``fluvial.projects.run(uri, entry_point="main", parameters=..., version=...)`` (MLflow's
``mlflow.projects.run``) returns a :class:`SubmittedRun`; ``fluvial run URI`` is the command line.
The parts: :mod:`~fluvial.projects.spec` (the MLproject file), :mod:`~fluvial.projects.params`
(parameters and the command), :mod:`~fluvial.projects.git` (fetching projects),
:mod:`~fluvial.projects.backends` (the local backend), :mod:`~fluvial.projects.docker` (docker_env)
and :mod:`~fluvial.projects.runner`. Importing this package loads the standard library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvial.exceptions import ExecutionException
from fluvial.projects.submitted import SubmittedRun

if TYPE_CHECKING:
    from collections.abc import Mapping


def run(
    uri: str,
    entry_point: str = "main",
    version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    docker_args: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    backend: str = "local",
    backend_config: Mapping[str, Any] | str | None = None,
    storage_dir: str | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    build_image: bool = False,
    docker_auth: Mapping[str, Any] | None = None,
) -> SubmittedRun:
    """Run an MLflow project; see :func:`fluvial.projects.runner.run`."""
    from fluvial.projects.runner import run as _run

    return _run(uri, entry_point=entry_point, version=version, parameters=parameters, docker_args=docker_args,
                experiment_name=experiment_name, experiment_id=experiment_id, backend=backend,
                backend_config=backend_config, storage_dir=storage_dir, synchronous=synchronous, run_id=run_id,
                run_name=run_name, env_manager=env_manager, build_image=build_image, docker_auth=docker_auth)


__all__ = ["ExecutionException", "SubmittedRun", "run"]
