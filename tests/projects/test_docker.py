"""``docker_env`` projects up to the Docker engine: the clear error when none is reachable (with the
real docker CLI when it is installed, and with a stand-in), and the ``docker`` calls made when one is
(recorded by a stand-in ``docker`` command)."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

import fluvial as mlflow
from fluvial.projects import ExecutionException
from fluvial.projects.docker import TRACKING_DIR, WORKDIR, docker_arg_flags, tracking_mount
from tests.cli.conftest import error
from tests.projects.conftest import ECHO_PY, runs_of, write_project

DOCKER_PROJECT = {
    "MLproject": """
        name: Dockered
        docker_env:
          image: python:3.11-slim
          volumes: ["/srv/data:/data"]
          environment: [["GREETING", "hello"], "PROJECT_TOKEN"]
        entry_points:
          main:
            parameters: {alpha: {type: float, default: 0.5}}
            command: python echo.py --alpha {alpha}
        """,
    "echo.py": ECHO_PY,
}


def calls(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_without_an_engine_the_real_cli_fails_clearly(tracking, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # the real CLI, no engine there
    monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "docker")
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    with pytest.raises(ExecutionException, match=r"no container engine is reachable: `docker version` failed "
                                                 r"\(.*no-engine\.sock"):
        mlflow.projects.run(str(project))
    assert runs_of() == []


def test_without_an_engine(tracking, tmp_path, fake_docker):
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    line = error("run", str(project), "-P", "alpha=1", "--experiment-name", "docker")
    assert line == ("Error: This project has a docker_env, but no container engine is reachable: `docker version` "
                    "failed (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
                    "running?); podman is not installed. Start the Docker engine (or point DOCKER_HOST at one).")
    assert [c["argv"] for c in calls(fake_docker)] == [["version", "--format", "{{.Server.Version}}"]]
    assert runs_of() == [] and mlflow.get_experiment_by_name("docker") is None


def test_the_engine_is_chosen_by_option_or_environment(tracking, tmp_path, fake_docker, monkeypatch):
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    line = error("run", str(project), "--engine", "podman")
    assert line == ("Error: This project has a docker_env, which needs the podman command; it is not installed "
                    "(https://docs.docker.com/engine/install/). Or run a project without docker_env.")
    monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "podman")
    with pytest.raises(ExecutionException, match="needs the podman command; it is not installed"):
        mlflow.projects.run(str(project))
    monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "rkt")
    with pytest.raises(ExecutionException, match=r"Unknown container engine 'rkt' \(\$FLUVIAL_CONTAINER_ENGINE\)"):
        mlflow.projects.run(str(project))
    with pytest.raises(ExecutionException, match=r"Unknown container engine 'lxc': use docker or podman"):
        mlflow.projects.run(str(project), backend_config={"container_engine": "lxc"})
    assert calls(fake_docker) == [] and runs_of() == []


def test_podman_when_docker_does_not_answer(tracking, tmp_path, fake_docker, monkeypatch):
    bin_dir = tmp_path / "fake-bin"
    shutil.copy2(bin_dir / "docker", bin_dir / "podman")
    monkeypatch.setenv("FAKE_PODMAN_ENGINE", "up")
    monkeypatch.setenv("PROJECT_TOKEN", "t")
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    submitted = mlflow.projects.run(str(project))
    assert mlflow.get_run(submitted.run_id).info.status == "FINISHED"
    assert [(c["engine"], c["argv"][:2]) for c in calls(fake_docker)] == [
        ("docker", ["version", "--format"]), ("podman", ["version", "--format"]), ("podman", ["image", "inspect"]),
        ("podman", ["run", "--rm"])]
    # asked for by name, docker is not tried
    (tmp_path / "docker-calls.jsonl").unlink()
    mlflow.projects.run(str(project), backend_config={"container_engine": "podman"})
    assert [c["engine"] for c in calls(fake_docker)] == ["podman"] * 3


def test_without_the_docker_command(tracking, tmp_path, monkeypatch):
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("FLUVIAL_CONTAINER_ENGINE", raising=False)
    with pytest.raises(ExecutionException, match=r"needs the docker command \(or podman\); it is not installed"):
        mlflow.projects.run(str(project))
    assert runs_of() == []


def test_a_docker_project_needs_a_name(tracking, tmp_path, fake_docker):
    project = write_project(tmp_path / "p", {**DOCKER_PROJECT, "MLproject": "docker_env: {image: x}\n"
                                             "entry_points:\n  main:\n    command: echo\n"})
    with pytest.raises(ExecutionException, match="Project name in MLProject must be specified"):
        mlflow.projects.run(str(project))


def test_the_docker_calls_with_an_engine(tracking, tmp_path, fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "up")
    monkeypatch.setenv("PROJECT_TOKEN", "s3cret")
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    submitted = mlflow.projects.run(str(project), parameters={"alpha": "0.1", "x y": "$(touch pwned)"},
                                    docker_args={"gpus": "all", "t": True, "network": "host"})
    run = mlflow.get_run(submitted.run_id)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["mlflow.project.env"] == "docker" and tags["mlflow.docker.image.uri"] == "python:3.11-slim"
    assert tags["mlflow.docker.image.id"] == "sha256:" + "ab" * 32
    recorded = calls(fake_docker)
    assert [c["argv"][:2] for c in recorded] == [["version", "--format"], ["image", "inspect"], ["run", "--rm"]]
    docker_run = recorded[-1]
    argv = docker_run["argv"]
    assert argv[:7] == ["run", "--rm", "--gpus", "all", "-t", "--network", "host"]
    assert argv[-4:] == ["python:3.11-slim", "sh", "-c",
                         "python echo.py --alpha 0.1 '--x y' '$(touch pwned)'"]
    pairs = list(itertools.pairwise(argv))
    assert ("-v", f"{tmp_path}:{TRACKING_DIR}") in pairs
    assert ("-v", f"{project}:{WORKDIR}") in pairs and ("-w", WORKDIR) in pairs
    assert ("-v", "/srv/data:/data") in pairs
    artifact_dir = run.info.artifact_uri
    assert ("-v", f"{artifact_dir}:{artifact_dir}") in pairs
    names = [b for a, b in pairs if a == "-e"]
    assert sorted(names) == ["GREETING", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "PROJECT_TOKEN"]
    assert "s3cret" not in " ".join(argv)  # values travel in the environment, not on the command line
    assert docker_run["env"] == {"MLFLOW_RUN_ID": submitted.run_id, "MLFLOW_TRACKING_URI":
                                 f"sqlite:///{TRACKING_DIR}/mlflow.db", "MLFLOW_EXPERIMENT_ID": "0",
                                 "PROJECT_TOKEN": "s3cret", "GREETING": "hello"}
    assert not (tmp_path / "pwned").exists()


def test_build_image_and_a_failing_container(tracking, tmp_path, fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "up")
    monkeypatch.setenv("PROJECT_TOKEN", "t")
    monkeypatch.setenv("FAKE_DOCKER_RUN_EXIT", "1")
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    with pytest.raises(ExecutionException, match="failed: the command exited with status 1"):
        mlflow.projects.run(str(project), build_image=True)
    (run,) = runs_of()
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.docker.image.uri"] == "dockered:latest"
    argvs = [c["argv"] for c in calls(fake_docker)]
    build = next(a for a in argvs if a[0] == "build")
    assert build[:4] == ["build", "--quiet", "-t", "dockered:latest"]
    docker_run = argvs[-1]
    assert "dockered:latest" in docker_run and "-w" not in docker_run  # the project is in the image


def test_a_missing_host_variable_fails_the_run(tracking, tmp_path, fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "up")
    monkeypatch.delenv("PROJECT_TOKEN", raising=False)
    project = write_project(tmp_path / "p", DOCKER_PROJECT)
    with pytest.raises(ExecutionException, match="but PROJECT_TOKEN was not set"):
        mlflow.projects.run(str(project))
    (run,) = runs_of()
    assert run.info.status == "FAILED"


def test_docker_helpers():
    assert docker_arg_flags({"gpus": "all", "t": True, "m": "2g", "skip": False}) == ["--gpus", "all", "-t", "-m", "2g"]
    assert tracking_mount("sqlite:////data/db/mlflow.db?timeout=5") == (
        ["-v", f"/data/db:{TRACKING_DIR}"], f"sqlite:///{TRACKING_DIR}/mlflow.db?timeout=5")
    assert tracking_mount("/data/mlruns") == (["-v", f"/data/mlruns:{TRACKING_DIR}"], TRACKING_DIR)
    assert tracking_mount("http://tracking:5000") == ([], "http://tracking:5000")
