"""The public names: ``mlflow.projects.run`` with MLflow's signature, ``SubmittedRun``,
``ExecutionException``; importing the package stays light."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import fluvial as mlflow
from fluvial.exceptions import MlflowException

MLFLOW_RUN_SIGNATURE = [
    ("uri", inspect.Parameter.empty), ("entry_point", "main"), ("version", None), ("parameters", None),
    ("docker_args", None), ("experiment_name", None), ("experiment_id", None), ("backend", "local"),
    ("backend_config", None), ("storage_dir", None), ("synchronous", True), ("run_id", None), ("run_name", None),
    ("env_manager", None), ("build_image", False), ("docker_auth", None),
]


def test_projects_run_is_reachable_with_mlflows_signature():
    projects = mlflow.projects  # a lazily imported submodule, as mlflow.projects
    assert "projects" in dir(mlflow)
    params = inspect.signature(projects.run).parameters
    assert [(p.name, p.default) for p in params.values()] == MLFLOW_RUN_SIGNATURE
    assert issubclass(projects.ExecutionException, MlflowException)
    assert {"run", "SubmittedRun", "ExecutionException"} <= set(projects.__all__)
    assert inspect.isabstract(projects.SubmittedRun)


def test_importing_projects_loads_the_standard_library_only():
    code = ("import json, sys; import fluvial as mlflow; mlflow.projects.run; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('yaml', 'sqlalchemy', 'click', 'numpy', 'pandas', 'requests'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
