"""The ``MLproject`` file: reading it, checking it, and MLflow's conventions when there is none.

A project is a directory. Its descriptor is a YAML file whose name is ``MLproject`` in any letter case
and without an extension (``MLproject.yaml`` is not a descriptor). Keys:

``name``
    the project's name (needed for ``docker_env``: it names the image);
``python_env`` / ``conda_env``
    a path, relative to the project, to a ``python_env.yaml`` or a conda environment file;
``docker_env``
    ``{image: ..., volumes: [...], environment: [NAME or [NAME, value], ...]}``;
``entry_points``
    ``name -> {command: str, parameters: {name: type | {type: ..., default: ...}}}``.

At most one environment key may be present. Without one (or without an MLproject file at all),
``python_env.yaml`` in the project root is used, else ``conda.yaml``, else a plain Python environment.
An entry point that is not declared but names a ``.py`` or ``.sh`` file of the project runs that file
with ``python`` or ``$SHELL``.
"""

from __future__ import annotations

import logging
import os
import shlex
import string
from dataclasses import dataclass, field
from typing import Any

from fluvial.exceptions import ExecutionException

MLPROJECT_FILE_NAME = "MLproject"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"

# values of Project.env_type
PYTHON = "python_env"
CONDA = "conda_env"
DOCKER = "docker_env"
ENV_TYPES = (PYTHON, CONDA, DOCKER)

PARAM_TYPES = ("float", "int", "string", "path", "uri")
SCRIPT_COMMANDS = {".py": "python", ".sh": None}  # None: $SHELL, else bash

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parameter:
    """A declared parameter of an entry point; ``default`` None means the parameter is required."""

    name: str
    type: str = "string"
    default: Any = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)


@dataclass
class Project:
    """A loaded project: where it is, what runs it, and in which environment."""

    directory: str
    name: str | None = None
    env_type: str = PYTHON
    env_path: str | None = None  # absolute path of the python_env / conda file (None: plain Python)
    docker_env: dict[str, Any] | None = None
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    mlproject_path: str | None = None

    def get_entry_point(self, name: str) -> EntryPoint:
        """The declared entry point ``name``, or a script of the project run by its extension."""
        declared = self.entry_points.get(name)
        if declared is not None:
            return declared
        ext = os.path.splitext(name)[1]
        if ext in SCRIPT_COMMANDS:
            script = os.path.join(self.directory, name)
            if os.path.isfile(script):
                program = SCRIPT_COMMANDS[ext] or os.environ.get("SHELL") or "bash"
                return EntryPoint(name, f"{shlex.quote(program)} {shlex.quote(name)}")
            raise ExecutionException(
                f"Could not find {name} among entry points {sorted(self.entry_points)}, and there is no file "
                f"{name} in the project directory {self.directory} to run as a script."
            )
        raise ExecutionException(
            f"Could not find {name} among entry points {sorted(self.entry_points)} or interpret {name} as a "
            f"runnable script. Supported script file extensions: {list(SCRIPT_COMMANDS)}"
        )


