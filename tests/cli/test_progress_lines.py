"""Progress on a terminal, silence elsewhere: artifact uploads/downloads (``fluvial artifacts``, and
whatever goes through the same repositories: models) and environment build steps."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(cwd: Path, argv: list[str], tty: bool, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``argv`` with stderr on a pseudo-terminal (``tty``) or a pipe; (exit status, stderr)."""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "120",
           "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}", **(extra_env or {})}
    if not tty:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def run_with_files(tmp_path) -> tuple[Path, str]:
    import fluvial as mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run() as run:
        pass
    data = tmp_path / "data"
    for i in range(5):
        (data / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        (data / f"d{i % 2}" / f"f{i}.bin").write_bytes(b"x" * 20_000)
    return tmp_path, run.info.run_id


def test_artifact_transfers_show_progress_on_a_terminal_only(run_with_files):
    cwd, run_id = run_with_files
    cli = [sys.executable, "-m", "fluvial", "artifacts"]
    code, err = _run(cwd, [*cli, "log-artifacts", "-l", "data", "-r", run_id], tty=True)
    assert code == 0, err
    assert "Uploading artifacts [####################] 5/5 files, 100.0 KB of 100.0 KB" in err
    code, err = _run(cwd, [*cli, "download", "-r", run_id, "-d", "out"], tty=True)
    assert code == 0, err
    assert "\rDownloading artifacts 5 files, 100.0 KB" in err
    assert len(list((cwd / "out").rglob("*.bin"))) == 5
    code, err = _run(cwd, [*cli, "download", "-r", run_id, "-d", "out2"], tty=False)
    assert code == 0 and "Downloading" not in err and "\r" not in err
    code, err = _run(cwd, [*cli, "download", "-r", run_id, "-d", "out3"], tty=True,
                     extra_env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    assert code == 0 and "Downloading" not in err


def test_environment_build_steps_show_their_latest_line_on_a_terminal_only(tmp_path):
    script = ("import sys\nfrom fluvial.environments.base import run_step\n"
              "run_step([sys.executable, '-c', 'print(\"Collecting numpy\"); print(\"Installed numpy\")'], "
              "'installing the requirements')\n")
    code, err = _run(tmp_path, [sys.executable, "-c", script], tty=True)
    assert code == 0, err
    assert "fluvial: installing the requirements" in err and "\r  installing the requirements: Installed numpy" in err
    code, err = _run(tmp_path, [sys.executable, "-c", script], tty=False)
    assert code == 0 and err.strip() == "fluvial: installing the requirements"
