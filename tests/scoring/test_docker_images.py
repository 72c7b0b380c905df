"""Real images: ``fluvial models build-docker`` on the container engines scripts/with-docker.sh and
scripts/with-podman.sh set up (tests/scoring/_engines.py): Docker, podman's own CLI, and podman through
its Docker-compatible socket.

Elsewhere (or where an engine could not be set up) they skip, saying why. Each engine gets the local
Debian base with python3 and pip. Builds are offline: fluvial's dependencies and the model's requirements
come from a wheelhouse made on the host (cached in .cache/docker-wheelhouse; the host and the base share
Python 3.11 on linux x86-64). Containers use the host's network namespace (`--network host`; the
private engines set up no NAT) and listen on 127.0.0.1 on a free port. The model image is built once per
engine (module-scoped); the no-model image and the failing build run on Docker only (engine-independent).
Images keep fixed tags and stay in the engines' private storage (.cache/docker, .cache/podman), so the
next run's builds reuse their layers (the setup scripts prune the untagged ones).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.scoring._engines import WHEELHOUSE, Engine, any_engine_configured, engine
from tests.scoring._models import save_sklearn
from tests.scoring._serving import REPO, invoke, request
from tests.server._serve import free_port

# image builds install packages (minutes on a fresh machine's cold build cache)
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

if not any_engine_configured():
    pytest.skip("real container tests run under scripts/with-docker.sh / with-podman.sh (no engine set up)"
                + "".join(f": {os.environ[v]}" for v in ("FLUVIAL_DOCKER_UNAVAILABLE", "FLUVIAL_PODMAN_UNAVAILABLE")
                          if os.environ.get(v)), allow_module_level=True)


def _run(argv: list[str], eng: Engine, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=eng.environ(),
                          stdin=subprocess.DEVNULL)


def _build(eng: Engine, model: Path | None, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "fluvial", "models", "build-docker", "-n", name, "--base-image", eng.base_image,
            "--wheelhouse", str(WHEELHOUSE), *eng.engine_args, *extra]
    return _run(argv + (["-m", str(model)] if model else []), eng)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path, sample = save_sklearn(tmp_path_factory.mktemp("docker") / "iris")
    os.chmod(path, 0o755)
    # the wheelhouse: fluvial's serving dependencies and the model's requirements, as wheels
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    reqs = [ln.strip() for ln in (path / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith(("mlflow", "fluvial"))]
    # filled once per set of requirements: rewriting the wheels would defeat the engines' build caches
    key = hashlib.sha256("\n".join([*sorted(reqs), (REPO / "pyproject.toml").read_text()]).encode()).hexdigest()
    stamp = WHEELHOUSE / ".filled-for"
    if not stamp.exists() or stamp.read_text() != key:
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--find-links", str(WHEELHOUSE), "-w",
                               str(WHEELHOUSE), f"{REPO}[server,data]", *reqs], capture_output=True, text=True,
                              timeout=900, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr[-3000:]
        for built in WHEELHOUSE.glob("fluvial-*.whl"):  # the image gets the wheel of the fluvial under test
            built.unlink()
        stamp.write_text(key)
    return path, sample


@pytest.fixture(scope="module", params=["docker", "podman"])
def image(request: pytest.FixtureRequest, model: tuple[Path, object]) -> tuple[Engine, str]:
    """The model's image, built by ``build-docker --engine <engine>``."""
    eng = engine(request.param)
    name = f"fluvial-test-iris:{eng.name}"  # kept: the next run's build reuses its layers
    proc = _build(eng, model[0], name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return eng, name


@pytest.fixture(scope="module")
def docker() -> Engine:
    return engine("docker")


def _container(eng: Engine, image: str, *extra: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    port = free_port()
    envs = [f"-e{k}={v}" for k, v in {"MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port), **(env or {})}.items()]
    proc = eng.run("run", "-d", "--network", "host", *envs, *extra, image)
    assert proc.returncode == 0, proc.stderr
    cid = proc.stdout.strip()
    deadline = time.monotonic() + 240  # bounded: the no-model image installs requirements first
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/ping", timeout=2).status == 200:
                return cid, port
        except OSError:
            pass
        if eng.run("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() != "true":
            break
        time.sleep(0.5)
    logs = eng.run("logs", cid)
    eng.run("rm", "-f", cid)
    raise AssertionError(f"the container did not answer /ping:\n{logs.stdout[-3000:]}\n{logs.stderr[-3000:]}")


def _check_predictions(port: int, sample: object) -> None:
    import pandas as pd

    assert isinstance(sample, pd.DataFrame)
    split = json.loads(sample.to_json(orient="split", index=False))
    expected = invoke(port, {"dataframe_split": split}).json()["predictions"]
    assert len(expected) == len(sample) and set(expected) <= {0, 1, 2}
    records = sample.to_dict(orient="records")
    assert invoke(port, {"dataframe_records": records}).json()["predictions"] == expected
    assert invoke(port, {"instances": records}).json()["predictions"] == expected
    assert invoke(port, {"inputs": sample.to_dict(orient="list")}).json()["predictions"] == expected
    csv = invoke(port, sample.to_csv(index=False), content_type="text/csv")
    assert csv.status == 200 and csv.json()["predictions"] == expected


def _serves_and_stops(eng: Engine, image: str, model: tuple[Path, object]) -> None:
    from fluvial.version import MLFLOW_COMPAT_VERSION

    cid, port = _container(eng, image)
    try:
        assert request(port, "GET", "/ping").status == 200
        assert request(port, "GET", "/version").body.decode().strip() == MLFLOW_COMPAT_VERSION
        _check_predictions(port, model[1])
        user = eng.run("exec", cid, "id", "-u").stdout.strip()
        assert user == "1000"  # not root
        stop = eng.run("stop", "-t", "20", cid)
        assert stop.returncode == 0
        # stopped by SIGTERM itself, not killed after the grace period
        assert eng.run("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() != "137"
    finally:
        eng.run("rm", "-f", cid)


def test_a_model_image_serves_every_input_format(image: tuple[Engine, str], model: tuple[Path, object]) -> None:
    _serves_and_stops(*image, model)


def test_batching_through_the_environment(image: tuple[Engine, str], model: tuple[Path, object]) -> None:
    eng, name = image
    cid, port = _container(eng, name, env={"FLUVIAL_SCORING_BATCHING": "true"})
    try:
        _check_predictions(port, model[1])
        logs = eng.run("logs", cid)
        assert "batching" in (logs.stdout + logs.stderr).lower()
    finally:
        eng.run("rm", "-f", cid)


def test_podman_through_its_docker_socket(model: tuple[Path, object]) -> None:
    """The docker CLI against podman's Docker-compatible API: build-docker finds it with no --engine (its
    `docker version` answers) and builds through the socket; the image serves; podman's own CLI sees it."""
    eng = engine("podman-socket")
    assert eng.run("version", "--format", "{{.Server.Version}}").stdout.strip() == \
        subprocess.run(["podman", "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True,
                       timeout=60, env=eng.environ()).stdout.strip()  # it is podman answering
    name = "fluvial-test-iris:podman-socket"
    proc = _build(eng, model[0], name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert engine("podman").run("image", "exists", name).returncode == 0
    _serves_and_stops(eng, name, model)


def test_the_image_without_a_model_serves_a_mounted_one(docker: Engine, model: tuple[Path, object]) -> None:
    name = "fluvial-test-nomodel:docker"
    proc = _build(docker, None, name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    cid, port = _container(docker, name, "-v", f"{model[0]}:/opt/ml/model:ro", "-v",
                           f"{WHEELHOUSE}:/wheelhouse:ro", env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse"})
    try:
        _check_predictions(port, model[1])
    finally:
        docker.run("rm", "-f", cid)


def test_uninstallable_requirements_fail_the_build_clearly(docker: Engine, model: tuple[Path, object],
                                                           tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model[0], broken)
    (broken / "requirements.txt").write_text("scikit-learn\nfluvial-no-such-package-xyz==9.9\n")
    name = f"fluvial-test-broken:{uuid.uuid4().hex[:8]}"
    proc = _build(docker, broken, name)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "build" in last and "fluvial-no-such-package-xyz" in last, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert docker.run("image", "inspect", name).returncode != 0
