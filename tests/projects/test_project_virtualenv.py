"""The bar of issue 7: a project with ``python_env`` runs end to end in a fresh virtualenv (fluvial and
the project's requirements installed from the package index) and logs its params and metrics into
the run the runner created; the environment is cached and reused."""

from __future__ import annotations

from pathlib import Path

import pytest

import fluvial as mlflow
from tests.projects.conftest import runs_of
from tests.projects.test_run import sklearn_project

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def test_a_python_env_project_in_a_fresh_virtualenv(tracking, tmp_path, probe, capfd):
    project = sklearn_project(tmp_path / "wine")
    submitted = mlflow.projects.run(str(project), parameters={"alpha": 0.2}, env_manager="virtualenv",
                                    experiment_name="venv")
    seen = probe()
    env_root = tmp_path / "envs"  # MLFLOW_ENV_ROOT (conftest)
    (env_dir,) = [p for p in env_root.iterdir() if p.is_dir() and (p / ".fluvial-ready").is_file()]
    assert Path(seen["python"]) == env_dir / "bin" / "python"  # the script ran in the new environment
    assert seen["run_id"] == submitted.run_id
    (run,) = runs_of("venv")
    assert run.info.run_id == submitted.run_id and run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.2", "l1_ratio": "0.1", "max_iter": "200"}
    assert set(run.data.metrics) == {"rmse", "n_coef"}
    assert run.data.tags["mlflow.project.env"] == "virtualenv"
    assert "building a virtualenv environment" in capfd.readouterr().err
    # the same python_env again: the cached environment is reused
    again = mlflow.projects.run(str(project), parameters={"alpha": 0.4}, env_manager="virtualenv",
                                experiment_name="venv")
    assert "reusing the virtualenv environment" in capfd.readouterr().err
    assert Path(probe()["python"]) == env_dir / "bin" / "python"
    assert mlflow.get_run(again.run_id).data.metrics.keys() == {"rmse", "n_coef"}
