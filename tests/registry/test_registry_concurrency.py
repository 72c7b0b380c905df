"""Processes registering versions of one model at the same moment get distinct, consecutive version
numbers: on SQLite (writers serialized by ``write_transaction``), on PostgreSQL (the model row is
locked before the highest version is read), and through a real ``fluvial server`` with two workers.

Every child waits for a start file (bounded), registers its versions and prints them as JSON; every
wait here is bounded too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.compat._servers import fluvial_server

REPO = Path(__file__).resolve().parents[2]
PER_PROCESS = 15
CHILD_TIMEOUT = 180.0

CHILD = r"""
import json, os, sys, time
from fluvial import MlflowClient

uri, go, count, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
client = MlflowClient(tracking_uri=uri)
client.get_registered_model("shared")  # connections open before the start
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no start signal within 60 s")
    time.sleep(0.002)
print(json.dumps([int(client.create_model_version("shared", source).version) for _ in range(count)]))
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def race(uri: str, workdir: Path, processes: int, source: str = "s3://bucket/model") -> list[list[int]]:
    from fluvial import MlflowClient

    MlflowClient(tracking_uri=uri).create_registered_model("shared")
    go = workdir / "go"
    script = workdir / "child.py"
    script.write_text(CHILD)
    procs = [
        subprocess.Popen([sys.executable, str(script), uri, str(go), str(PER_PROCESS), source], cwd=workdir,
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    time.sleep(1.0)  # let every child reach its wait
    go.write_text("go")
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=CHILD_TIMEOUT)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return results


def check(results: list[list[int]]) -> None:
    every = [v for versions in results for v in versions]
    assert sorted(every) == list(range(1, len(every) + 1))  # distinct and consecutive
    for versions in results:
        assert versions == sorted(versions)  # each process saw its numbers grow


@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_registrations_on_each_database(db_uri, tmp_path, processes):
    check(race(db_uri, tmp_path, processes))


@pytest.mark.slow
def test_concurrent_registrations_through_a_server(tmp_path):
    with fluvial_server(tmp_path / "server", workers=2) as server:
        results = race(server.url, tmp_path, 2, source="mlflow-artifacts:/0/run/artifacts/model")
    check(results)
