"""``projects.run``: resolve the experiment and the backend, start the run, and (synchronously) wait
for it, turning a failure into :class:`ExecutionException` as MLflow does."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from fluvial.exceptions import ExecutionException
from fluvial.projects import backends
from fluvial.projects.submitted import SubmittedRun

_logger = logging.getLogger("fluvial.projects")


def resolve_experiment_id(experiment_name: str | None = None, experiment_id: str | None = None) -> str:
    """The experiment to run in: ``experiment_id``, else the one named ``experiment_name`` (created
    when missing), else the fluent API's current experiment (set_experiment, MLFLOW_EXPERIMENT_NAME,
    MLFLOW_EXPERIMENT_ID, else the Default experiment)."""
    from fluvial.tracking import fluent
    from fluvial.tracking.client import MlflowClient

    if experiment_name and experiment_id:
        raise ExecutionException("Specify only one of 'experiment_name' or 'experiment_id'.")
    client = MlflowClient()
    if experiment_id:
        return client.get_experiment(str(experiment_id)).experiment_id
    if experiment_name:
        found = client.get_experiment_by_name(experiment_name)
        if found is not None:
            return found.experiment_id
        _logger.info("'%s' does not exist. Creating a new experiment", experiment_name)
        return client.create_experiment(experiment_name)
    return fluent._resolve_experiment_id()


def load_backend_config(backend_config: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """A dict given as is, a path to a ``.json`` file, or a JSON object string."""
    if backend_config is None:
        return {}
    if isinstance(backend_config, Mapping):
        return dict(backend_config)
    text = os.fspath(backend_config)
    if os.path.splitext(text)[1].lower() == ".json":
        try:
            with open(text, encoding="utf-8") as fh:
                value = json.load(fh)
        except OSError as exc:
            raise ExecutionException(f"Cannot read the backend config {text}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ExecutionException(f"The backend config {text} is not valid JSON: {exc}") from None
    else:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ExecutionException(f"Invalid backend config JSON. Parse error: {exc}") from None
    if not isinstance(value, dict):
        raise ExecutionException("The backend config must be a JSON object.")
    return value


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
    """Run the project at ``uri`` (a local directory, a git repository URI with an optional
    ``#subdirectory``, or a .zip archive) and return its :class:`SubmittedRun`.

    ``synchronous`` (default) waits for the command and raises :class:`ExecutionException` when it
    fails; otherwise the run goes on in the background. ``parameters`` fill the entry point's
    parameters (others are passed as ``--name value``); ``version`` is a git branch, tag or commit;
    ``env_manager`` is local, virtualenv, uv or conda (default: from the project); ``run_id`` reuses
    an existing run. Interrupting a synchronous run (Ctrl-C) cancels it: the run ends KILLED.
    """
    from fluvial.tracking import _stores

    if env_manager is not None:
        from fluvial.environments import validate_env_manager

        env_manager = validate_env_manager(env_manager)
    config = load_backend_config(backend_config)
    backend_name = backend or "local"
    runner = backends.load_backend(backend_name)
    config.update({
        backends.ENV_MANAGER: env_manager,
        backends.SYNCHRONOUS: synchronous,
        backends.DOCKER_ARGS: dict(docker_args or {}),
        backends.STORAGE_DIR: storage_dir,
        backends.BUILD_IMAGE: build_image,
        backends.DOCKER_AUTH: docker_auth,
        backends.RUN_NAME: run_name,
    })
    if run_id is not None:
        config[backends.RUN_ID] = run_id
    if experiment_name and experiment_id:
        raise ExecutionException("Specify only one of 'experiment_name' or 'experiment_id'.")

    def experiment() -> str:
        return resolve_experiment_id(experiment_name, experiment_id)

    # The built-in backend resolves (and maybe creates) the experiment only once the project and its
    # parameters have been checked; other backends get the id, as in MLflow.
    target: Any = experiment if isinstance(runner, backends.LocalBackend) else experiment()
    submitted: SubmittedRun = runner.run(str(uri), entry_point, dict(parameters or {}), version, config,
                                         _stores.get_tracking_uri(), target)
    if synchronous:
        wait_for(submitted)
    return submitted


def wait_for(submitted: SubmittedRun) -> None:
    """Wait for the run; a failure raises ExecutionException, an interruption cancels the run."""
    try:
        ok = submitted.wait()
    except BaseException:
        _logger.error("=== Run (ID '%s') interrupted, cancelling run ===", submitted.run_id)
        submitted.cancel()
        raise
    if not ok:
        proc = getattr(submitted, "command_proc", None)
        code = getattr(proc, "returncode", None)
        detail = f": the command exited with status {code}" if isinstance(code, int) and code > 0 else ""
        raise ExecutionException(f"Run (ID '{submitted.run_id}') failed{detail}")
    _logger.info("=== Run (ID '%s') succeeded ===", submitted.run_id)


__all__ = ["load_backend_config", "resolve_experiment_id", "run", "wait_for"]
