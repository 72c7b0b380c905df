"""Environment managers without building environments: what a model asks for, cache keys, finding
interpreters, fluvial's wheel, locks, build-step errors, requirement updates."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from fluvial.environments import ENV_MANAGERS, cache, get_env_manager, validate_env_manager
from fluvial.environments.base import EnvironmentBuildError, run_step
from fluvial.environments.builder import model_env_spec
from fluvial.environments.distribution import build_wheel, fluvial_source, requirement_for
from fluvial.environments.update import updated_requirements
from fluvial.environments.virtualenv import find_python
from fluvial.exceptions import InvalidParameterValue

REPO = Path(__file__).resolve().parents[2]


def _model(tmp_path: Path, *, python_env: dict | None = None, conda: dict | None = None,
           requirements: str | None = None) -> Path:
    path = tmp_path / "model"
    path.mkdir()
    (path / "MLmodel").write_text("flavors: {}\n")
    if python_env is not None:
        (path / "python_env.yaml").write_text(yaml.safe_dump(python_env, sort_keys=False))
    if conda is not None:
        (path / "conda.yaml").write_text(yaml.safe_dump(conda))
    if requirements is not None:
        (path / "requirements.txt").write_text(requirements)
    return path


def test_manager_names():
    assert ENV_MANAGERS == ("local", "virtualenv", "conda", "uv")
    assert validate_env_manager("VirtualEnv") == "virtualenv"
    with pytest.raises(InvalidParameterValue, match="local, virtualenv, conda, uv"):
        get_env_manager("docker")
    local = get_env_manager("local")
    env = local.prepare(".")
    assert env.python == sys.executable and env.root is None
    with pytest.raises(InvalidParameterValue, match="pip-requirements-override"):
        local.prepare(".", pip_requirements_override=["x"])


# ---- what a model asks for ---------------------------------------------------------------------------


def test_spec_from_python_env(tmp_path):
    model = _model(tmp_path, python_env={"python": "3.10.13", "build_dependencies": ["pip==24.0", "wheel"],
                                         "dependencies": ["-r requirements.txt"]},
                   requirements="mlflow==2.22.5\nscikit-learn==1.9.1\nfluvial\n-c constraints.txt")
    (model / "constraints.txt").write_text("numpy<3")
    spec = model_env_spec(str(model), ["numpy==2.0"])
    assert spec.python == "3.10.13" and "python_env.yaml" in spec.python_from
    assert spec.build_dependencies == ["pip==24.0", "wheel"]
    assert spec.requirements == ["scikit-learn==1.9.1", f"-c {model / 'constraints.txt'}"]
    assert spec.overrides == ["numpy==2.0"]
    lines, files = spec.requirement_lines(tmp_path / "env")
    assert lines == ["scikit-learn==1.9.1", f"-c {tmp_path / 'env' / 'constraints-0.txt'}"]
    assert files == {"constraints-0.txt": "numpy<3"}


def test_spec_from_conda_only(tmp_path):
    model = _model(tmp_path, conda={"dependencies": ["python=3.12.1", "pip<=24", {"pip": ["mlflow", "pandas"]}]})
    spec = model_env_spec(str(model))
    assert spec.python == "3.12.1" and "conda.yaml" in spec.python_from
    assert spec.requirements == ["pandas"]


def test_spec_without_env_files(tmp_path):
    spec = model_env_spec(str(_model(tmp_path)))
    assert spec.python == "{}.{}.{}".format(*sys.version_info[:3])
    assert spec.requirements == [] and "running interpreter" in spec.python_from


# ---- cache ---------------------------------------------------------------------------------------------


def test_env_root(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ENV_ROOT", raising=False)
    assert cache.env_root() == Path.home() / ".fluvial" / "envs"
    monkeypatch.setenv("MLFLOW_ENV_ROOT", str(tmp_path / "x"))
    assert cache.env_root() == tmp_path / "x"


def test_env_key_is_stable_and_sensitive():
    base = {"manager": "virtualenv", "python": "3.11.7", "requirements": ["a==1"]}
    assert cache.env_key(base) == cache.env_key(dict(reversed(list(base.items()))))
    assert cache.env_key(base) != cache.env_key({**base, "requirements": ["a==2"]})
    assert cache.env_key(base) != cache.env_key({**base, "python": "3.11.8"})
    assert len(cache.env_key(base)) == 20


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from fluvial.environments import cache
with cache.locked(Path(sys.argv[1]), report=lambda m: None):
    print("locked", flush=True)
    time.sleep(1.5)
"""


