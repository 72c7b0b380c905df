"""``--env-manager virtualenv`` for real: build an environment for a scikit-learn model (fluvial and the
model's requirements installed from the package index), serve and predict from it, reuse it, refresh
fluvial in it, and throw away a build that failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.scoring.output import encode_predictions
from tests.scoring._models import save_sklearn
from tests.scoring._serving import invoke, models_serve
from tests.server._serve import _env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def fluvial(*args: str, env: dict[str, str], cwd: Path, stdin: bytes | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fluvial", *args], capture_output=True, env=_env(env), cwd=cwd,
                          input=stdin, timeout=timeout)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A model, and the environment ``prepare-env`` built for it under a fresh MLFLOW_ENV_ROOT."""
    workdir = tmp_path_factory.mktemp("venv")
    path, sample = save_sklearn(workdir / "model")
    env = {"MLFLOW_ENV_ROOT": str(workdir / "envs")}
    out = fluvial("models", "prepare-env", "-m", str(path), "--env-manager", "virtualenv", env=env, cwd=workdir)
    assert out.returncode == 0, out.stderr.decode()[-4000:]
    env_dir = Path(out.stdout.decode().strip())
    return path, sample, env, env_dir, workdir


def test_the_environment_holds_fluvial_and_the_model_requirements(built):
    _, _, env, env_dir, _ = built
    assert env_dir.parent == Path(env["MLFLOW_ENV_ROOT"]) and (env_dir / ".fluvial-ready").is_file()
    python = env_dir / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import fluvial, sklearn, uvicorn, sys; print(fluvial.__file__); print(sys.prefix)"],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert probe.returncode == 0, probe.stderr
    fluvial_file, prefix = probe.stdout.split()
    assert fluvial_file.startswith(str(env_dir)) and prefix == str(env_dir)  # installed, not the checkout


def test_serving_from_the_environment(built, tmp_path):
    path, sample, env, env_dir, _ = built
    want = json.loads(encode_predictions(mlflow.pyfunc.load_model(str(path)).predict(sample)))
    with models_serve(path, tmp_path, "--env-manager", "virtualenv", env=env) as server:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].decode() == str(env_dir / "bin" / "python")  # the command re-ran itself in the env
        answer = invoke(server.port, {"dataframe_split": {"columns": list(sample.columns),
                                                          "data": sample.values.tolist()}})
        assert answer.status == 200, answer.body
        assert answer.json() == want
        csv = invoke(server.port, sample.to_csv(index=False), content_type="text/csv")
        assert csv.json() == want
    assert "reusing the virtualenv environment" in server.log.read_text()


def test_predicting_in_the_environment_and_refreshing_fluvial(built):
    path, sample, env, env_dir, workdir = built
    want = json.loads(encode_predictions(mlflow.pyfunc.load_model(str(path)).predict(sample)))
    payload = json.dumps({"dataframe_records": sample.to_dict(orient="records")}).encode()
    (env_dir / ".fluvial-source").write_text("an older fluvial")
    out = fluvial("models", "predict", "-m", str(path), "--env-manager", "virtualenv", env=env, cwd=workdir,
                  stdin=payload)
    assert out.returncode == 0, out.stderr.decode()[-4000:]
    assert json.loads(out.stdout) == want
    assert b"updating fluvial in the environment" in out.stderr
    assert (env_dir / ".fluvial-source").read_text() != "an older fluvial"
    again = fluvial("models", "prepare-env", "-m", str(path), "--env-manager", "virtualenv", env=env, cwd=workdir)
    assert again.returncode == 0 and Path(again.stdout.decode().strip()) == env_dir
    assert b"updating fluvial" not in again.stderr


def test_a_failed_build_leaves_nothing_behind(built, tmp_path):
    path, _, env, _, _ = built
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(path, broken)
    (broken / "requirements.txt").write_text("scikit-learn\nfluvial-no-such-package-for-tests==0.0.1")
    out = fluvial("models", "prepare-env", "-m", str(broken), "--env-manager", "virtualenv", env=env, cwd=tmp_path)
    assert out.returncode == 1
    line = [ln for ln in out.stderr.decode().splitlines() if ln.startswith("Error: ")]
    assert len(line) == 1 and "failed" in line[0] and "fluvial-no-such-package-for-tests" in line[0]
    root = Path(env["MLFLOW_ENV_ROOT"])
    built_dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(built_dirs) == 1  # only the good environment of the fixture
