"""``projects.run`` for real: projects written by the tests run as subprocesses and log into the run
the runner created."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.projects import ExecutionException, SubmittedRun
from tests.projects.conftest import ECHO_PY, TRAIN_PY, runs_of, write_project

DEADLINE = 60.0

SKLEARN_PROJECT = {
    "MLproject": """
        name: wine
        python_env: python_env.yaml
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              l1_ratio: {type: float, default: 0.1}
              max_iter: {type: int, default: 200}
            command: "python train.py --alpha {alpha} --l1-ratio {l1_ratio} --max-iter {max_iter}"
        """,
    "python_env.yaml": f"""
        python: "{sys.version_info.major}.{sys.version_info.minor}"
        build_dependencies:
          - pip
        dependencies:
          - scikit-learn
        """,
    "train.py": TRAIN_PY,
}


def sklearn_project(root: Path) -> Path:
    return write_project(root, SKLEARN_PROJECT)


def echo_project(root: Path, mlproject: str | None = None) -> Path:
    files = {"echo.py": ECHO_PY}
    if mlproject is not None:
        files["MLproject"] = mlproject
    return write_project(root, files)


def wait_until(predicate, timeout: float = DEADLINE, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_training_project_logs_into_the_run_the_runner_created(tracking, tmp_path, probe):
    project = sklearn_project(tmp_path / "wine")
    submitted = mlflow.projects.run(str(project), parameters={"alpha": 0.3, "extra_flag": "on"}, env_manager="local",
                                    experiment_name="wine", run_name="first")
    assert isinstance(submitted, SubmittedRun)
    assert submitted.get_status() == "FINISHED" and submitted.wait() is True
    seen = probe()
    assert seen["run_id"] == submitted.run_id  # the child resumed the runner's run
    assert seen["argv"][-2:] == ["--extra_flag", "on"] and seen["rest"] == ["--extra_flag", "on"]
    assert seen["cwd"] == str(project)
    assert seen["env"]["MLFLOW_RUN_ID"] == submitted.run_id
    assert seen["env"]["MLFLOW_TRACKING_URI"] == tracking
    run = mlflow.get_run(submitted.run_id)
    experiment = mlflow.get_experiment_by_name("wine")
    assert seen["env"]["MLFLOW_EXPERIMENT_ID"] == run.info.experiment_id == experiment.experiment_id
    assert run.info.status == "FINISHED" and run.info.run_name == "first"
    assert run.data.params == {"alpha": "0.3", "l1_ratio": "0.1", "max_iter": "200", "extra_flag": "on"}
    assert set(run.data.metrics) == {"rmse", "n_coef"} and run.data.metrics["rmse"] > 0
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(project)  # not in a git repository
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.backend"] == "local"
    assert tags["mlflow.runName"] == "first" and tags["mlflow.user"]
    assert "mlflow.project.env" not in tags  # local, as MLflow
    assert not any(k.startswith("mlflow.source.git") for k in tags)
    assert len(runs_of("wine")) == 1


def test_relative_sqlite_uri_reaches_the_same_store_from_the_project_directory(tmp_path, probe, monkeypatch):
    mlflow.set_tracking_uri("sqlite:///relative.db")  # relative to the working directory, tmp_path
    project = sklearn_project(tmp_path / "elsewhere" / "wine")
    submitted = mlflow.projects.run(str(project), env_manager="local")
    assert probe()["env"]["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'relative.db'}"
    run = mlflow.get_run(submitted.run_id)
    assert "rmse" in run.data.metrics and run.info.experiment_id == "0"
    assert not (project / "relative.db").exists()


def test_a_failing_command_fails_the_run(tracking, tmp_path, monkeypatch):
    project = echo_project(tmp_path / "p", "entry_points:\n  main:\n    command: python echo.py\n")
    monkeypatch.setenv("EXIT_CODE", "3")
    with pytest.raises(ExecutionException, match=r"Run \(ID '[0-9a-f]{32}'\) failed: the command exited with status 3"):
        mlflow.projects.run(str(project), env_manager="local")
    (run,) = runs_of()
    assert run.info.status == "FAILED" and run.info.end_time is not None
    submitted = mlflow.projects.run(str(project), env_manager="local", synchronous=False)
    assert submitted.wait() is False and submitted.get_status() == "FAILED"


def test_a_non_zero_exit_fails_the_run_even_if_the_script_finished_it(tracking, tmp_path):
    project = write_project(tmp_path / "p", {
        "MLproject": "entry_points:\n  main:\n    command: python job.py\n",
        "job.py": "import sys\nimport fluvial as mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('m', 1)\n"
                  "sys.exit(2)\n"})
    with pytest.raises(ExecutionException):
        mlflow.projects.run(str(project), env_manager="local")
    (run,) = runs_of()
    assert run.info.status == "FAILED" and run.data.metrics == {"m": 1.0}


def test_the_status_the_script_set_is_kept_on_success(tracking, tmp_path):
    project = write_project(tmp_path / "p", {
        "MLproject": "entry_points:\n  main:\n    command: python job.py\n",
        "job.py": "import fluvial as mlflow\nmlflow.start_run()\nmlflow.end_run('KILLED')\n"})
    submitted = mlflow.projects.run(str(project), env_manager="local")
    assert mlflow.get_run(submitted.run_id).info.status == "KILLED" and submitted.get_status() == "KILLED"


CANCEL_PROJECT = {
    "MLproject": "entry_points:\n  main:\n    command: python slow.py\n",
    "slow.py": """
        import os, subprocess, sys, time
        import fluvial as mlflow
        mlflow.start_run()
        mlflow.log_metric("started", 1)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.environ["PROBE_FILE"], "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}")
        time.sleep(120)
        """,
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def test_an_asynchronous_run_can_be_cancelled(tracking, tmp_path):
    project = write_project(tmp_path / "p", CANCEL_PROJECT)
    submitted = mlflow.projects.run(str(project), env_manager="local", synchronous=False)
    try:
        probe = tmp_path / "probe.json"
        wait_until(lambda: probe.exists() and " " in probe.read_text(), what="the script to start")
        assert submitted.get_status() == "RUNNING"
        assert mlflow.get_run(submitted.run_id).info.status == "RUNNING"
        script_pid, grandchild_pid = map(int, probe.read_text().split())
    finally:
        submitted.cancel()
    assert submitted.get_status() == "KILLED" and submitted.wait() is False
    run = mlflow.get_run(submitted.run_id)
    assert run.info.status == "KILLED" and run.info.end_time is not None
    assert run.data.metrics == {"started": 1.0}
    wait_until(lambda: not _alive(script_pid) and not _alive(grandchild_pid), timeout=15,
               what="the process group to exit")
    submitted.cancel()  # a second cancel is a no-op
    assert mlflow.get_run(submitted.run_id).info.status == "KILLED"


def test_an_asynchronous_run_that_succeeds(tracking, tmp_path, probe):
    project = sklearn_project(tmp_path / "wine")
    submitted = mlflow.projects.run(str(project), env_manager="local", synchronous=False)
    assert submitted.wait() is True
    assert submitted.get_status() == "FINISHED" == mlflow.get_run(submitted.run_id).info.status
    submitted.cancel()  # finished already: nothing happens
    assert mlflow.get_run(submitted.run_id).info.status == "FINISHED"


def test_interrupting_a_synchronous_run_kills_it(tracking, tmp_path):
    project = write_project(tmp_path / "p", CANCEL_PROJECT)
    probe = tmp_path / "probe.json"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        import threading

        def arm() -> None:
            wait_until(lambda: probe.exists() and " " in probe.read_text(), what="the script to start")
            signal.setitimer(signal.ITIMER_REAL, 0.05)

        threading.Thread(target=arm, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            mlflow.projects.run(str(project), env_manager="local")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    (run,) = runs_of()
    assert run.info.status == "KILLED"
    script_pid, grandchild_pid = map(int, probe.read_text().split())
    wait_until(lambda: not _alive(script_pid) and not _alive(grandchild_pid), timeout=15, what="the processes to exit")


def test_a_project_without_mlproject_runs_scripts(tracking, tmp_path, probe):
    project = write_project(tmp_path / "bare", {
        "echo.py": ECHO_PY,
        "run.sh": 'echo "$@" > "$PROBE_FILE.sh"\npython echo.py from-shell "$@"\n',
    })
    submitted = mlflow.projects.run(str(project), entry_point="echo.py", parameters={"x": "1 2"}, env_manager="local")
    assert probe()["argv"] == ["--x", "1 2"]
    run = mlflow.get_run(submitted.run_id)
    assert run.data.params == {"x": "1 2"} and run.data.tags["mlflow.project.entryPoint"] == "echo.py"
    mlflow.projects.run(str(project), entry_point="run.sh", parameters={"y": "z"}, env_manager="local")
    assert probe()["argv"] == ["from-shell", "--y", "z"]
    assert (tmp_path / "probe.json.sh").read_text().strip() == "--y z"
    with pytest.raises(ExecutionException, match="Could not find main among entry points"):
        mlflow.projects.run(str(project), env_manager="local")
    assert len(runs_of()) == 2


def test_typed_parameter_errors_name_the_parameter_and_create_no_run(tracking, tmp_path):
    project = sklearn_project(tmp_path / "wine")
    with pytest.raises(ExecutionException, match="Parameter 'alpha' of entry point 'main' must be a float, got 'high'"):
        mlflow.projects.run(str(project), parameters={"alpha": "high"}, env_manager="local", experiment_name="new")
    with pytest.raises(ExecutionException, match="Parameter 'max_iter' of entry point 'main' must be an int"):
        mlflow.projects.run(str(project), parameters={"max_iter": 1.5}, env_manager="local")
    typed = echo_project(tmp_path / "typed", """
        entry_points:
          main:
            parameters: {label: string, n: int}
            command: python echo.py {label} {n}
        """)
    with pytest.raises(ExecutionException, match="No value given for missing parameters: 'label', 'n'"):
        mlflow.projects.run(str(typed), env_manager="local")
    assert runs_of() == [] and mlflow.get_experiment_by_name("new") is None


def test_path_and_uri_parameters(tracking, tmp_path, probe):
    (tmp_path / "data.csv").write_text("x\n1\n")
    project = echo_project(tmp_path / "p", """
        entry_points:
          main:
            parameters:
              data: path
              remote: {type: path, default: data.csv}
              where: uri
            command: python echo.py {data} {remote} {where}
        """)
    source = mlflow.MlflowClient().create_run("0")
    mlflow.MlflowClient().log_text(source.info.run_id, "a,b\n", "inputs/remote.csv")
    remote = f"runs:/{source.info.run_id}/inputs/remote.csv"
    storage = tmp_path / "storage"
    submitted = mlflow.projects.run(str(project), parameters={"data": "data.csv", "remote": remote,
                                                              "where": "s3://bucket/out"},
                                    env_manager="local", storage_dir=str(storage))
    data, downloaded, where = probe()["argv"]
    assert data == str(tmp_path / "data.csv") and where == "s3://bucket/out"
    assert downloaded.startswith(str(storage)) and Path(downloaded).read_text() == "a,b\n"
    assert mlflow.get_run(submitted.run_id).data.params == {"data": "data.csv", "remote": remote,
                                                            "where": "s3://bucket/out"}
    with pytest.raises(ExecutionException, match="Expected URI for parameter where but got plain"):
        mlflow.projects.run(str(project), parameters={"data": "data.csv", "where": "plain"}, env_manager="local")


INJECTION_VALUES = ["'; touch pwned #", "$(touch pwned)", "`touch pwned`", "x; touch pwned", "a\ntouch pwned"]


def test_injection_attempts_are_inert(tracking, tmp_path, probe):
    project = echo_project(tmp_path / "p", """
        entry_points:
          main:
            parameters: {label: string, n: {type: string, default: "1"}}
            command: python echo.py --label {label} --n {n}
        """)
    for value in INJECTION_VALUES:
        mlflow.projects.run(str(project), parameters={"label": value, "n": value, "extra": value, "odd name": value},
                            env_manager="local")
        assert probe()["argv"] == ["--label", value, "--n", value, "--extra", value, "--odd name", value]
    with pytest.raises(ExecutionException, match=r"Invalid param name: 'x;touch\$\(pwned\)'"):
        mlflow.projects.run(str(project), parameters={"label": "a", "x;touch$(pwned)": "1"}, env_manager="local")
    assert len(runs_of()) == len(INJECTION_VALUES)
    assert not list(tmp_path.rglob("pwned")) and not list(Path.cwd().rglob("pwned"))


def test_an_existing_run_and_a_parent_run(tracking, tmp_path, probe):
    project = sklearn_project(tmp_path / "wine")
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("given")
    existing = client.create_run(experiment, run_name="mine")
    submitted = mlflow.projects.run(str(project), run_id=existing.info.run_id, env_manager="local")
    assert submitted.run_id == existing.info.run_id == probe()["run_id"]
    assert probe()["env"]["MLFLOW_EXPERIMENT_ID"] == experiment
    run = mlflow.get_run(existing.info.run_id)
    assert run.info.status == "FINISHED" and "rmse" in run.data.metrics
    assert run.data.tags["mlflow.project.backend"] == "local"
    with mlflow.start_run() as parent:
        child = mlflow.projects.run(str(project), env_manager="local", experiment_id=experiment)
    tags = mlflow.get_run(child.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    assert mlflow.get_run(child.run_id).info.experiment_id == experiment


def test_experiment_and_backend_options(tracking, tmp_path):
    project = sklearn_project(tmp_path / "wine")
    with pytest.raises(ExecutionException, match="Specify only one of 'experiment_name' or 'experiment_id'"):
        mlflow.projects.run(str(project), experiment_name="a", experiment_id="0", env_manager="local")
    with pytest.raises(ExecutionException, match="Got unsupported execution mode databricks"):
        mlflow.projects.run(str(project), backend="databricks", env_manager="local")
    with pytest.raises(ExecutionException, match="Invalid backend config JSON"):
        mlflow.projects.run(str(project), backend_config="{nope", env_manager="local")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"anything": 1}))
    submitted = mlflow.projects.run(str(project), backend_config=str(config), env_manager="local",
                                    parameters={"max_iter": 50})
    assert submitted.get_status() == "FINISHED"
    with pytest.raises(mlflow.MlflowException, match="Invalid value for env manager"):
        mlflow.projects.run(str(project), env_manager="pipenv")
    assert len(runs_of()) == 1


def test_python_env_projects_cannot_use_conda_and_conda_needs_conda(tracking, tmp_path, monkeypatch):
    project = sklearn_project(tmp_path / "wine")
    with pytest.raises(mlflow.MlflowException, match="python_env project cannot be executed using conda"):
        mlflow.projects.run(str(project), env_manager="conda")
    conda_project = write_project(tmp_path / "c", {"conda.yaml": "dependencies: [python=3.11, pip]\n", "t.py": ""})
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("MLFLOW_CONDA_HOME", raising=False)
    with pytest.raises(mlflow.MlflowException, match="--env-manager conda needs conda"):
        mlflow.projects.run(str(conda_project), entry_point="t.py")
    (run,) = runs_of()  # the environment is built after the run exists; the run says it failed
    assert run.info.status == "FAILED" and run.data.tags["mlflow.project.env"] == "conda"


def test_default_environment_managers():
    from fluvial.projects.backends import choose_env_manager
    from fluvial.projects.spec import CONDA, DOCKER, PYTHON, Project

    assert choose_env_manager(Project("/p", env_type=PYTHON), None) == "virtualenv"
    assert choose_env_manager(Project("/p", env_type=CONDA), None) == "conda"
    assert choose_env_manager(Project("/p", env_type=DOCKER), None) == "local"
    assert choose_env_manager(Project("/p", env_type=PYTHON), "UV") == "uv"


def test_a_python_version_that_is_not_available(tracking, tmp_path):
    project = write_project(tmp_path / "old", {
        "MLproject": "python_env: python_env.yaml\nentry_points:\n  main:\n    command: python echo.py\n",
        "python_env.yaml": "python: '3.4.1'\ndependencies: []\n", "echo.py": ECHO_PY})
    with pytest.raises(mlflow.MlflowException, match=r"3\.4\.1"):
        mlflow.projects.run(str(project), env_manager="virtualenv")
    (run,) = runs_of()
    assert run.info.status == "FAILED" and run.data.tags["mlflow.project.env"] == "virtualenv"
    assert not [p for p in (tmp_path / "envs").glob("*") if p.is_dir() and (p / ".fluvial-ready").exists()]
