"""Journal mode against real servers: a server stopped mid-training, kill -9 of the trainer and of
``fluvial sync`` at random points, a proxy that resets connections (before the request and after the
server answered), and sync into MLflow 2.22.5's own server. The check is always the same: the
server's run equals what the training program was told was logged, nothing more (except the one call
in flight when it was killed) and nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.journal._proxy import FaultProxy
from tests.server._serve import REPO, fluvial_server

TRAINER = Path(__file__).with_name("_trainer.py")
WAIT = 120.0
JOURNAL_TAG = "fluvial.journal.id"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FLUVIAL_", "PYTHONPATH"))}
    env.update(PYTHONPATH=str(REPO), MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", **extra)
    return env


def start_trainer(uri: str, journal: Path, record: Path, steps: int, pause: Path | None = None,
                  **env: str) -> subprocess.Popen:
    argv = [sys.executable, str(TRAINER), uri, str(journal), str(record), str(steps)]
    if pause is not None:
        argv.append(str(pause))
    with open(record.with_suffix(".log"), "ab") as log:
        return subprocess.Popen(argv, env=_env(**env), stdout=log, stderr=subprocess.STDOUT, cwd=record.parent)


def wait_file(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        assert proc.poll() is None, f"trainer exited early: {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def sync(journal: Path, uri: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "fluvial", "sync", str(journal), "--tracking-uri", uri],
                            env=_env(), capture_output=True, text=True, timeout=WAIT)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def expected(record: Path) -> tuple[list[str], list[list[Any]], list[Any] | None]:
    """(local run ids, items whose call returned, the item in flight when the trainer died or None)."""
    runs, done, intent = [], [], None
    for line in record.read_text().splitlines():
        word, _, body = line.partition(" ")
        if word == "run":
            runs.append(json.loads(body))
        elif word == "intent":
            intent = json.loads(body)
        elif word == "done":
            done.append(json.loads(body))
            intent = None
    return runs, done, intent


def server_items(uri: str, local_id: str) -> tuple[list[list[Any]], Any]:
    """The run created for ``local_id`` on the server, as the trainer's items (exactly one such run)."""
    from fluvial.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.search_runs(["0"], f"tags.`{JOURNAL_TAG}` = '{local_id}'", run_view_type=3)
    assert len(found) == 1, f"{len(found)} server runs for local run {local_id}"
    run = found[0]
    items: list[list[Any]] = [["param", k, val] for k, val in run.data.params.items()]
    items += [["tag", "phase", run.data.tags["phase"]]] if "phase" in run.data.tags else []
    for m in client.get_metric_history(run.info.run_id, "loss"):
        items.append(["metric", "loss", m.value, m.timestamp, m.step])
    items += [["artifact", f.path] for f in client.list_artifacts(run.info.run_id)]
    if run.info.status == "FINISHED":
        items.append(["end"])
    return items, run


def assert_same(record: Path, uri: str) -> None:
    """The server's run holds every item whose call returned, no other (but the one in flight) and no
    metric point twice; tags compare by their last value."""
    runs, done, in_flight = expected(record)
    for local_id in runs:
        got, _run = server_items(uri, local_id)
        metrics = [json.dumps(i) for i in got if i[0] == "metric"]
        assert len(metrics) == len(set(metrics)), "a metric point was stored twice"
        want = [i for i in done if i[0] != "tag"]
        tags = [i for i in done if i[0] == "tag"]
        allowed = [_as_set(want + tags[-1:])]
        if in_flight is not None:
            allowed.append(_as_set([*want, in_flight]) if in_flight[0] == "tag" else _as_set([*want, *tags[-1:], in_flight]))
        assert _as_set(got) in allowed, f"server: {sorted(_as_set(got) ^ allowed[0])} differ from the trainer's record"


def _as_set(items: list[list[Any]]) -> set[str]:
    return {json.dumps(i) for i in items}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Any]:
    with fluvial_server(tmp_path_factory.mktemp("journal-server")) as running:
        yield running


def assert_resent_batch_is_harmless(uri: str) -> None:
    """What exactly-once rests on: the same LogBatch sent twice stores each metric point once."""
    from fluvial.entities import Metric, Param, RunTag
    from fluvial.store.tracking.rest import RestTrackingStore

    store = RestTrackingStore(uri)
    rid = store.create_run("0", "u", 1, [], "resend").info.run_id
    batch = ([Metric("m", 1.0, 5, 0), Metric("m", 2.0, 6, 1)], [Param("p", "v")], [RunTag("t", "v")])
    store.log_batch(rid, *batch)
    store.log_batch(rid, *batch)
    points = [(m.value, m.timestamp, m.step) for m in store.get_metric_history(rid, "m")]
    assert sorted(points) == [(1.0, 5, 0), (2.0, 6, 1)]


def test_resending_a_batch_to_fluvials_server_stores_it_once(server):
    assert_resent_batch_is_harmless(server.url)


