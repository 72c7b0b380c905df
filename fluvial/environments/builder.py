"""The part of ``virtualenv``/``uv``/``conda`` that is the same: read what the model needs, find or
build the cached environment, install fluvial and the model's requirements into it.

Install order: the build dependencies of ``python_env.yaml`` (pip, setuptools, wheel), then fluvial
(with its serving extras) and the model's requirements in one resolver run, then the overrides
(``-r/--pip-requirements-override``) on top. When an environment is reused and the running fluvial has
changed since it was built, only fluvial is reinstalled (``--no-deps``).
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fluvial.environments import cache
from fluvial.environments.base import (
    Environment,
    EnvManager,
    Report,
    clean_environ,
    report_to_stderr,
    run_step,
)
from fluvial.environments.distribution import FluvialSource, cached_wheel, fluvial_source, requirement_for

PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"


@dataclass
class ModelEnvSpec:
    """What an environment for one model must hold."""

    python: str  # the wanted version, e.g. "3.11.7"
    python_from: str  # where that came from (for messages)
    build_dependencies: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)  # pip lines; constraints as "-c <abs path>"
    overrides: list[str] = field(default_factory=list)

    def requirement_lines(self, constraints_dir: Path) -> tuple[list[str], dict[str, str]]:
        """Requirement lines with each constraint file copied under ``constraints_dir`` (names and
        contents returned), so the environment does not depend on the model directory."""
        lines: list[str] = []
        files: dict[str, str] = {}
        for line in self.requirements:
            head, _, rest = line.partition(" ")
            if head in ("-c", "--constraint") and rest.strip():
                name = f"constraints-{len(files)}.txt"
                with open(rest.strip(), encoding="utf-8") as fh:
                    files[name] = fh.read()
                lines.append(f"-c {constraints_dir / name}")
            else:
                lines.append(line)
        return lines, files


def model_env_spec(model_dir: str, overrides: Sequence[str] | None = None) -> ModelEnvSpec:
    """The Python version and requirements of the model in ``model_dir``: ``python_env.yaml`` first,
    else ``conda.yaml``, else the running interpreter's version; requirements from ``requirements.txt``
    (else conda.yaml's pip section) without mlflow/fluvial lines."""
    from fluvial.models.environment import (
        python_env_from_conda,
        python_version,
        read_python_env,
        requirements_for_environment,
    )

    python_env_path = os.path.join(model_dir, PYTHON_ENV_FILE)
    conda_path = os.path.join(model_dir, CONDA_ENV_FILE)
    if os.path.isfile(python_env_path):
        env = read_python_env(python_env_path)
        python, origin, build = env["python"], f"the model's {PYTHON_ENV_FILE}", env["build_dependencies"]
    elif os.path.isfile(conda_path):
        env = python_env_from_conda(conda_path)
        python, origin, build = env["python"], f"the model's {CONDA_ENV_FILE}", env["build_dependencies"]
    else:
        python, origin, build = python_version(), "the running interpreter (the model has no python_env.yaml)", []
    return ModelEnvSpec(python=str(python), python_from=origin, build_dependencies=[str(b) for b in build],
                        requirements=requirements_for_environment(model_dir), overrides=list(overrides or []))


def _fluvial_requires(source: FluvialSource) -> list[str]:
    return re.findall(r"^Requires-Dist:\s*(.+)$", source.metadata, re.MULTILINE)


class BuildingEnvManager(EnvManager):
    """An environment manager that builds environments under the cache root."""

    @abc.abstractmethod
    def create(self, env_dir: Path, spec: ModelEnvSpec, model_dir: str, report: Report) -> str:
        """Create the bare environment in ``env_dir`` and return its interpreter."""

    @abc.abstractmethod
    def interpreter(self, env_dir: Path) -> str:
        """The interpreter of an existing environment."""

    def key_parts(self, spec: ModelEnvSpec, model_dir: str) -> dict[str, object]:
        """What, besides the requirements, tells environments apart."""
        return {"python": spec.python, "build": spec.build_dependencies}

    def pip_install(self, python: str, args: Sequence[str], what: str, report: Report) -> None:
        run_step([python, "-m", "pip", "install", "--progress-bar", "off", *args], what, report=report,
                 env=clean_environ())  # no PYTHONPATH: pip must see only the environment's packages

    def install_build_dependencies(self, python: str, spec: ModelEnvSpec, report: Report) -> None:
        if spec.build_dependencies:
            self.pip_install(python, spec.build_dependencies,
                             f"installing build dependencies {' '.join(spec.build_dependencies)}", report)

    def prepare(self, model_dir: str, *, pip_requirements_override: Sequence[str] | None = None,
                report: Report = report_to_stderr) -> Environment:
        spec = model_env_spec(model_dir, pip_requirements_override)
        source = fluvial_source()
        root = cache.env_root()
        probe = Path(os.devnull)
        _, constraint_files = spec.requirement_lines(probe)
        key_spec = {
            "manager": self.name,
            **self.key_parts(spec, model_dir),
            "requirements": [ln for ln in spec.requirements if not ln.startswith(("-c ", "--constraint "))],
            "constraints": sorted(constraint_files.values()),
            "overrides": spec.overrides,
            "fluvial_requires": _fluvial_requires(source),
        }
        env_dir = root / cache.env_key(key_spec)
        with cache.locked(env_dir, report):
            if cache.is_ready(env_dir):
                python = self.interpreter(env_dir)
                report(f"fluvial: reusing the {self.name} environment {env_dir}")
                wheel, fingerprint = cached_wheel(root / cache.DIST_CACHE, source)
                if cache.installed_fluvial(env_dir) != fingerprint:
                    self.pip_install(python, ["--no-deps", "--force-reinstall", str(wheel)],
                                     "updating fluvial in the environment", report)
                    cache.mark_fluvial(env_dir, fingerprint)
                return Environment(self.name, python, str(env_dir))
            cache.discard(env_dir)
            report(f"fluvial: building a {self.name} environment in {env_dir} (Python {spec.python} from "
                   f"{spec.python_from}); later runs reuse it")
            try:
                python = self.create(env_dir, spec, model_dir, report)
                wheel, fingerprint = cached_wheel(root / cache.DIST_CACHE, source)
                self.install_build_dependencies(python, spec, report)
                lines, files = spec.requirement_lines(env_dir)
                for name, text in files.items():
                    (env_dir / name).write_text(text, encoding="utf-8")
                requirements_file = env_dir / "model-requirements.txt"
                requirements_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
                self.pip_install(python, [requirement_for(wheel), "-r", str(requirements_file)],
                                 "installing fluvial and the model's requirements", report)
                if spec.overrides:
                    self.pip_install(python, spec.overrides,
                                     f"installing the requirement overrides {' '.join(spec.overrides)}", report)
                cache.mark_fluvial(env_dir, fingerprint)
                cache.mark_ready(env_dir, key_spec)
            except BaseException:
                cache.discard(env_dir)
                raise
            report(f"fluvial: environment ready: {env_dir}")
            return Environment(self.name, python, str(env_dir))


__all__ = ["BuildingEnvManager", "ModelEnvSpec", "model_env_spec"]
