"""The environment files of a model directory: ``conda.yaml``, ``python_env.yaml``, ``requirements.txt``
(and ``constraints.txt``), in MLflow's exact formats.

One difference on purpose: MLflow puts ``mlflow==<version>`` first in every requirements list; fluvial
pins neither itself nor mlflow (MLflow installs mlflow into the environments it builds, and fluvial's
environment managers install fluvial). Requirements it reads from MLflow-saved models go through
:func:`requirements_for_environment`, which drops those lines.

Typical use by a flavor's ``save_model``::

    env = write_environment(
        path,
        default_pip_requirements=get_default_pip_requirements(),
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        conda_env=conda_env,
        infer_from=lambda: infer_pip_requirements(path, fallback=defaults),
    )
    pyfunc_conf["env"] = env      # {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
"""

from __future__ import annotations

import copy
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.models.infer_requirements import infer_pip_requirements
from fluvial.models.requirements import (
    CONSTRAINTS_FILE_NAME,
    RequirementsArgumentError,
    RequirementsTypeError,
    clean_requirement_lines,
    current_versions,
    dedupe_requirements,
    installed_version,
    is_mlflow_requirement,
    parse_pip_requirements,
    pinned_requirement,
    warn_requirement_mismatches,
)

__all__ = [
    "CONDA_ENV_FILE_NAME",
    "CONSTRAINTS_FILE_NAME",
    "ENV_FILES",
    "PYTHON_ENV_FILE_NAME",
    "REQUIREMENTS_FILE_NAME",
    "conda_env_dict",
    "current_versions",
    "get_model_dependencies",
    "infer_pip_requirements",
    "pinned",
    "pinned_requirement",
    "process_conda_env",
    "process_pip_requirements",
    "python_env_dict",
    "python_env_from_conda",
    "python_version",
    "read_python_env",
    "requirements_for_environment",
    "validate_env_arguments",
    "write_environment",
    "write_python_env",
]

pinned = pinned_requirement  # ``pinned("scikit-learn")`` -> ``"scikit-learn==1.9.1"``

CONDA_ENV_FILE_NAME = "conda.yaml"
PYTHON_ENV_FILE_NAME = "python_env.yaml"
REQUIREMENTS_FILE_NAME = "requirements.txt"
BUILD_PACKAGES = ("pip", "setuptools", "wheel")
ENV_FILES = {"conda": CONDA_ENV_FILE_NAME, "virtualenv": PYTHON_ENV_FILE_NAME}

_CONDA_DEPENDENCY = re.compile(
    r"^(?P<package>python|pip|setuptools|wheel)(?P<operator><|>|<=|>=|=|==|!=)?(?P<version>[\d.]+)?$"
)


def python_version() -> str:
    """``3.11.7``: the version written to ``python_env.yaml``, ``conda.yaml`` and the pyfunc flavor."""
    return "{}.{}.{}".format(*sys.version_info[:3])


def validate_env_arguments(conda_env: Any, pip_requirements: Any, extra_pip_requirements: Any) -> None:
    """At most one of the three may be given (the error is both MlflowException and ValueError)."""
    if sum(arg is not None for arg in (conda_env, pip_requirements, extra_pip_requirements)) > 1:
        raise RequirementsArgumentError(
            "Only one of `conda_env`, `pip_requirements`, and `extra_pip_requirements` can be specified"
        )


def conda_env_dict(
    pip_requirements: list[str] | None = None,
    additional_conda_deps: list[str] | None = None,
    additional_conda_channels: list[str] | None = None,
) -> dict[str, Any]:
    """A conda environment (``name: mlflow-env``, conda-forge, ``python=<version>``, ``pip<=<installed
    pip>`` when there are pip requirements, then ``{"pip": [...]}``)."""
    pip_deps = list(pip_requirements or [])
    conda_deps = list(additional_conda_deps or [])
    if pip_deps:
        pip = installed_version("pip")
        conda_deps.append(f"pip<={pip}" if pip else "pip")
    return {
        "name": "mlflow-env",
        "channels": ["conda-forge", *(additional_conda_channels or [])],
        "dependencies": [f"python={python_version()}", *conda_deps, {"pip": pip_deps}],
    }


