"""Environments for MLflow projects, built by the same managers, in the same cache, as models'.

A project names its environment with an MLproject key: ``python_env`` (a ``python_env.yaml``: python,
build_dependencies, dependencies) or ``conda_env`` (a conda environment file), or with neither (the
running Python's version, no requirements). The managers build environments for a *model directory*
(``python_env.yaml`` + ``requirements.txt``, or ``conda.yaml``); :func:`prepare_project_environment`
writes the project's environment in that shape into a staging directory and hands it to the manager,
so caching (by a hash of the content), locking, the fluvial install and error reporting are the
managers' own.

Requirement lines that point at files or directories (``-r requirements.txt``, ``-c constraints.txt``,
``-e .``, ``./pkg``) are relative to the project directory, as in MLflow. ``mlflow`` lines are dropped:
the environment gets fluvial instead (``import fluvial as mlflow``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from fluvial.environments import get_env_manager
from fluvial.environments.base import Environment, Report, report_to_stderr
from fluvial.environments.builder import CONDA_ENV_FILE, PYTHON_ENV_FILE
from fluvial.exceptions import InvalidParameterValue, MlflowException

_FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")


def _absolute_line(line: str, project_dir: str) -> str:
    """A requirement line with a relative file or directory reference made absolute."""
    stripped = line.strip()
    head, _, rest = stripped.partition(" ")
    if head in _FILE_OPTIONS and rest.strip():
        target = rest.strip()
        if head in ("-e", "--editable") and not target.startswith((".", "/")):
            return stripped  # an editable VCS URL
        return f"{head} {os.path.normpath(os.path.join(project_dir, target))}"
    for option in _FILE_OPTIONS:
        if option.startswith("--") and stripped.startswith(option + "="):
            target = stripped[len(option) + 1:].strip()
            return f"{option} {os.path.normpath(os.path.join(project_dir, target))}"
    if stripped == "." or stripped.startswith(("./", "../")):
        return os.path.normpath(os.path.join(project_dir, stripped))
    return stripped


def stage_project_environment(staging: str, project_dir: str, env_kind: str | None, env_file: str | None) -> None:
    """Write the project's environment into ``staging`` as a model directory's environment files.

    ``env_kind`` is ``"python_env"``, ``"conda_env"`` or None (no file: the running Python)."""
    import yaml

    from fluvial.models.environment import read_python_env

    if env_kind is None or env_file is None:
        return
    if env_kind == "python_env":
        env = read_python_env(env_file)
        with open(os.path.join(staging, PYTHON_ENV_FILE), "w", encoding="utf-8") as fh:
            yaml.safe_dump({"python": env["python"], "build_dependencies": env["build_dependencies"]}, fh,
                           sort_keys=False)
        lines = [_absolute_line(str(dep), project_dir) for dep in env["dependencies"] if str(dep).strip()]
        with open(os.path.join(staging, "requirements.txt"), "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
        return
    if env_kind == "conda_env":
        with open(env_file, encoding="utf-8") as fh:
            conda: Any = yaml.safe_load(fh) or {}
        if not isinstance(conda, dict):
            raise InvalidParameterValue(f"{env_file} must hold a conda environment (a mapping with dependencies).")
        dependencies = []
        for dep in conda.get("dependencies") or []:
            if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
                dep = {**dep, "pip": [_absolute_line(str(line), project_dir) for line in dep["pip"]]}
            dependencies.append(dep)
        with open(os.path.join(staging, CONDA_ENV_FILE), "w", encoding="utf-8") as fh:
            yaml.safe_dump({**conda, "dependencies": dependencies}, fh, sort_keys=False)
        return
    raise InvalidParameterValue(f"Unknown project environment kind {env_kind!r}")


def prepare_project_environment(manager: str, project_dir: str, env_kind: str | None, env_file: str | None,
                                report: Report = report_to_stderr) -> Environment:
    """The environment (built, or found in the cache) to run the project in with ``manager``
    (virtualenv, uv, conda; ``local`` is the running interpreter as it is)."""
    env_manager = get_env_manager(manager)
    if env_manager.is_local:
        return env_manager.prepare(project_dir, report=report)
    staging = tempfile.mkdtemp(prefix="fluvial-project-env-")
    try:
        stage_project_environment(staging, project_dir, env_kind, env_file)
        return env_manager.prepare(staging, report=lambda text: report(_about_the_project(text)))
    except MlflowException as exc:
        exc.message = _about_the_project(exc.message)
        exc.args = (exc.message,)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _about_the_project(text: str) -> str:
    """The managers' messages speak of "the model"; here the environment is the project's."""
    return text.replace("the model's ", "the project's ").replace("run the model ", "run the project ")


__all__ = ["prepare_project_environment", "stage_project_environment"]
