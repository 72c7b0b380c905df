"""``fluvial models`` options and their errors (in process, through click's runner): MLflow's options
that do not apply, env managers that cannot run here, update-pip-requirements, the Docker context, and
build-docker without an engine. Every error is one ``Error:`` line on stderr, without a traceback."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.scoring._models import save_sklearn


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    from fluvial.cli import main

    return CliRunner().invoke(main, list(args), env=env, prog_name="fluvial")


def error_line(*args: str, env: dict[str, str] | None = None) -> str:
    result = run(*args, env=env)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith(("Note:", "fluvial:"))]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path, _ = save_sklearn(tmp_path_factory.mktemp("cli") / "iris-model")
    return path


@pytest.fixture
def env_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "envs"
    monkeypatch.setenv("MLFLOW_ENV_ROOT", str(root))
    return root


# ---- serve / predict options --------------------------------------------------------------------------


def test_enable_mlserver_is_refused(model_dir):
    assert "--enable-mlserver is not supported" in error_line("models", "serve", "-m", str(model_dir),
                                                              "--enable-mlserver", "--env-manager", "local")


def test_no_conda_with_another_env_manager_is_a_usage_error(model_dir):
    result = run("models", "serve", "-m", str(model_dir), "--no-conda", "--env-manager", "virtualenv")
    assert result.exit_code == 2 and "--no-conda and --env-manager" in result.stderr


@pytest.mark.parametrize("workers", ["0", "-1", "many"])
def test_bad_worker_counts(model_dir, workers):
    assert "--workers" in error_line("models", "serve", "-m", str(model_dir), "-w", workers, "--env-manager", "local")


def test_bad_env_manager_is_a_usage_error(model_dir):
    result = run("models", "serve", "-m", str(model_dir), "--env-manager", "docker")
    assert result.exit_code == 2 and "--env-manager" in result.stderr


def test_missing_model(tmp_path):
    assert "does not exist" in error_line("models", "serve", "-m", str(tmp_path / "nope"), "--env-manager", "local")


def test_a_busy_port_is_one_line(model_dir):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert "cannot listen" in error_line("models", "serve", "-m", str(model_dir), "-p", str(port),
                                             "--env-manager", "local")


@pytest.mark.skipif(shutil.which("conda") is not None, reason="conda is installed here")
def test_conda_without_conda_is_a_clear_error(model_dir, env_root, monkeypatch):
    monkeypatch.delenv("MLFLOW_CONDA_HOME", raising=False)
    for command in ("serve", "predict", "prepare-env"):
        line = error_line("models", command, "-m", str(model_dir), "--env-manager", "conda")
        assert "needs conda" in line and "--env-manager virtualenv" in line
    assert not env_root.exists()


def test_uv_without_uv_is_a_clear_error(model_dir, env_root):
    from fluvial.environments.virtualenv import find_uv

    if find_uv() is not None:
        pytest.skip("uv is installed here")
    assert "needs the uv command" in error_line("models", "prepare-env", "-m", str(model_dir), "--env-manager", "uv")


def test_a_python_version_that_is_not_installed_is_a_clear_error(model_dir, tmp_path, env_root):
    from fluvial.environments.virtualenv import find_uv

    if find_uv() is not None:
        pytest.skip("uv can provide any Python version")
    model = tmp_path / "old-python"
    shutil.copytree(model_dir, model)
    env = yaml.safe_load((model / "python_env.yaml").read_text())
    env["python"] = "3.4.1"
    (model / "python_env.yaml").write_text(yaml.safe_dump(env))
    for command in ("serve", "prepare-env"):
        line = error_line("models", command, "-m", str(model))
        assert "Python 3.4.1" in line and "python_env.yaml" in line and "--env-manager local" in line
    assert not any(p.is_dir() and not p.name.startswith(".") for p in env_root.iterdir())  # nothing half-built


def test_install_mlflow_is_a_note(model_dir, tmp_path):
    (tmp_path / "in.json").write_text(json.dumps({"dataframe_split": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "data": [[5.1, 3.5, 1.4, 0.2]]}}))
    result = run("models", "predict", "-m", str(model_dir), "-i", str(tmp_path / "in.json"), "--env-manager", "local",
                 "--install-mlflow")
    assert result.exit_code == 0, result.output
    assert "--install-mlflow does not apply" in result.stderr
    assert json.loads(result.stdout) == {"predictions": [0]}


def test_prepare_env_local_has_nothing_to_do(model_dir):
    result = run("models", "prepare-env", "-m", str(model_dir), "--env-manager", "local")
    assert result.exit_code == 0 and "Nothing to prepare" in result.stderr


# ---- update-pip-requirements --------------------------------------------------------------------------


def test_update_pip_requirements_add_and_remove(model_dir, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(model_dir, model)
    (model / "requirements.txt").write_text("mlflow==2.22.5\nscikit-learn==1.9.1\ncloudpickle")
    result = run("models", "update-pip-requirements", "-m", str(model), "add", "scikit-learn==1.5.0", "xgboost>=2")
    assert result.exit_code == 0, result.output
    assert (model / "requirements.txt").read_text() == "mlflow==2.22.5\nscikit-learn==1.5.0\ncloudpickle\nxgboost>=2"
    conda = yaml.safe_load((model / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": ["mlflow==2.22.5", "scikit-learn==1.5.0", "cloudpickle", "xgboost>=2"]}
    assert run("models", "update-pip-requirements", "-m", str(model), "remove", "XGBoost", "cloudpickle").exit_code == 0
    assert (model / "requirements.txt").read_text() == "mlflow==2.22.5\nscikit-learn==1.5.0"
    result = run("models", "update-pip-requirements", "-m", str(model), "remove", "not-there")
    assert result.exit_code == 0
    assert (model / "requirements.txt").read_text() == "mlflow==2.22.5\nscikit-learn==1.5.0"


def test_update_pip_requirements_errors(model_dir, tmp_path):
    assert "local model directories" in error_line("models", "update-pip-requirements", "-m", "runs:/abc/model",
                                                   "add", "x")
    assert "No model directory" in error_line("models", "update-pip-requirements", "-m", str(tmp_path / "nope"),
                                              "add", "x")
    (tmp_path / "empty").mkdir()
    assert "No MLmodel" in error_line("models", "update-pip-requirements", "-m", str(tmp_path / "empty"), "add", "x")
    assert "at least one requirement" in error_line("models", "update-pip-requirements", "-m", str(model_dir), "add")
    result = run("models", "update-pip-requirements", "-m", str(model_dir), "replace", "x")
    assert result.exit_code == 2


# ---- Docker -------------------------------------------------------------------------------------------


def test_generate_dockerfile_with_a_model(model_dir, tmp_path):
    model = tmp_path / "iris-model"
    shutil.copytree(model_dir, model)
    (model / "requirements.txt").write_text("mlflow==2.22.5\nscikit-learn==1.9.1\n-c constraints.txt")
    (model / "constraints.txt").write_text("numpy<3")
    result = run("models", "generate-dockerfile", "-m", str(model), "-d", str(tmp_path / "ctx"))
    assert result.exit_code == 0, result.output
    ctx = tmp_path / "ctx"
    dockerfile = (ctx / "Dockerfile").read_text()
    python = yaml.safe_load((model / "python_env.yaml").read_text())["python"]
    assert f"FROM python:{python}-slim" in dockerfile
    assert "nginx" not in dockerfile and "EXPOSE 8080" in dockerfile
    assert "ENV MLFLOW_HOST=0.0.0.0 MLFLOW_PORT=8080 MLFLOW_MODELS_WORKERS=auto" in dockerfile
    assert "COPY model_dir/iris-model /opt/ml/model" in dockerfile
    entrypoint = json.loads(dockerfile.split("ENTRYPOINT ", 1)[1].splitlines()[0])
    assert entrypoint == ["fluvial", "models", "serve", "-m", "/opt/ml/model", "--env-manager", "local"]
    assert (ctx / "requirements.txt").read_text() == "scikit-learn==1.9.1\n-c /opt/fluvial/constraints-0.txt\n"
    assert (ctx / "constraints-0.txt").read_text() == "numpy<3"
    assert (ctx / "model_dir" / "iris-model" / "MLmodel").is_file()
    wheels = list((ctx / "dist").glob("fluvial-*-py3-none-any.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
        assert "fluvial/cli/models.py" in names and "fluvial/scoring/server.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert archive.read(f"{dist_info}/entry_points.txt").decode().strip().endswith("fluvial = fluvial.cli:main")
    # generating again into the same directory replaces the context
    assert run("models", "generate-dockerfile", "-m", str(model), "-d", str(ctx)).exit_code == 0
    assert len(list((ctx / "dist").iterdir())) == 1


def test_generate_dockerfile_without_a_model(tmp_path):
    result = run("models", "generate-dockerfile", "-d", str(tmp_path / "ctx"), "--install-java", "true")
    assert result.exit_code == 0, result.output
    assert "--install-java is ignored" in result.stderr
    dockerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert "install-requirements /opt/ml/model" in dockerfile
    assert not (tmp_path / "ctx" / "model_dir").exists()


def test_generate_dockerfile_default_directory_and_refusals(model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("models", "generate-dockerfile", "-m", str(model_dir)).exit_code == 0
    assert (tmp_path / "mlflow-dockerfile" / "Dockerfile").is_file()
    assert "conda is not supported" in error_line("models", "generate-dockerfile", "-m", str(model_dir),
                                                  "--env-manager", "conda", "-d", "x")
    assert "--enable-mlserver" in error_line("models", "generate-dockerfile", "--enable-mlserver", "-d", "x")


def test_build_docker_without_an_engine_is_one_clear_line(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # docker answers, no engine does
    monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "docker")
    line = error_line("models", "build-docker", "-m", str(model_dir), "-n", "fluvial-test-image")
    assert "Docker" in line and ("engine is reachable" in line or "not installed" in line)
    assert "generate-dockerfile" in line


def test_build_docker_api_refusals(monkeypatch):
    from fluvial.exceptions import MlflowException
    from fluvial.models import build_docker

    with pytest.raises(MlflowException, match="enable_mlserver=True is not supported"):
        build_docker(None, enable_mlserver=True)
    with pytest.raises(MlflowException, match="Unknown container engine 'lxc'"):
        build_docker(None, engine="lxc")
    monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "rkt")
    assert "rkt" in error_line("models", "build-docker")  # click refuses the choice
