"""``fluvial run``: the happy path, and bad input that fails with one ``Error:`` line and no run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import fluvial as mlflow
from tests.cli.conftest import error, invoke, ok
from tests.projects.conftest import ECHO_PY, runs_of, write_project
from tests.projects.test_run import CANCEL_PROJECT, _alive, sklearn_project, wait_until

TYPED = """
name: typed
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      n: {type: int, default: 3}
      label: string
    command: python echo.py --alpha {alpha} --n {n} --label {label}
"""


@pytest.fixture
def typed(tmp_path):
    return write_project(tmp_path / "typed", {"MLproject": TYPED, "echo.py": ECHO_PY})


def test_run_a_project(tracking, tmp_path, probe):
    project = sklearn_project(tmp_path / "wine")
    result = ok("run", str(project), "-P", "alpha=0.25", "-P", "l1_ratio=0.5", "-P", "seed=7", "--env-manager", "local",
                "--experiment-name", "wine", "--run-name", "cli-run")
    assert result.stdout == ""
    assert "fluvial run: === Running command 'python train.py --alpha 0.25 --l1-ratio 0.5 --max-iter 200 --seed 7'" \
        in result.stderr
    assert "succeeded" in result.stderr and "'wine' does not exist. Creating a new experiment" in result.stderr
    (run,) = runs_of("wine")
    assert run.info.run_id == probe()["run_id"] and run.info.status == "FINISHED" and run.info.run_name == "cli-run"
    assert run.data.params == {"alpha": "0.25", "l1_ratio": "0.5", "max_iter": "200", "seed": "7"}
    assert "rmse" in run.data.metrics and run.data.tags["mlflow.source.type"] == "PROJECT"


def test_entry_point_scripts_and_experiment_id(tracking, tmp_path, probe):
    project = write_project(tmp_path / "bare", {"echo.py": ECHO_PY})
    experiment = mlflow.create_experiment("byid")
    ok("run", str(project), "-e", "echo.py", "-P", "a=1", "--env-manager", "local", "--experiment-id", experiment)
    assert probe()["argv"] == ["--a", "1"] and probe()["env"]["MLFLOW_EXPERIMENT_ID"] == experiment
    # an experiment id from the environment yields to --experiment-name on the command line
    ok("run", str(project), "-e", "echo.py", "--env-manager", "local", "--experiment-name", "named",
       env={"MLFLOW_EXPERIMENT_ID": experiment})
    assert len(runs_of("named")) == 1


def test_a_failing_project_exits_non_zero(tracking, tmp_path):
    project = write_project(tmp_path / "p", {"MLproject": "entry_points:\n  main:\n    command: python echo.py\n",
                                              "echo.py": ECHO_PY})
    result = invoke("run", str(project), "--env-manager", "local", env={"EXIT_CODE": "4"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.stderr.splitlines()[-1]  # after the progress line
    assert line.startswith("Error: Run (ID '") and line.endswith("failed: the command exited with status 4")
    (run,) = runs_of()
    assert run.info.status == "FAILED"


@pytest.mark.parametrize(("args", "message"), [
    (["-e", "nope"], "Error: Could not find nope among entry points ['main'] or interpret nope as a runnable script"),
    (["-P", "label=x", "-P", "alpha=fast"], "Parameter 'alpha' of entry point 'main' must be a float, got 'fast'"),
    (["-P", "label=x", "-P", "n=2.5"], "Parameter 'n' of entry point 'main' must be an int, got '2.5'"),
    ([], "No value given for missing parameters: 'label'"),
    (["-P", "label"], "Invalid format for -P parameter: 'label'. Use -P name=value."),
    (["-P", "label=a", "-P", "label=b"], "Repeated parameter: 'label'"),
    (["-P", "label=a", "-P", "bad;name=1"], "Invalid param name: 'bad;name'"),
    (["-P", "label=a", "--experiment-name", "x", "--experiment-id", "0"], "Specify only one of"),
    (["-P", "label=a", "--env-manager", "pip"], "Invalid value for '--env-manager'"),
    (["-P", "label=a", "-b", "kubernetes"], "Got unsupported execution mode kubernetes"),
    (["-P", "label=a", "-c", "{not json"], "Invalid backend config JSON"),
    (["-P", "label=a", "--version", "v1"], "Setting a version is only supported for Git project URIs"),
])
def test_bad_input(tracking, typed, args, message):
    line = error("run", str(typed), "--env-manager", "local", *args) if "--env-manager" not in args else \
        error("run", str(typed), *args)
    assert message in line
    assert runs_of() == [] and mlflow.get_experiment_by_name("x") is None


def test_bad_uris(tracking, tmp_path):
    assert "does not exist" in error("run", str(tmp_path / "nowhere"))
    assert "Unsupported project URI" in error("run", "s3://bucket/project")
    assert "Missing argument 'URI'" in error("run")
    assert runs_of() == []


def test_help_lists_the_options():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for flag in ("--entry-point", "--param-list", "--docker-args", "--experiment-name", "--experiment-id", "--backend",
                 "--backend-config", "--env-manager", "--storage-dir", "--run-id", "--run-name", "--build-image",
                 "--version"):
        assert flag in result.output


def test_sigterm_kills_the_run(tracking, tmp_path):
    """`fluvial run` as a real process: SIGTERM stops the command's process group and ends the run KILLED."""
    project = write_project(tmp_path / "p", CANCEL_PROJECT)
    probe = tmp_path / "probe.json"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking}
    with open(tmp_path / "out.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fluvial", "run", str(project), "--env-manager", "local"],
                                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: probe.exists() and " " in probe.read_text(), what="the script to start")
            proc.terminate()
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert code == 128 + 15, (tmp_path / "out.log").read_text()
    (run,) = runs_of()
    assert run.info.status == "KILLED"
    script_pid, grandchild_pid = map(int, probe.read_text().split())
    wait_until(lambda: not _alive(script_pid) and not _alive(grandchild_pid), timeout=15, what="the processes")
    assert time.time() > 0