def python_env_dict(dependencies: list[str] | None = None) -> dict[str, Any]:
    """The ``python_env.yaml`` mapping for the running interpreter: ``python``, ``build_dependencies``
    (``pip==``, ``setuptools==``, ``wheel``; unpinned when not installed), ``dependencies``."""
    build = []
    for package in BUILD_PACKAGES:
        version = _dist_version(package)
        build.append(f"{package}=={version}" if version else package)
    deps = [f"-r {REQUIREMENTS_FILE_NAME}"] if dependencies is None else dependencies
    return {"python": python_version(), "build_dependencies": build, "dependencies": deps}


def _dist_version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pip_deps(conda_env: dict[str, Any]) -> list[str]:
    for dep in conda_env.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            return list(dep["pip"] or [])
    return []


def _with_pip_deps(conda_env: dict[str, Any], pip_deps: list[str]) -> dict[str, Any]:
    deps, replaced = [], False
    for dep in conda_env.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            deps.append({"pip": pip_deps})
            replaced = True
        else:
            deps.append(dep)
    if not replaced:
        deps.append({"pip": pip_deps})
    return {**conda_env, "dependencies": deps}


def process_pip_requirements(
    default_pip_requirements: list[str] | None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(conda_env, requirements, constraints)`` from the pip arguments of ``save_model``:
    ``pip_requirements`` replaces the defaults, ``extra_pip_requirements`` is appended to them; the result
    is de-duplicated and gets ``-c constraints.txt`` when constraints were given."""
    constraints: list[str] = []
    if pip_requirements is not None:
        reqs, constraints = parse_pip_requirements(pip_requirements)
    elif extra_pip_requirements is not None:
        extra, constraints = parse_pip_requirements(extra_pip_requirements)
        reqs = list(default_pip_requirements or []) + extra
    else:
        reqs = list(default_pip_requirements or [])
    reqs = dedupe_requirements(reqs)
    warn_requirement_mismatches(reqs)
    if constraints:
        reqs.append(f"-c {CONSTRAINTS_FILE_NAME}")
    return conda_env_dict(reqs), reqs, constraints


def load_conda_env(conda_env: Any) -> tuple[dict[str, Any], str | None]:
    """A conda environment from a dict or a YAML file path; ``(env, directory of the file or None)``."""
    if isinstance(conda_env, (str, os.PathLike)):
        import yaml

        path = os.fspath(conda_env)
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f)
        except OSError as exc:
            raise RequirementsArgumentError(f"Could not read the conda environment file {path!r}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise RequirementsArgumentError(f"The conda environment file {path!r} does not hold a mapping")
        return loaded, os.path.dirname(os.path.abspath(path))
    if isinstance(conda_env, dict):
        return copy.deepcopy(conda_env), None
    raise RequirementsTypeError(
        "Expected a string path to a conda env yaml file or a `dict` representing a conda env, "
        f"but got `{type(conda_env).__name__}`"
    )


def process_conda_env(conda_env: Any) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(conda_env, requirements, constraints)`` from a user's ``conda_env``: its pip section becomes
    ``requirements.txt`` (``-r``/``-c`` references resolved, relative to the YAML file when one was given)."""
    env, base_dir = load_conda_env(conda_env)
    reqs, constraints = parse_pip_requirements(_pip_deps(env), base_dir=base_dir)
    warn_requirement_mismatches(reqs)
    if constraints:
        reqs.append(f"-c {CONSTRAINTS_FILE_NAME}")
    return _with_pip_deps(env, reqs), reqs, constraints


def write_environment(
    path: str,
    *,
    default_pip_requirements: list[str],
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    infer_from: Callable[[], list[str]] | None = None,
) -> dict[str, str]:
    """Write ``conda.yaml``, ``python_env.yaml``, ``requirements.txt`` (+ ``constraints.txt``) into the
    model directory ``path`` and return the pyfunc flavor's ``env`` block.

    ``infer_from`` (called only when neither ``conda_env`` nor ``pip_requirements`` is given) returns
    inferred requirements, which are united with the defaults and sorted, as MLflow's flavors do."""
    validate_env_arguments(conda_env, pip_requirements, extra_pip_requirements)
    if conda_env is not None:
        env, reqs, constraints = process_conda_env(conda_env)
    else:
        defaults = list(default_pip_requirements)
        if pip_requirements is None and infer_from is not None:
            defaults = sorted(set(infer_from()) | set(defaults))
        env, reqs, constraints = process_pip_requirements(defaults, pip_requirements, extra_pip_requirements)
    import yaml

    with open(os.path.join(path, CONDA_ENV_FILE_NAME), "w") as f:
        yaml.safe_dump(env, stream=f, default_flow_style=False)
    if constraints:
        _write_text(os.path.join(path, CONSTRAINTS_FILE_NAME), "\n".join(constraints))
    _write_text(os.path.join(path, REQUIREMENTS_FILE_NAME), "\n".join(reqs))
    write_python_env(os.path.join(path, PYTHON_ENV_FILE_NAME), python_env_dict())
    return dict(ENV_FILES)


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def write_python_env(path: str, python_env: dict[str, Any]) -> None:
    """Write a ``python_env.yaml`` (keys in order ``python``, ``build_dependencies``, ``dependencies``;
    empty ones left out)."""
    import yaml

    data = {k: python_env[k] for k in ("python", "build_dependencies", "dependencies") if python_env.get(k)}
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False, default_flow_style=False)


