"""The CLI paths a new user hits first end in one line saying what to do, never a traceback:
a missing server extra, ``models serve`` without uvicorn (no worker respawn loop), a model whose
library is missing, and malformed meta.yaml / python_env.yaml / conda.yaml / MLmodel files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Runs the CLI with some packages made unimportable (as if not installed).
_CLI = "import sys\nfor m in sys.argv[1].split(','):\n    sys.modules[m] = None\nfrom fluvial.cli import main\nsys.argv = ['fluvial', *sys.argv[2:]]\nmain()\n"


def _cli(cwd: Path, *args: str, without: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _CLI, without or "-", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def _one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from sklearn.linear_model import LinearRegression

    import fluvial.sklearn

    root = tmp_path_factory.mktemp("cli-errors")
    fluvial.sklearn.save_model(LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0]), str(root / "model"))
    (root / "in.json").write_text(json.dumps({"inputs": [[1.0]]}))
    return root


def test_server_without_its_extra(tmp_path):
    proc = _cli(tmp_path, "server", "--port", _port(), without="starlette,uvicorn")
    _one_line_error(proc, 'pip install "fluvial[server]"')


def test_models_serve_without_uvicorn_stops_before_any_worker(model_dir):
    proc = _cli(model_dir, "models", "serve", "-m", "model", "-p", _port(), "-w", "3", "--env-manager", "local",
                without="uvicorn")
    _one_line_error(proc, "'uvicorn'", 'pip install "fluvial[server]"')
    assert "crash" not in proc.stderr and "worker" not in proc.stderr


def test_model_whose_library_is_missing(model_dir):
    proc = _cli(model_dir, "models", "predict", "-m", "model", "-i", "in.json", "-t", "json", "--env-manager", "local",
                without="sklearn")
    _one_line_error(proc, "Cannot load the model", "'sklearn'", 'pip install "fluvial[sklearn]"')


def test_malformed_python_env_yaml(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    (tmp_path / "model" / "python_env.yaml").write_text("python: [3.11\n")
    (tmp_path / "in.json").write_text("{}")
    proc = _cli(tmp_path, "models", "predict", "-m", "model", "-i", "in.json", "-t", "json",
                "--env-manager", "virtualenv")
    _one_line_error(proc, "malformed YAML in", "python_env.yaml, line 2", "Fix that file")


def test_malformed_mlmodel(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    (tmp_path / "model" / "MLmodel").write_text("flavors: {python_function: [\n")
    proc = _cli(tmp_path, "models", "predict", "-m", "model", "-i", str(model_dir / "in.json"), "-t", "json",
                "--env-manager", "local")
    _one_line_error(proc, "MLmodel")


def test_malformed_filestore_meta_yaml(tmp_path):
    (tmp_path / "fs" / "0").mkdir(parents=True)
    (tmp_path / "fs" / "0" / "meta.yaml").write_text("name: [x\n")
    proc = _cli(tmp_path, "migrate-filestore", "--source", "fs", "--target", "sqlite:///x.db")
    _one_line_error(proc, "fs/0/meta.yaml is not valid YAML (line 2)", "Fix or remove that file")
    (tmp_path / "fs" / "0" / "meta.yaml").write_text("- just\n- a list\n")
    proc = _cli(tmp_path, "migrate-filestore", "--source", "fs", "--target", "sqlite:///x.db")
    _one_line_error(proc, "fs/0/meta.yaml must hold a mapping")


def test_conda_yaml_that_is_not_an_environment(tmp_path):
    from fluvial.environments.builder import ModelEnvSpec
    from fluvial.environments.conda import _conda_part
    from fluvial.exceptions import InvalidParameterValue

    (tmp_path / "conda.yaml").write_text("- a\n- b\n")
    spec = ModelEnvSpec.__new__(ModelEnvSpec)
    with pytest.raises(InvalidParameterValue, match=r"conda\.yaml must hold a conda environment"):
        _conda_part(str(tmp_path), spec)
