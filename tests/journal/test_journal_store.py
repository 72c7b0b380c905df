"""The journaling store in-process, server unreachable: what is refused at call time, what a run
looks like from the journal, how batches are cut into entries."""

from __future__ import annotations

import json
import math

import pytest

from fluvial.entities import Metric, Param, RunTag
from fluvial.exceptions import InvalidParameterValue
from fluvial.store.tracking.journal.db import Journal
from fluvial.store.tracking.journal.store import JournalTrackingStore
from fluvial.store.tracking.rest import RestTrackingStore

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def store(tmp_path):
    return JournalTrackingStore(RestTrackingStore(UNREACHABLE), Journal(tmp_path / "j"), start_sender=False)


def _entries(store):
    return [(kind, json.loads(body)) for kind, body in store.journal.query("SELECT kind, payload FROM entries")]


def test_offline_run_reads_back_from_the_journal(store):
    run = store.create_run("0", "alice", 5, [RunTag("team", "a")], None)
    rid = run.info.run_id
    assert len(rid) == 32 and run.info.run_name and run.info.artifact_uri.endswith(rid)
    store.log_batch(rid, [Metric("loss", 2.0, 10, 0), Metric("loss", 1.0, 11, 1)], [Param("lr", "0.1")],
                    [RunTag("phase", "x")])
    store.set_tag(rid, RunTag("gone", "1"))
    store.delete_tag(rid, "gone")
    store.update_run_info(rid, "FINISHED", 99, None)
    got = store.get_run(rid)
    assert got.data.metrics == {"loss": 1.0}
    assert got.data.params == {"lr": "0.1"}
    assert got.data.tags["phase"] == "x" and got.data.tags["team"] == "a" and "gone" not in got.data.tags
    assert (got.info.status, got.info.end_time) == ("FINISHED", 99)
    assert store.journal.counts() == {"pending": 5, "acknowledged": 0, "rejected": 0}


def test_bad_input_is_refused_and_nothing_is_journaled(store):
    rid = store.create_run("0", "alice", 5, [], "r").info.run_id
    store.log_param(rid, Param("lr", "0.1"))
    before = _entries(store)
    with pytest.raises(InvalidParameterValue, match="Changing param values"):
        store.log_param(rid, Param("lr", "0.2"))
    with pytest.raises(InvalidParameterValue):
        store.log_metric(rid, Metric("loss", "abc", 1, 0))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [Metric("m", 1.0, 1, i) for i in range(1001)], [], [])
    with pytest.raises(InvalidParameterValue):
        store.log_metric(rid, Metric("../bad", 1.0, 1, 0))
    assert _entries(store) == before
    store.log_metric(rid, Metric("nan", math.nan, 1, 0))  # NaN is a value, as on the server
    assert len(_entries(store)) == len(before) + 1


def test_unbounded_batches_become_entries_within_the_servers_limits(store):
    rid = store.create_run("0", "alice", 5, [], "r").info.run_id
    store.log_batch_unbounded(rid, [Metric("m", 1.0, 1, i) for i in range(2500)],
                              [Param(f"p{i}", "v") for i in range(150)], [RunTag("t", "v")])
    batches = [body for kind, body in _entries(store) if kind == "log_batch"]
    assert [(len(b["metrics"]), len(b["params"]), len(b["tags"])) for b in batches] == [
        (0, 100, 0), (0, 50, 0), (0, 0, 1), (1000, 0, 0), (1000, 0, 0), (500, 0, 0)]


def test_fsync_mode_must_be_known(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUVIAL_JOURNAL_FSYNC", "sometimes")
    with pytest.raises(InvalidParameterValue, match="FLUVIAL_JOURNAL_FSYNC"):
        Journal(tmp_path / "j")
    monkeypatch.setenv("FLUVIAL_JOURNAL_FSYNC", "always")
    assert Journal(tmp_path / "k").query("PRAGMA synchronous") == [(2,)]


def test_one_sender_per_journal(store):
    from click.testing import CliRunner

    from fluvial.cli import main
    from fluvial.store.tracking.journal.sender import sender_lock

    store.create_run("0", "alice", 5, [], "r")
    with sender_lock(store.journal):  # e.g. the training program's sender is sending
        result = CliRunner().invoke(main, ["sync", store.journal.directory, "--tracking-uri", UNREACHABLE])
    assert result.exit_code == 1
    assert "another process is sending the journal" in result.output and "Traceback" not in result.output
    assert store.journal.counts()["pending"] == 1