def read_python_env(path: str) -> dict[str, Any]:
    """Read a ``python_env.yaml`` (of a model or an MLproject): ``{"python": "3.11.7",
    "build_dependencies": [...], "dependencies": [...]}``; a missing ``python`` means this interpreter's."""
    import yaml

    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"{path} must hold a mapping with python, build_dependencies, dependencies")
    unknown = set(data) - {"python", "build_dependencies", "dependencies"}
    if unknown:
        raise InvalidParameterValue(f"{path} has unexpected keys: {sorted(unknown)}")
    python = data.get("python")
    if python is not None and not isinstance(python, str):
        raise InvalidParameterValue(f"`python` must be a string but got {type(python)}")
    for key in ("build_dependencies", "dependencies"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise InvalidParameterValue(f"`{key}` must be a list but got {type(data[key])}")
    return {
        "python": python or python_version(),
        "build_dependencies": list(data.get("build_dependencies") or []),
        "dependencies": list(data.get("dependencies") or []),
    }


def python_env_from_conda(conda_env: Any) -> dict[str, Any]:
    """The ``python_env`` equivalent of a conda environment (dict or YAML path), for running a conda
    environment with virtualenv: the pinned ``python``, ``pip``/``setuptools``/``wheel`` as build
    dependencies, the pip section as dependencies; other conda packages cannot be installed (logged)."""
    import logging

    env, _ = load_conda_env(conda_env)
    python, build, deps, unmatched = None, [], [], []
    for dep in env.get("dependencies") or []:
        if isinstance(dep, str):
            match = _CONDA_DEPENDENCY.match(dep)
            if not match:
                unmatched.append(dep)
                continue
            package, operator, version = match.group("package", "operator", "version")
            if package == "python" and python is None:
                if operator is None:
                    raise InvalidParameterValue(f"Invalid dependency for python: {dep}. It must be pinned (e.g. python=3.8.13).")
                if operator in ("<", ">", "!="):
                    raise InvalidParameterValue(
                        f"Invalid version comparator for python: '{operator}'. Must be one of ['<=', '>=', '=', '=='].",
                    )
                python = version
                continue
            build.append(package + ("==" if operator == "=" else operator or "") + (version or ""))
        elif isinstance(dep, dict) and "pip" in dep:
            deps = list(dep["pip"] or [])
        else:
            raise InvalidParameterValue(
                f"Invalid conda dependency: {dep}. Must be str or dict in the form of " '{"pip": [...]}'
            )
    log = logging.getLogger(__name__)
    if python is None:
        log.warning("The conda environment does not pin python; using the current version %s.", python_version())
    if unmatched:
        log.warning("These conda dependencies will not be installed in the environment: %s", unmatched)
    return {"python": python or python_version(), "build_dependencies": build, "dependencies": deps}


def requirements_for_environment(model_dir: str) -> list[str]:
    """The pip requirements to install for a saved model (fluvial's or MLflow's), from its
    ``requirements.txt`` (else the pip section of ``conda.yaml``), with ``-r`` files expanded, ``mlflow``,
    ``mlflow-skinny`` and ``fluvial`` lines dropped (the environment manager installs fluvial), and
    constraint files kept as ``-c <absolute path>`` lines (requirements-file syntax)."""
    model_dir = os.path.abspath(model_dir)
    req_path = os.path.join(model_dir, REQUIREMENTS_FILE_NAME)
    conda_path = os.path.join(model_dir, CONDA_ENV_FILE_NAME)
    if os.path.exists(req_path):
        with open(req_path) as f:
            lines = f.read().splitlines()
    elif os.path.exists(conda_path):
        lines = _pip_deps(load_conda_env(conda_path)[0])
    else:
        return []
    requirements, constraints = _walk_requirement_files(lines, model_dir)
    return [r for r in requirements if not is_mlflow_requirement(r) and not _is_fluvial(r)] + constraints


def _walk_requirement_files(lines: list[str], base_dir: str, seen: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """Requirements with ``-r`` files expanded in place, and ``-c <absolute path>`` lines for constraint files."""
    requirements: list[str] = []
    constraints: list[str] = []
    for line in clean_requirement_lines(lines):
        head, _, rest = line.partition(" ")
        path = os.path.join(base_dir, rest.strip())
        if head in ("-c", "--constraint") and rest.strip():
            constraints.append(f"-c {path}")
        elif head in ("-r", "--requirement") and rest.strip():
            if path not in seen:
                with open(path) as f:
                    more, more_constraints = _walk_requirement_files(f.read().splitlines(), os.path.dirname(path), seen | {path})
                requirements += more
                constraints += more_constraints
        else:
            requirements.append(line)
    return requirements, constraints


def _is_fluvial(line: str) -> bool:
    from fluvial.models.requirements import parse_requirement

    req = parse_requirement(line)
    return req is not None and req.key == "fluvial"


def get_model_dependencies(model_uri: str, format: str = "pip") -> str:
    """MLflow's ``mlflow.pyfunc.get_model_dependencies``: the local path of the model's
    ``requirements.txt`` (``format="pip"``; written from ``conda.yaml``'s pip section when the model has
    none) or of its conda environment file (``format="conda"``)."""
    import logging
    import tempfile

    import yaml

    from fluvial.models.infer_requirements import _local_model_dir

    if format not in ("pip", "conda"):
        raise InvalidParameterValue(f"Illegal format argument '{format}'.")
    model_dir = _local_model_dir(model_uri)
    log = logging.getLogger(__name__)
    if format == "pip":
        requirements = os.path.join(model_dir, REQUIREMENTS_FILE_NAME)
        if os.path.exists(requirements):
            log.info("To install the dependencies that were used to train the model, run: 'pip install -r %s'.", requirements)
            return requirements
    with open(os.path.join(model_dir, "MLmodel")) as f:
        mlmodel = yaml.safe_load(f) or {}
    env = ((mlmodel.get("flavors") or {}).get("python_function") or {}).get("env")
    conda_path = os.path.join(model_dir, (env.get("conda") if isinstance(env, dict) else env) or CONDA_ENV_FILE_NAME)
    if format == "conda":
        return conda_path
    conda_env, _ = load_conda_env(conda_path)
    others = [d for d in conda_env.get("dependencies") or [] if not (isinstance(d, dict) and "pip" in d)]
    if len(others) == len(conda_env.get("dependencies") or []):
        raise ResourceDoesNotExist("No pip section found in conda.yaml file in the model directory.")
    path = os.path.join(tempfile.mkdtemp(), REQUIREMENTS_FILE_NAME)
    _write_text(path, "\n".join(_pip_deps(conda_env)) + "\n")
    if others:
        log.warning("The following conda dependencies have been excluded from the environment file: %s.",
                    ", ".join(map(str, others)))
    return path