def test_server_stopped_mid_training_and_restarted(tmp_path):
    workdir = tmp_path / "srv"
    with fluvial_server(workdir) as first:
        proxy = FaultProxy(first.port)
        try:
            pause = tmp_path / "pause"
            record = tmp_path / "record.txt"
            proc = start_trainer(proxy.url, tmp_path / "journal", record, 200, pause,
                                 FLUVIAL_JOURNAL_FLUSH_TIMEOUT="60")
            wait_file(Path(str(pause) + ".reached"), proc)
            first.proc.send_signal(signal.SIGTERM)
            first.proc.wait(timeout=30)
            pause.touch()  # the second half is logged while the server is down; end_run finds it down
            assert proc.wait(timeout=WAIT) == 0, record.with_suffix(".log").read_text()
            with fluvial_server(workdir) as second:  # same database, new port, same URL via the proxy
                proxy.target_port = second.port
                result = sync(tmp_path / "journal", proxy.url)
                assert "0 pending" in result.stderr
                assert_same(record, proxy.url)
                assert "0 entries sent" in sync(tmp_path / "journal", proxy.url).stderr  # nothing left to send
        finally:
            proxy.close()


def test_kill_9_trainer_and_sync_at_random_points(server, tmp_path):
    rng = random.Random(17)
    for attempt in range(3):
        work = tmp_path / f"a{attempt}"
        work.mkdir()
        journal, record = work / "journal", work / "record.txt"
        proxy = FaultProxy(server.port)
        proxy.down = attempt == 2  # one run logged entirely offline
        try:
            proc = start_trainer(proxy.url, journal, record, 300)
            time.sleep(rng.uniform(0.5, 3.0))
            proc.kill()
            proc.wait(timeout=30)
            proxy.down = False
            # kill -9 the sync too, at a random point, then sync to the end
            syncer = subprocess.Popen([sys.executable, "-m", "fluvial", "sync", str(journal), "--tracking-uri",
                                       proxy.url], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 1.5))
            syncer.kill()
            syncer.wait(timeout=30)
            sync(journal, proxy.url)
            if expected(record)[0]:
                assert_same(record, proxy.url)
        finally:
            proxy.close()


def test_sync_through_a_proxy_that_resets_connections(server, tmp_path):
    journal, record = tmp_path / "journal", tmp_path / "record.txt"
    offline = FaultProxy(server.port)
    offline.down = True
    proc = start_trainer(offline.url, journal, record, 2500, FLUVIAL_JOURNAL_FLUSH_TIMEOUT="0")
    assert proc.wait(timeout=WAIT) == 0
    offline.close()
    flaky = FaultProxy(server.port, fault_rate=0.3, seed=5)
    try:
        for _ in range(40):  # each failure stops the sync; run it again until it gets through (bounded)
            if sync(journal, flaky.url, check=False).returncode == 0:
                break
        else:
            pytest.fail("sync never got through")
        assert flaky.faults > 0
        assert_same(record, flaky.url)
    finally:
        flaky.close()


def test_sync_error_when_server_unreachable_is_one_line(tmp_path):
    journal, record = tmp_path / "journal", tmp_path / "record.txt"
    proxy = FaultProxy(1)
    proxy.down = True
    try:
        proc = start_trainer(proxy.url, journal, record, 5, FLUVIAL_JOURNAL_FLUSH_TIMEOUT="0")
        assert proc.wait(timeout=WAIT) == 0
        result = sync(journal, proxy.url, check=False)
    finally:
        proxy.close()
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: cannot reach the tracking server") and "fluvial sync again" in lines[-1]
    assert "Traceback" not in result.stderr
    missing = subprocess.run([sys.executable, "-m", "fluvial", "sync", str(tmp_path / "nothing")], env=_env(),
                             capture_output=True, text=True, timeout=WAIT)
    assert missing.returncode == 1 and "holds no journal" in missing.stderr


@pytest.mark.slow
def test_sync_into_mlflow_2_22_5_server_through_faults(tmp_path):
    """No server-side support: an unmodified MLflow server, answers thrown away part of the time."""
    from tests.compat._mlflow import MLFLOW_VERSION, mlflow_python
    from tests.compat._servers import mlflow_server

    python = mlflow_python(MLFLOW_VERSION)
    if python is None:
        pytest.skip(f".venvs/mlflow-{MLFLOW_VERSION}/bin/python is missing (create it with `make mlflow-venvs`)")
    journal, record = tmp_path / "journal", tmp_path / "record.txt"
    offline = FaultProxy(1)
    offline.down = True
    try:
        assert start_trainer(offline.url, journal, record, 1500, FLUVIAL_JOURNAL_FLUSH_TIMEOUT="0").wait(WAIT) == 0
    finally:
        offline.close()
    with mlflow_server(python, tmp_path / "mlflow") as server:
        assert_resent_batch_is_harmless(server.url)
        flaky = FaultProxy(int(server.url.rsplit(":", 1)[1]), fault_rate=0.3, seed=11)
        try:
            for _ in range(40):
                if sync(journal, flaky.url, check=False).returncode == 0:
                    break
            else:
                pytest.fail("sync never got through")
            assert flaky.faults > 0
            assert_same(record, server.url)
        finally:
            flaky.close()
