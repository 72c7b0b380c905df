"""Real images: ``fluvial models build-docker`` against the Docker engine scripts/with-docker.sh starts.

Run only under with-docker.sh (it sets DOCKER_HOST and FLUVIAL_TEST_BASE_IMAGE, the local Debian base
with python3 and pip); elsewhere they skip. Builds are offline: fluvial's dependencies and the model's
requirements come from a wheelhouse made on the host (cached in .cache/docker-wheelhouse; the host
and the base share Python 3.11 on linux x86-64). Containers use the host's network namespace
(`--network host`; the private engine has no NAT) and listen on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring._models import save_sklearn
from tests.scoring._serving import REPO, invoke, request
from tests.server._serve import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE = os.environ.get("FLUVIAL_TEST_BASE_IMAGE", "")
if not os.environ.get("DOCKER_HOST") or not BASE:
    pytest.skip("real Docker tests run under scripts/with-docker.sh (DOCKER_HOST is not set)"
                + (f": {os.environ['FLUVIAL_DOCKER_UNAVAILABLE']}" if os.environ.get("FLUVIAL_DOCKER_UNAVAILABLE") else ""),
                allow_module_level=True)

WHEELHOUSE = REPO / ".cache" / "docker-wheelhouse"


def _run(argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return _run(["docker", *args], timeout=timeout)


def _build(model: Path | None, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "fluvial", "models", "build-docker", "-n", name, "--base-image", BASE,
            "--wheelhouse", str(WHEELHOUSE), *extra]
    return _run(argv + (["-m", str(model)] if model else []))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path, sample = save_sklearn(tmp_path_factory.mktemp("docker") / "iris")
    os.chmod(path, 0o755)
    # the wheelhouse: fluvial's serving dependencies and the model's requirements, as wheels
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    reqs = [ln.strip() for ln in (path / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith(("mlflow", "fluvial"))]
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--find-links", str(WHEELHOUSE), "-w", str(WHEELHOUSE),
                 f"{REPO}[server,data]", *reqs])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for built in WHEELHOUSE.glob("fluvial-*.whl"):  # the image gets the wheel of the fluvial under test
        built.unlink()
    return path, sample


@pytest.fixture(scope="module")
def image(model: tuple[Path, object]) -> Iterator[str]:
    name = f"fluvial-test-iris:{uuid.uuid4().hex[:8]}"
    proc = _build(model[0], name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    yield name
    _docker("rmi", "-f", name)


def _container(image: str, *extra: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    port = free_port()
    envs = [f"-e{k}={v}" for k, v in {"MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port), **(env or {})}.items()]
    proc = _docker("run", "-d", "--network", "host", *envs, *extra, image)
    assert proc.returncode == 0, proc.stderr
    cid = proc.stdout.strip()
    deadline = time.monotonic() + 240  # bounded: the no-model image installs requirements first
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/ping", timeout=2).status == 200:
                return cid, port
        except OSError:
            pass
        if _docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() != "true":
            break
        time.sleep(0.5)
    logs = _docker("logs", cid)
    _docker("rm", "-f", cid)
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


def test_a_model_image_serves_every_input_format(image: str, model: tuple[Path, object]) -> None:
    from fluvial.version import MLFLOW_COMPAT_VERSION

    cid, port = _container(image)
    try:
        assert request(port, "GET", "/ping").status == 200
        assert request(port, "GET", "/version").body.decode().strip() == MLFLOW_COMPAT_VERSION
        _check_predictions(port, model[1])
        user = _docker("exec", cid, "id", "-u").stdout.strip()
        assert user == "1000"  # not root
        stop = _docker("stop", "-t", "20", cid)
        assert stop.returncode == 0
        # stopped by SIGTERM itself, not killed after the grace period
        assert _docker("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() != "137"
    finally:
        _docker("rm", "-f", cid)


def test_batching_through_the_environment(image: str, model: tuple[Path, object]) -> None:
    cid, port = _container(image, env={"FLUVIAL_SCORING_BATCHING": "true"})
    try:
        _check_predictions(port, model[1])
        logs = _docker("logs", cid)
        assert "batching" in (logs.stdout + logs.stderr).lower()
    finally:
        _docker("rm", "-f", cid)


def test_the_image_without_a_model_serves_a_mounted_one(model: tuple[Path, object]) -> None:
    name = f"fluvial-test-nomodel:{uuid.uuid4().hex[:8]}"
    proc = _build(None, name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        cid, port = _container(name, "-v", f"{model[0]}:/opt/ml/model:ro", "-v", f"{WHEELHOUSE}:/wheelhouse:ro",
                               env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse"})
        try:
            _check_predictions(port, model[1])
        finally:
            _docker("rm", "-f", cid)
    finally:
        _docker("rmi", "-f", name)


def test_uninstallable_requirements_fail_the_build_clearly(model: tuple[Path, object], tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model[0], broken)
    (broken / "requirements.txt").write_text("scikit-learn\nfluvial-no-such-package-xyz==9.9\n")
    name = f"fluvial-test-broken:{uuid.uuid4().hex[:8]}"
    proc = _build(broken, name)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "build" in last and "fluvial-no-such-package-xyz" in last, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert _docker("image", "inspect", name).returncode != 0
