"""``--env-manager conda``: an environment made by conda from the model's ``conda.yaml``.

conda installs the conda part of the file (``python=X``, channels, conda packages); the pip part is
installed afterwards with the environment's pip, like every other manager's, so mlflow lines are
dropped and fluvial is installed from the running fluvial. The ``conda`` command is taken from
``MLFLOW_CONDA_HOME/bin`` when that is set, else from PATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fluvial.environments.base import Report, clean_environ, run_step
from fluvial.environments.builder import CONDA_ENV_FILE, BuildingEnvManager, ModelEnvSpec
from fluvial.exceptions import InvalidParameterValue, MlflowException


def find_conda() -> str | None:
    home = os.environ.get("MLFLOW_CONDA_HOME")
    if home:
        candidate = Path(home) / "bin" / "conda"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("conda")


def _conda_part(model_dir: str, spec: ModelEnvSpec) -> dict[str, object]:
    """conda.yaml without its pip section (pip is added so the environment has one); a model without
    conda.yaml gets ``python=<version>`` and pip."""
    import yaml

    path = os.path.join(model_dir, CONDA_ENV_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            env = yaml.safe_load(fh) or {}
        if not isinstance(env, dict):
            raise InvalidParameterValue(f"{path} must hold a conda environment (a mapping with dependencies).")
    else:
        env = {"channels": ["conda-forge"], "dependencies": [f"python={spec.python}"]}
    deps = [d for d in env.get("dependencies") or [] if not (isinstance(d, dict) and "pip" in d)]
    if not any(isinstance(d, str) and d.split("=")[0].split("<")[0].strip() == "pip" for d in deps):
        deps.append("pip")
    return {"name": "fluvial-env", "channels": env.get("channels") or ["conda-forge"], "dependencies": deps}


class CondaManager(BuildingEnvManager):
    name = "conda"

    def __init__(self) -> None:
        conda = find_conda()
        if conda is None:
            where = "MLFLOW_CONDA_HOME/bin" if os.environ.get("MLFLOW_CONDA_HOME") else "PATH"
            raise MlflowException(
                f"--env-manager conda needs conda, which was not found on {where}. Install Miniforge or Miniconda "
                "(or set MLFLOW_CONDA_HOME), or use --env-manager virtualenv or --env-manager local."
            )
        self.conda = conda

    def key_parts(self, spec: ModelEnvSpec, model_dir: str) -> dict[str, object]:
        return {"conda": _conda_part(model_dir, spec)}

    def interpreter(self, env_dir: Path) -> str:
        return str(env_dir / "bin" / "python")

    def install_build_dependencies(self, python: str, spec: ModelEnvSpec, report: Report) -> None:
        """conda.yaml already pins pip and friends."""

    def create(self, env_dir: Path, spec: ModelEnvSpec, model_dir: str, report: Report) -> str:
        import yaml

        staged = env_dir.with_name(env_dir.name + ".conda.yaml")  # conda creates env_dir itself
        staged.write_text(yaml.safe_dump(_conda_part(model_dir, spec), sort_keys=False))
        if not os.environ.get("MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING"):
            report("fluvial: conda's default channels may require a license for commercial use; conda-forge does "
                   "not (set MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING=1 to hide this note)")
        try:
            run_step([self.conda, "env", "create", "--prefix", str(env_dir), "--file", str(staged), "--quiet"],
                     "creating a conda environment", report=report, env=clean_environ())
        finally:
            staged.unlink(missing_ok=True)
        return self.interpreter(env_dir)


__all__ = ["CondaManager", "find_conda"]