def test_a_second_builder_waits_for_the_first(tmp_path):
    env_dir = tmp_path / "env"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(env_dir)], stdout=subprocess.PIPE,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        notes: list[str] = []
        start = time.monotonic()
        with cache.locked(env_dir, report=notes.append):
            waited = time.monotonic() - start
        assert waited > 0.5 and notes and "waiting for another process" in notes[0]
    finally:
        holder.wait(timeout=30)
        if holder.stdout:
            holder.stdout.close()


# ---- interpreters ---------------------------------------------------------------------------------------


def test_find_python_for_this_version():
    version = "{}.{}.{}".format(*sys.version_info[:3])
    found = find_python(version)
    assert found is not None and found[1] == version
    out = subprocess.run([found[0], "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == str(tuple(sys.version_info[:2]))
    assert find_python("{}.{}".format(*sys.version_info[:2])) is not None


def test_find_python_accepts_another_patch_release():
    found = find_python("{}.{}.999".format(*sys.version_info[:2]))
    assert found is not None and found[1].startswith("{}.{}.".format(*sys.version_info[:2]))


def test_find_python_for_a_missing_version():
    assert find_python("3.4.1") is None
    assert find_python("banana") is None


# ---- fluvial's wheel -------------------------------------------------------------------------------------


def _source_copy(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(REPO / "fluvial", root / "fluvial", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_wheel_is_reproducible_and_complete(tmp_path):
    first = build_wheel(tmp_path / "a")
    second = build_wheel(tmp_path / "b")
    assert first.name == second.name and first.name.endswith("-py3-none-any.whl")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    source = fluvial_source()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert sorted(n for n in names if n.startswith("fluvial/")) == sorted(n for n, _ in source.files())
        info = f"fluvial-{source.version}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        record = archive.read(f"{info}/RECORD").decode().splitlines()
    assert "Name: fluvial" in metadata and "Provides-Extra: server" in metadata
    assert any(line.startswith('Requires-Dist: uvicorn') and 'extra == "server"' in line
               for line in metadata.splitlines())
    assert len(record) == len(names)
    assert record[-1] == f"{info}/RECORD,,"
    assert requirement_for(first).startswith("fluvial[server,data] @ file:///")


def test_the_fingerprint_follows_the_source(tmp_path):
    root = _source_copy(tmp_path)
    before = fluvial_source(root).fingerprint()
    assert fluvial_source(root).fingerprint() == before
    (root / "fluvial" / "version.py").write_text((root / "fluvial" / "version.py").read_text() + "\n# changed\n")
    assert fluvial_source(root).fingerprint() != before
    (root / "fluvial" / "__pycache__").mkdir(exist_ok=True)
    (root / "fluvial" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    after = fluvial_source(root).fingerprint()
    assert fluvial_source(root).fingerprint() == after


def test_a_directory_that_is_not_fluvial(tmp_path):
    with pytest.raises(Exception, match="not a fluvial source tree"):
        fluvial_source(tmp_path)


# ---- build steps -------------------------------------------------------------------------------------------


def test_a_failing_step_says_what_failed(capfd):
    with pytest.raises(EnvironmentBuildError) as info:
        run_step([sys.executable, "-c", "print('collecting'); print('ERROR: no such package'); raise SystemExit(3)"],
                 "installing things", report=lambda m: None)
    assert "installing things failed (exit status 3)" in info.value.message
    assert "ERROR: no such package" in info.value.message
    assert "collecting" in capfd.readouterr().err  # a failed step's output is shown (quiet otherwise)
    with pytest.raises(EnvironmentBuildError, match="cannot run"):
        run_step(["/nonexistent/tool"], "running a tool", report=lambda m: None)


# ---- update-pip-requirements ---------------------------------------------------------------------------------


def test_updated_requirements():
    current = ["mlflow==2.22.5", "scikit-learn==1.9.1", "Pandas>=2"]
    assert updated_requirements(current, "add", ["pandas==2.3.3", "torch"]) == [
        "mlflow==2.22.5", "scikit-learn==1.9.1", "pandas==2.3.3", "torch"]
    assert updated_requirements(current, "remove", ["scikit_learn", "PANDAS"]) == ["mlflow==2.22.5"]
    assert updated_requirements(current, "remove", ["absent"]) == current
    with pytest.raises(InvalidParameterValue):
        updated_requirements(current, "replace", ["x"])
