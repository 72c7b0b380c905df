"""A ``docker_env`` project run for real, on the engine scripts/with-docker.sh starts (skips without
DOCKER_HOST). The project's image is the local Debian base with fluvial installed offline from the
wheelhouse tests/scoring/test_docker_images.py fills (``.cache/docker-wheelhouse``, made here when
missing); its params and metrics land in the SQLite tracking store mounted into the container."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import fluvial as mlflow
from tests.projects.conftest import runs_of, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE = os.environ.get("FLUVIAL_TEST_BASE_IMAGE", "")
if not os.environ.get("DOCKER_HOST") or not BASE:
    pytest.skip("real Docker tests run under scripts/with-docker.sh (DOCKER_HOST is not set)"
                + (f": {os.environ['FLUVIAL_DOCKER_UNAVAILABLE']}" if os.environ.get("FLUVIAL_DOCKER_UNAVAILABLE") else ""),
                allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "docker-wheelhouse"

TRAIN_PY = """
import sys
import fluvial as mlflow
alpha = float(sys.argv[1])
mlflow.log_param("alpha_seen", alpha)
mlflow.log_metric("loss", alpha * 2)
"""


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=cwd, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def project_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ctx = tmp_path_factory.mktemp("project-image")
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--find-links", str(WHEELHOUSE), "-w", str(ctx / "wh"),
                 f"{REPO}[server]"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\nCOPY wh/ /wh/\n"
                                    "RUN pip install --no-index --find-links /wh fluvial && rm -rf /wh\n")
    name = f"fluvial-test-project:{uuid.uuid4().hex[:8]}"
    proc = _run(["docker", "build", "-q", "-t", name, str(ctx)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    yield name
    _run(["docker", "rmi", "-f", name])


def test_a_docker_env_project_logs_to_the_tracking_store(project_image: str, tmp_path: Path, tracking: str) -> None:
    project = write_project(tmp_path / "proj", {
        "MLproject": f"""
            name: RealDocker
            docker_env:
              image: {project_image}
            entry_points:
              main:
                parameters: {{alpha: {{type: float, default: 0.5}}}}
                command: python train.py {{alpha}}
            """,
        "train.py": TRAIN_PY,
    })
    submitted = mlflow.projects.run(str(project), parameters={"alpha": "0.25"})
    assert submitted.get_status() == "FINISHED"
    (run,) = runs_of()
    assert run.info.run_id == submitted.run_id and run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.25" and run.data.params["alpha_seen"] == "0.25"
    assert run.data.metrics["loss"] == 0.5
