"""Where project runs execute. ``local`` (this machine) is built in; backends are looked up by name
in the ``project_backend`` registry, so a plugin adds one with a ``fluvial.project_backend`` entry
point naming a class with MLflow's backend interface (``run(project_uri, entry_point, params,
version, backend_config, tracking_uri, experiment_id) -> SubmittedRun``).

The local backend, in order: fetch the project, read its MLproject file, pick the entry point, check
the parameters, pick the environment manager (and, for ``docker_env``, check the Docker engine) --
all before anything is written to the tracking store; then create the run (tags and parameters in
one call), build or reuse the environment, resolve ``path`` parameters, and start the command with
``bash -c`` in the project directory, as the leader of a new process group, with MLFLOW_RUN_ID,
MLFLOW_TRACKING_URI (made absolute) and MLFLOW_EXPERIMENT_ID in its environment. A failure after the
run exists marks it FAILED.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from fluvial._internal import registry
from fluvial._internal.uri import local_path, scheme_of
from fluvial.entities import Param, RunStatus, RunTag
from fluvial.exceptions import ExecutionException, InvalidParameterValue
from fluvial.projects import docker as docker_cli
from fluvial.projects import spec as spec_module
from fluvial.projects.git import FetchedProject, fetch_project
from fluvial.projects.params import build_command, check_parameters, resolve_paths
from fluvial.projects.spec import Project, load_project
from fluvial.projects.submitted import LocalSubmittedRun, SubmittedRun
from fluvial.tracking import context
from fluvial.tracking.client import MlflowClient

# backend_config keys (MLflow's names)
ENV_MANAGER = "ENV_MANAGER"
SYNCHRONOUS = "SYNCHRONOUS"
DOCKER_ARGS = "DOCKER_ARGS"
STORAGE_DIR = "STORAGE_DIR"
BUILD_IMAGE = "build_image"
DOCKER_AUTH = "docker_auth"
CONTAINER_ENGINE = "container_engine"  # fluvial's: docker or podman for docker_env (default: the first that answers)
RUN_ID = "_mlflow_local_backend_run_id"
RUN_NAME = "_fluvial_run_name"

# run tags (tracking reference §9)
SOURCE_TYPE_PROJECT = "PROJECT"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"
ENV_TAG = "mlflow.project.env"
BACKEND_TAG = "mlflow.project.backend"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
LEGACY_GIT_BRANCH = "mlflow.gitBranchName"
LEGACY_GIT_REPO_URL = "mlflow.gitRepoURL"
DOCKER_IMAGE_URI = "mlflow.docker.image.uri"
DOCKER_IMAGE_ID = "mlflow.docker.image.id"
GIT_DIRTY = "fluvial.source.git.dirty"

BUILTIN_BACKENDS = {"local": "fluvial.projects.backends:LocalBackend"}
for _name, _target in BUILTIN_BACKENDS.items():
    registry.register("project_backend", _name, _target)

_logger = logging.getLogger(__name__)


def load_backend(name: str) -> Any:
    """An instance of the backend called ``name``."""
    try:
        factory = registry.lookup("project_backend", name)
    except InvalidParameterValue:
        known = ", ".join(registry.names("project_backend"))
        hint = " (Databricks and Kubernetes are not supported by fluvial)" if name in ("databricks", "kubernetes") else ""
        raise ExecutionException(f"Got unsupported execution mode {name}{hint}. Supported values: {known}") from None
    return factory()


def absolute_tracking_uri(uri: str) -> str:
    """``uri`` with a relative SQLite file or tracking directory made absolute, so that the command,
    which runs in the project directory, reaches the same store."""
    scheme = scheme_of(uri)
    if scheme == "":
        return os.path.abspath(uri)
    if scheme == "file":
        return "file://" + os.path.abspath(local_path(uri))
    if scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rest = uri[len("sqlite:///"):]
        path, sep, query = rest.partition("?")
        if path and path != ":memory:" and not path.startswith("file:"):
            return "sqlite:///" + os.path.abspath(path) + sep + query
    return uri


def default_env_manager(project: Project) -> str:
    """MLflow's choice when none is given: conda for conda_env, local inside docker, else virtualenv."""
    if project.env_type == spec_module.CONDA:
        return "conda"
    if project.env_type == spec_module.DOCKER:
        return "local"
    return "virtualenv"


