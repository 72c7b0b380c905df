"""``fluvial run``: run an MLflow project (MLflow's ``mlflow run``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

ENV_MANAGERS = ("local", "virtualenv", "conda", "uv")


def _pairs(values: Sequence[str], flag: str, allow_bare: bool) -> dict[str, Any]:
    """``NAME=VALUE`` options as a dict (``-A NAME`` alone means a bare flag: True)."""
    out: dict[str, Any] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if (not sep and not allow_bare) or not name:
            raise click.BadParameter(f"Invalid format for {flag} parameter: '{item}'. Use {flag} name=value.",
                                     param_hint=f"'{flag}'")
        if name in out:
            raise click.BadParameter(f"Repeated parameter: '{name}'", param_hint=f"'{flag}'")
        out[name] = value if sep else True
    return out


@contextmanager
def _progress_on_stderr() -> Iterator[None]:
    """Show the projects' progress messages (INFO) on stderr while the command runs."""
    logger = logging.getLogger("fluvial.projects")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fluvial run: %(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


class _Terminated(SystemExit):
    pass


@contextmanager
def _sigterm_cancels() -> Iterator[None]:
    """SIGTERM interrupts the wait, so that the run's process group is stopped and the run KILLED."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("run")
@click.argument("uri")
@click.option("-e", "--entry-point", metavar="NAME", default="main", show_default=True,
              help="Entry point of the project. An undeclared NAME ending in .py or .sh runs that file of the project "
                   "with python or $SHELL.")
@click.option("-v", "--version", metavar="VERSION", help="Git branch, tag or commit to run (git projects).")
@click.option("-P", "--param-list", metavar="NAME=VALUE", multiple=True,
              help="A parameter, repeatable. Names the entry point does not declare are passed as --NAME VALUE.")
@click.option("-A", "--docker-args", metavar="NAME=VALUE", multiple=True,
              help="A `docker run` flag for docker_env projects: -A name=value or -A name, repeatable.")
@click.option("--experiment-name", envvar="MLFLOW_EXPERIMENT_NAME",
              help="Experiment to run in (created when missing).")
@click.option("--experiment-id", envvar="MLFLOW_EXPERIMENT_ID", help="ID of the experiment to run in.")
@click.option("-b", "--backend", metavar="BACKEND", default="local", show_default=True,
              help="Where to run: 'local' (or a backend plugin).")
@click.option("-c", "--backend-config", metavar="FILE",
              help="Backend configuration: a .json file or a JSON string.")
@click.option("--env-manager", type=click.Choice(ENV_MANAGERS), default=None,
              help="Environment to run in: local, virtualenv, uv or conda (default: from the project: python_env -> "
                   "virtualenv, conda_env -> conda, docker_env -> the container).")
@click.option("--storage-dir", envvar="MLFLOW_TMP_DIR",
              help="Where remote URIs given to 'path' parameters are downloaded.")
@click.option("--run-id", metavar="RUN_ID", help="Use this existing run instead of creating one.")
@click.option("--run-name", metavar="RUN_NAME", help="Name of the new run.")
@click.option("--build-image", is_flag=True, default=False,
              help="docker_env projects: build a new image with the project copied in.")
@click.option("--engine", type=click.Choice(["docker", "podman"]), default=None,
              help="docker_env projects: the container engine [env FLUVIAL_CONTAINER_ENGINE]; default: docker if "
                   "it answers, else podman.")
@click.pass_context
def run(ctx: click.Context, uri: str, entry_point: str, version: str | None, param_list: tuple[str, ...],
        docker_args: tuple[str, ...], experiment_name: str | None, experiment_id: str | None, backend: str,
        backend_config: str | None, env_manager: str | None, storage_dir: str | None, run_id: str | None,
        run_name: str | None, build_image: bool, engine: str | None) -> None:
    """Run the MLflow project at URI (a directory, a git repository URI with an optional #subdirectory,
    or a .zip archive) as a tracked run, and wait for it.

    The command runs with MLFLOW_RUN_ID, MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID set, so
    `mlflow.start_run()` in it logs into the run. Exits non-zero when the run fails.
    """
    from click.core import ParameterSource

    from fluvial.projects.backends import CONTAINER_ENGINE
    from fluvial.projects.runner import load_backend_config
    from fluvial.projects.runner import run as run_project

    if experiment_name and experiment_id:
        # a value from the environment yields to one given on the command line
        name_source = ctx.get_parameter_source("experiment_name")
        id_source = ctx.get_parameter_source("experiment_id")
        if id_source == ParameterSource.ENVIRONMENT and name_source != ParameterSource.ENVIRONMENT:
            experiment_id = None
        elif name_source == ParameterSource.ENVIRONMENT and id_source != ParameterSource.ENVIRONMENT:
            experiment_name = None
        else:
            raise click.UsageError("Specify only one of 'experiment-name' or 'experiment-id' options.")
    parameters = _pairs(param_list, "-P", allow_bare=False)
    docker = _pairs(docker_args, "-A", allow_bare=True)
    config: dict[str, Any] | str | None = backend_config
    if engine is not None:
        config = {**load_backend_config(backend_config), CONTAINER_ENGINE: engine}
    with _progress_on_stderr(), _sigterm_cancels():
        run_project(uri, entry_point=entry_point, version=version, parameters=parameters, docker_args=docker,
                    experiment_name=experiment_name, experiment_id=experiment_id, backend=backend,
                    backend_config=config, storage_dir=storage_dir, synchronous=True, run_id=run_id,
                    run_name=run_name, env_manager=env_manager, build_image=build_image)
