"""A ``docker_env`` project run for real, on Docker (found by auto-detection) and on podman's own CLI
(chosen by $FLUVIAL_CONTAINER_ENGINE), as tests/scoring/_engines.py sets them up; an engine that is not
set up skips, saying why. Not through podman 4.3's Docker-compatible socket: there the docker CLI's
``run --rm`` never returns (the API leaves the exited auto-remove container in place, so the wait for its
removal does not end; see docs/projects.md). The project's image is the local Debian base with fluvial
installed offline from the wheelhouse tests/scoring/test_docker_images.py fills
(``.cache/docker-wheelhouse``), built once per engine. Params and metrics land in the SQLite tracking
store mounted into the container."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fluvial as mlflow
from tests.projects.conftest import runs_of, write_project
from tests.scoring._engines import REPO, WHEELHOUSE, Engine, engine

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

TRAIN_PY = """
import sys
import fluvial as mlflow
alpha = float(sys.argv[1])
mlflow.log_param("alpha_seen", alpha)
mlflow.log_metric("loss", alpha * 2)
"""


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """Project images by engine, built when first asked for. Kept (fixed tags in the engines' private
    storage) so the next run's build reuses the layers."""
    return {}


def _project_image(eng: Engine, built: dict[str, str], tmp: Path) -> str:
    storage = eng.name
    if storage not in built:
        builder = eng
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--find-links", str(WHEELHOUSE), "-w",
                               str(tmp / "wh"), f"{REPO}[server]"], capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (tmp / "Dockerfile").write_text(f"FROM {eng.base_image}\nCOPY wh/ /wh/\n"
                                        "RUN pip install --no-index --find-links /wh fluvial && rm -rf /wh\n")
        name = f"fluvial-test-project:{storage}"
        proc = builder.run("build", "-q", "-t", name, str(tmp), timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        built[storage] = name
    return built[storage]


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_a_docker_env_project_logs_to_the_tracking_store(engine_name: str, built: dict[str, str], tmp_path: Path,
                                                          tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    eng = engine(engine_name)
    (tmp_path / "ctx").mkdir()
    project_image = _project_image(eng, built, tmp_path / "ctx")
    for key, value in eng.env.items():  # the run goes through fluvial in this process
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    if eng.name == "podman":
        monkeypatch.setenv("FLUVIAL_CONTAINER_ENGINE", "podman")
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
    assert run.data.tags["mlflow.docker.image.uri"] == project_image