def choose_env_manager(project: Project, env_manager: str | None) -> str:
    from fluvial.environments import validate_env_manager

    if env_manager is None:
        return default_env_manager(project)
    manager = validate_env_manager(env_manager)
    if project.env_type == spec_module.PYTHON and manager == "conda":
        raise InvalidParameterValue("python_env project cannot be executed using conda. Set `--env-manager` to "
                                    "'virtualenv' or 'local' to execute this project.")
    return manager


def env_tag(project: Project, manager: str) -> str | None:
    if project.env_type == spec_module.DOCKER:
        return "docker"
    return {"virtualenv": "virtualenv", "uv": "virtualenv", "conda": "conda"}.get(manager)


def local_environ(extra: Mapping[str, str], cleanup: list[Callable[[], None]]) -> dict[str, str]:
    """This process's environment with ``python`` on PATH meaning the running interpreter."""
    env = dict(os.environ)
    bin_dir = os.path.dirname(sys.executable)
    python = os.path.join(bin_dir, "python")
    if not (os.path.isfile(python) and os.path.realpath(python) == os.path.realpath(sys.executable)):
        bin_dir = tempfile.mkdtemp(prefix="fluvial-python-")
        for name in ("python", "python3"):
            path = os.path.join(bin_dir, name)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            os.chmod(path, 0o755)
        cleanup.append(lambda: shutil.rmtree(bin_dir, ignore_errors=True))
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def _remove_all(paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _end_run(client: MlflowClient, run_id: str, forced: str | None) -> str:
    """End the run after its command exited; the status it ends with (see LocalSubmittedRun)."""
    current = client.get_run(run_id).info.status
    if forced == "KILLED":
        status = "KILLED"
    elif forced == "FAILED":
        status = current if current in ("FAILED", "KILLED") else "FAILED"
    else:
        status = current if RunStatus.is_terminated(current) else "FINISHED"
    if status != current:
        client.set_terminated(run_id, status)
    return status


class LocalBackend:
    """Runs projects on this machine."""

    def run(self, project_uri: str, entry_point: str, params: Mapping[str, Any] | None, version: str | None,
            backend_config: Mapping[str, Any], tracking_uri: str,
            experiment_id: str | Callable[[], str]) -> SubmittedRun:
        """Start the run; ``experiment_id`` may be a function that gives it, called only once the
        project and the parameters have been checked."""
        fetched = fetch_project(project_uri, version)
        try:
            return self._run(fetched, entry_point, params, backend_config, tracking_uri, experiment_id)
        except BaseException:
            fetched.cleanup()
            raise

    def _run(self, fetched: FetchedProject, entry_point_name: str, params: Mapping[str, Any] | None,
             config: Mapping[str, Any], tracking_uri: str,
             experiment_id: str | Callable[[], str]) -> SubmittedRun:
        project = load_project(fetched.directory)
        entry_point = project.get_entry_point(entry_point_name)
        values, extra = check_parameters(entry_point, params)
        manager = choose_env_manager(project, config.get(ENV_MANAGER))
        docker = None
        if project.env_type == spec_module.DOCKER:
            if not project.name:
                raise ExecutionException("Project name in MLProject must be specified when using docker for image "
                                         "tagging.")
            docker = docker_cli.check_engine(config.get(CONTAINER_ENGINE))
        client = MlflowClient(tracking_uri)
        tags = {ENV_TAG: env_tag(project, manager), BACKEND_TAG: "local"}
        run_id = config.get(RUN_ID)
        if run_id:
            run = client.get_run(run_id)
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items() if v is not None])
            if config.get(RUN_NAME):
                client.update_run(run_id, name=config[RUN_NAME])
            experiment_id = run.info.experiment_id
        else:
            if callable(experiment_id):
                experiment_id = experiment_id()
            run = self._create_run(client, fetched, entry_point_name, experiment_id, {**tags}, config.get(RUN_NAME),
                                   {**values, **extra})
            run_id = run.info.run_id
        cleanup: list[Callable[[], None]] = [fetched.cleanup]
        try:
            run_env = {"MLFLOW_RUN_ID": run_id, "MLFLOW_TRACKING_URI": absolute_tracking_uri(tracking_uri),
                       "MLFLOW_EXPERIMENT_ID": str(experiment_id)}
            downloads: list[str] = []
            if not config.get(STORAGE_DIR):  # downloads into our own temporary directory: removed at the end
                cleanup.append(lambda: _remove_all(downloads))
            resolved = resolve_paths(entry_point, values, config.get(STORAGE_DIR), created=downloads)
            command = build_command(entry_point, resolved, extra)
            if docker is not None:
                argv, env = self._docker_command(docker, project, fetched, client, run, command, run_env, config)
            else:
                argv, env = ["bash", "-c", command], self._environ(manager, project, run_env, cleanup)
            _logger.info("=== Running command '%s' in run with ID '%s' ===", command, run_id)
            proc = subprocess.Popen(argv, cwd=project.directory, env=env, start_new_session=True, close_fds=True,
                                    stdin=None if config.get(SYNCHRONOUS, True) else subprocess.DEVNULL)
        except BaseException:
            for step in cleanup:
                step()
            try:
                client.set_terminated(run_id, "FAILED")
            except Exception:
                _logger.debug("Could not mark run %s FAILED", run_id, exc_info=True)
            raise

        def on_exit() -> None:
            for step in cleanup:
                step()

        return LocalSubmittedRun(run_id, proc, lambda forced: _end_run(client, run_id, forced), on_exit)

    @staticmethod
    def _create_run(client: MlflowClient, fetched: FetchedProject, entry_point: str, experiment_id: str,
                    tags: dict[str, str | None], run_name: str | None, params: Mapping[str, str]) -> Any:
        from fluvial.tracking import fluent

        tags.update({
            context.USER: context.current_user(),
            context.SOURCE_NAME: fetched.source_name,
            context.SOURCE_TYPE: SOURCE_TYPE_PROJECT,
            ENTRY_POINT_TAG: entry_point,
        })
        if fetched.commit:
            tags[context.GIT_COMMIT] = fetched.commit
        if fetched.repo_url:
            tags[GIT_REPO_URL] = tags[LEGACY_GIT_REPO_URL] = fetched.repo_url
        if fetched.branch:
            tags[GIT_BRANCH] = tags[LEGACY_GIT_BRANCH] = fetched.branch
        if fetched.dirty:
            tags[GIT_DIRTY] = "true"
            _logger.warning("The git work tree %s has uncommitted changes: the run records commit %s, which is not "
                            "exactly the code that runs.", fetched.work_tree, fetched.commit)
        parent = fluent.active_run()
        if parent is not None:
            tags[context.PARENT_RUN_ID] = parent.info.run_id
        if run_name:
            tags[context.RUN_NAME] = run_name
        run = client.create_run(experiment_id, tags={k: v for k, v in tags.items() if v is not None},
                                run_name=run_name)
        if params:
            try:
                client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
            except BaseException:
                client.set_terminated(run.info.run_id, "FAILED")
                raise
        return run

    @staticmethod
    def _environ(manager: str, project: Project, run_env: Mapping[str, str],
                 cleanup: list[Callable[[], None]]) -> dict[str, str]:
        if manager == "local":
            return local_environ(run_env, cleanup)
        from fluvial.environments.projects import prepare_project_environment

        kind = project.env_type if project.env_path else None
        environment = prepare_project_environment(manager, project.directory, kind, project.env_path)
        return environment.environ(run_env)

    @staticmethod
    def _docker_command(docker: str, project: Project, fetched: FetchedProject, client: MlflowClient, run: Any,
                        command: str, run_env: Mapping[str, str],
                        config: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
        assert project.docker_env is not None
        if config.get(DOCKER_AUTH):
            docker_cli.login(docker, config[DOCKER_AUTH])
        image = project.docker_env["image"]
        if config.get(BUILD_IMAGE):
            image_uri = docker_cli.image_tag(project.name, fetched.commit)
            image_id = docker_cli.build_image(docker, project.directory, image, image_uri)
            mount = None
        else:
            image_uri, image_id = image, docker_cli.base_image(docker, image)
            mount = project.directory
        client.log_batch(run.info.run_id, tags=[RunTag(DOCKER_IMAGE_URI, image_uri), RunTag(DOCKER_IMAGE_ID, image_id)])
        artifact_uri = run.info.artifact_uri or ""
        artifact_dir = os.path.abspath(local_path(artifact_uri)) if artifact_uri and scheme_of(artifact_uri) in (
            "", "file") else None
        if artifact_dir:
            os.makedirs(artifact_dir, exist_ok=True)
        spec = docker_cli.DockerRun(docker_args=config.get(DOCKER_ARGS), volumes=project.docker_env["volumes"],
                                    environment=project.docker_env["environment"], mount_project=mount)
        return docker_cli.run_command(docker, image_uri, command, spec, run_env, artifact_dir)


__all__ = ["BUILTIN_BACKENDS", "LocalBackend", "absolute_tracking_uri", "choose_env_manager",
           "default_env_manager", "load_backend"]