def find_mlproject(directory: str) -> str | None:
    """The path of the project's MLproject file (name compared case-insensitively), or None."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise ExecutionException(f"Cannot read the project directory {directory}: {exc.strerror or exc}") from None
    for name in names:
        if name.lower() == MLPROJECT_FILE_NAME.lower() and os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    return None


def load_project(directory: str) -> Project:
    """Read and check the project in ``directory`` (a local directory)."""
    import yaml

    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise ExecutionException(f"The project directory {directory} does not exist.")
    path = find_mlproject(directory)
    data: Any = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ExecutionException(f"Invalid MLproject file {path}: not valid YAML ({_one_line(exc)})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ExecutionException(f"Invalid MLproject file {path}: it must be a YAML mapping of keys "
                                     f"(name, entry_points, ...), not a {type(data).__name__}.")
    where = path or directory

    def bad(message: str) -> ExecutionException:
        return ExecutionException(f"Invalid MLproject file {where}: {message}")

    env_keys = [key for key in ENV_TYPES if key in data]
    if len(env_keys) > 1:
        raise ExecutionException(f"Project cannot contain multiple environment fields: {set(env_keys)}")
    name = data.get("name")
    if name is not None and not isinstance(name, (str, int, float)):
        raise bad("`name` must be a string.")
    project = Project(directory=directory, name=None if name is None else str(name), mlproject_path=path)
    project.entry_points = _entry_points(data.get("entry_points"), bad)
    if DOCKER in data:
        project.env_type = DOCKER
        project.docker_env = _docker_env(data[DOCKER], bad)
    elif PYTHON in data or CONDA in data:
        key = env_keys[0]
        relative = data[key]
        if not isinstance(relative, str) or not relative.strip():
            raise bad(f"`{key}` must be the path of an environment file, relative to the project directory.")
        env_path = os.path.normpath(os.path.join(directory, relative))
        if not os.path.isfile(env_path):
            noun = "python_env" if key == PYTHON else "conda environment"
            raise ExecutionException(f"Project specified {noun} file {env_path}, but no such file was found.")
        project.env_type, project.env_path = key, env_path
    elif os.path.isfile(os.path.join(directory, PYTHON_ENV_FILE)):
        project.env_type, project.env_path = PYTHON, os.path.join(directory, PYTHON_ENV_FILE)
    elif os.path.isfile(os.path.join(directory, CONDA_ENV_FILE)):
        project.env_type, project.env_path = CONDA, os.path.join(directory, CONDA_ENV_FILE)
    return project


def _entry_points(value: Any, bad: Any) -> dict[str, EntryPoint]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad("`entry_points` must be a mapping of entry point names to {command, parameters}.")
    entry_points: dict[str, EntryPoint] = {}
    for raw_name, body in value.items():
        name = str(raw_name)
        if not isinstance(body, dict):
            raise bad(f"entry point '{name}' must be a mapping with a `command`.")
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise bad(f"entry point '{name}' has no `command` (a string).")
        raw_params = body.get("parameters") or {}
        if not isinstance(raw_params, dict):
            raise bad(f"the `parameters` of entry point '{name}' must be a mapping.")
        params = {str(k): _parameter(str(k), v, name, bad) for k, v in raw_params.items()}
        entry_point = EntryPoint(name, command, params)
        check_command_fields(entry_point, bad)
        entry_points[name] = entry_point
    return entry_points


def _parameter(name: str, value: Any, entry_point: str, bad: Any) -> Parameter:
    if isinstance(value, str):
        ptype, default = value, None
    elif isinstance(value, dict):
        ptype, default = value.get("type", "string"), value.get("default")
        unknown = sorted(set(value) - {"type", "default"})
        if unknown:
            _logger.warning("Parameter '%s' of entry point '%s' has unknown keys %s (ignored)", name, entry_point,
                            unknown)
    else:
        raise bad(f"parameter '{name}' of entry point '{entry_point}' must be a type name "
                  f"({', '.join(PARAM_TYPES)}) or a mapping {{type: ..., default: ...}}.")
    if not isinstance(ptype, str):
        raise bad(f"the type of parameter '{name}' of entry point '{entry_point}' must be a string.")
    ptype = ptype.strip().lower()
    if ptype not in PARAM_TYPES:
        # MLflow passes values of types it does not know through as strings; so does fluvial.
        _logger.warning("Parameter '%s' of entry point '%s' has type '%s', which is not one of %s; its values "
                        "are passed as strings", name, entry_point, ptype, ", ".join(PARAM_TYPES))
    if isinstance(default, (dict, list)):
        raise bad(f"the default of parameter '{name}' of entry point '{entry_point}' must be a single value.")
    return Parameter(name, ptype, default)


def check_command_fields(entry_point: EntryPoint, bad: Any = None) -> None:
    """Every ``{field}`` of the command must be a declared parameter, written plainly (no ``!r``,
    ``:spec``, ``.attr`` or ``[index]``): substituted values are shell-quoted, and anything that
    reformats them afterwards could undo the quoting. Literal braces are written ``{{`` and ``}}``."""
    make = bad or (lambda message: ExecutionException(message))
    try:
        fields = list(string.Formatter().parse(entry_point.command))
    except ValueError as exc:
        raise make(f"the command of entry point '{entry_point.name}' is not a valid template ({exc}); "
                   "write literal braces as {{ and }}.") from None
    for _, field_name, spec, conversion in fields:
        if field_name is None:
            continue
        if field_name not in entry_point.parameters:
            raise make(f"the command of entry point '{entry_point.name}' refers to {{{field_name}}}, which is not "
                       f"one of its parameters ({', '.join(entry_point.parameters) or 'none'}); write literal "
                       "braces as {{ and }}.")
        if spec or conversion:
            raise make(f"the command of entry point '{entry_point.name}' formats {{{field_name}}} with "
                       f"'{'!' + conversion if conversion else ''}{':' + spec if spec else ''}'; only plain "
                       f"{{{field_name}}} fields are supported (values are shell-quoted).")


def _docker_env(value: Any, bad: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value.get("image"):
        raise ExecutionException("Project configuration (MLproject file) was invalid: Docker environment "
                                 "specified but no image attribute found.")
    if not isinstance(value["image"], str):
        raise bad("docker_env `image` must be a string.")
    volumes = value.get("volumes") or []
    if not (isinstance(volumes, list) and all(isinstance(v, str) for v in volumes)):
        raise ExecutionException("Project configuration (MLproject file) was invalid: Docker volumes must be a "
                                 "list of strings, e.g.: '[\"/path1/:/path1\", \"/path2/:/path2\"]'")
    environment = value.get("environment") or []
    ok = isinstance(environment, list) and all(
        isinstance(e, str) or (isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e))
        for e in environment
    )
    if not ok:
        raise ExecutionException(
            "Project configuration (MLproject file) was invalid: environment must be a list containing either "
            "strings (to copy environment variables from host system) or lists of string pairs (to define new "
            "environment variables). E.g.: '[[\"NEW_VAR\", \"new_value\"], \"VAR_TO_COPY_FROM_HOST\"]'"
        )
    return {"image": value["image"], "volumes": list(volumes), "environment": [
        e if isinstance(e, str) else list(e) for e in environment]}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


__all__ = ["CONDA", "DOCKER", "ENV_TYPES", "MLPROJECT_FILE_NAME", "PARAM_TYPES", "PYTHON", "EntryPoint",
           "Parameter", "Project", "check_command_fields", "find_mlproject", "load_project"]
