"""The web UI's data endpoints (``/ajax-api/2.0/fluvial/ui/...``) and MLflow's UI-side JSON routes
(``get-history-bulk-interval``, ``search-datasets``) against a real ``fluvial server`` process, seeded
through fluvial's client; the SQL store's fast reads checked against the generic ones of the base store."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from _serve import Server, fluvial_server

from fluvial.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from fluvial.store.tracking.base import TrackingStore, sampled_steps
from fluvial.store.tracking.sql.store import SqlTrackingStore

UI = "/ajax-api/2.0/fluvial/ui"
AJAX = "/ajax-api/2.0/mlflow"


def call(url: str, method: str = "GET", body: Any = None, query: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
    target = url + ("?" + urlencode(query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(target, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"{}")


@dataclass
class World:
    server: Server
    exp: str
    other: str
    runs: list[str] = field(default_factory=list)  # oldest first
    curve: str = ""  # a run with a long, irregular history of "loss"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    from fluvial.tracking.client import MlflowClient

    with fluvial_server(tmp_path_factory.mktemp("ui-routes")) as server:
        client = MlflowClient(server.url)
        exp, other = client.create_experiment("ui-main"), client.create_experiment("ui-other")
        w = World(server, exp, other)
        for i in range(12):
            run = client.create_run(exp, run_name=f"run-{i:02d}", start_time=1_000_000 + i * 1000)
            client.log_batch(run.info.run_id,
                             metrics=[Metric("acc", i / 10, 5, 0), Metric("loss", 1 / (i + 1), 5, 0)],
                             params=[Param("lr", str(i)), Param("depth", "3")] + ([Param("odd", "yes")] if i % 2 else []),
                             tags=[RunTag("team", "a" if i < 6 else "b")])
            w.runs.append(run.info.run_id)
        client.delete_run(w.runs[0])
        side = client.create_run(other, run_name="other-run")
        client.log_param(side.info.run_id, "only_other", "1")
        for run_id, context in ((w.runs[1], "training"), (w.runs[2], "eval"), (w.runs[3], None)):
            tags = (InputTag("mlflow.data.context", context),) if context else ()
            client.log_inputs(run_id, [DatasetInput(Dataset("iris", "d1g", "local", "/data/iris"), tags)])
        rng = random.Random(7)
        steps = sorted(rng.sample(range(-5, 20_000), 3000))
        w.curve = w.runs[5]
        client.log_batch(w.curve, metrics=[Metric("loss", float(s), 10 + s, s) for s in steps])
        client.log_batch(w.runs[6], metrics=[Metric("loss", float(s), 10 + s, s) for s in range(100, 700, 3)])
        yield w
    assert "Traceback" not in server.log.read_text(errors="replace"), server.log_tail()


# ---- runs-page ---------------------------------------------------------------------------------------
def test_runs_page_sends_only_the_asked_columns_and_the_count(world):
    status, out = call(world.server.url + UI + "/runs-page", "POST", {
        "experiment_ids": [world.exp], "max_results": 5, "order_by": ["attributes.start_time DESC"],
        "columns": {"params": ["lr", "missing"], "metrics": ["loss"], "tags": ["team"]}})
    assert status == 200, out
    assert out["count"] == 11  # run 0 is deleted
    assert [r["info"]["run_name"] for r in out["runs"]] == ["run-11", "run-10", "run-09", "run-08", "run-07"]
    first = out["runs"][0]
    assert first["params"] == {"lr": "11"}
    assert first["metrics"] == {"loss": pytest.approx(1 / 12)}
    assert first["tags"] == {"team": "b"}
    assert set(first) == {"info", "params", "metrics", "tags"}
    assert first["info"]["run_id"] == world.runs[11]
    assert out["next_page_token"]


def test_runs_page_pages_through_every_run_once(world):
    seen, token = [], None
    for _ in range(10):
        body: dict[str, Any] = {"experiment_ids": [world.exp], "max_results": 4, "order_by": ["params.lr ASC"]}
        if token:
            body["page_token"] = token
        status, out = call(world.server.url + UI + "/runs-page", "POST", body)
        assert status == 200, out
        seen += [r["info"]["run_id"] for r in out["runs"]]
        assert out["runs"][0]["params"] == {} and out["count"] == 11
        token = out.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == sorted(world.runs[1:])


def test_runs_page_filter_view_type_and_start_time_after(world):
    url = world.server.url + UI + "/runs-page"
    status, out = call(url, "POST", {"experiment_ids": [world.exp], "filter": "tags.team = 'a'",
                                     "run_view_type": "ALL", "columns": {"tags": ["team"]}})
    assert status == 200 and out["count"] == 6
    assert {r["tags"]["team"] for r in out["runs"]} == {"a"}
    status, out = call(url, "POST", {"experiment_ids": [world.exp], "filter": "tags.team = 'a'",
                                     "start_time_after": 1_003_000})
    assert status == 200 and out["count"] == 2  # runs 4 and 5 (started at 1_004_000 and 1_005_000)
    status, out = call(url, "POST", {"experiment_ids": [world.exp], "start_time_after": 1_010_000})
    assert [r["info"]["run_name"] for r in out["runs"]] == ["run-11"] and out["count"] == 1
    status, out = call(url, "POST", {"experiment_ids": [world.exp, world.other], "run_view_type": "DELETED_ONLY"})
    assert [r["info"]["run_id"] for r in out["runs"]] == [world.runs[0]] and out["count"] == 1


@pytest.mark.parametrize(("body", "fragment"), [
    ({"experiment_ids": ["1"], "filter": "params.lr = "}, ""),
    ({"experiment_ids": ["1"], "max_results": 0}, "max_results"),
    ({"experiment_ids": ["1"], "max_results": 100_000}, "max_results"),
    ({"experiment_ids": ["1"], "columns": {"params": [{"a": 1}]}}, "columns.params"),
    ({"experiment_ids": ["1"], "filter": "x" * 20_000}, "limit"),
])
def test_runs_page_refuses_bad_requests(world, body, fragment):
    status, out = call(world.server.url + UI + "/runs-page", "POST", body)
    assert status == 400 and out["error_code"] == "INVALID_PARAMETER_VALUE", out
    assert fragment in out["message"]


def test_runs_page_takes_a_single_column_name_as_a_list(world):
    status, out = call(world.server.url + UI + "/runs-page", "POST",
                       {"experiment_ids": [world.exp], "max_results": 1, "columns": {"params": "lr"}})
    assert status == 200 and out["runs"][0]["params"] == {"lr": "11"}


def test_ui_endpoints_live_only_under_ajax_api(world):
    status, out = call(world.server.url + "/api/2.0/fluvial/ui/runs-page", "POST", {"experiment_ids": [world.exp]})
    assert status == 404 and out["error_code"] == "ENDPOINT_NOT_FOUND"
    status, out = call(world.server.url + "/ajax-api/2.0/mlflow/ui/runs-page", "POST", {"experiment_ids": [world.exp]})
    assert status == 404


# ---- compare -----------------------------------------------------------------------------------------
def test_compare_returns_whole_runs_and_the_union_of_keys_in_one_request(world):
    ids = [*world.runs[1:5], world.runs[0], "0" * 32, world.runs[1]]
    status, out = call(world.server.url + UI + "/compare", "POST", {"run_ids": ids})
    assert status == 200, out
    assert [r["info"]["run_id"] for r in out["runs"]] == [*world.runs[1:5], world.runs[0]]  # asked order, once
    assert out["param_keys"] == ["depth", "lr", "odd"] and out["metric_keys"] == ["acc", "loss"]
    assert out["missing_run_ids"] == ["0" * 32]
    run1 = out["runs"][0]
    assert {p["key"] for p in run1["data"]["params"]} == {"depth", "lr", "odd"}
    assert run1["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"
    status, again = call(world.server.url + UI + "/compare", "GET", query=[("run_ids", r) for r in world.runs[1:5]])
    assert status == 200 and [r["info"]["run_id"] for r in again["runs"]] == world.runs[1:5]


def test_compare_limits(world):
    status, out = call(world.server.url + UI + "/compare", "POST", {"run_ids": []})
    assert status == 400 and "run_ids" in out["message"]
    status, out = call(world.server.url + UI + "/compare", "POST", {"run_ids": [f"{i:032x}" for i in range(1001)]})
    assert status == 400 and "1000" in out["message"]
    status, out = call(world.server.url + UI + "/compare", "POST", {"run_ids": [f"{i:032x}" for i in range(1000)]})
    assert status == 200 and out["runs"] == [] and len(out["missing_run_ids"]) == 1000


# ---- columns -----------------------------------------------------------------------------------------
def test_columns_lists_the_keys_of_the_experiments_runs(world):
    status, out = call(world.server.url + UI + "/columns", query=[("experiment_ids", world.exp)])
    assert status == 200, out
    assert out["params"] == ["depth", "lr", "odd"]
    assert out["metrics"] == ["acc", "loss"]
    assert "team" in out["tags"] and "mlflow.runName" in out["tags"]
    status, both = call(world.server.url + UI + "/columns", query=[("experiment_ids", world.exp),
                                                                    ("experiment_ids", world.other)])
    assert both["params"] == ["depth", "lr", "odd", "only_other"]
    status, none = call(world.server.url + UI + "/columns", query=[("experiment_ids", "424242"),
                                                                    ("experiment_ids", "not-a-number")])
    assert status == 200 and none == {"params": [], "metrics": [], "tags": []}
    status, out = call(world.server.url + UI + "/columns")
    assert status == 400 and "experiment_ids" in out["message"]


# ---- MLflow's UI-side JSON routes ----------------------------------------------------------------------
def test_search_datasets_as_mlflow_answers(world):
    status, out = call(world.server.url + AJAX + "/experiments/search-datasets", "POST",
                       {"experiment_ids": [world.exp]})
    assert status == 200, out
    got = sorted(out["dataset_summaries"], key=lambda d: d.get("context", ""))
    assert got == [
        {"experiment_id": world.exp, "name": "iris", "digest": "d1g"},
        {"experiment_id": world.exp, "name": "iris", "digest": "d1g", "context": "eval"},
        {"experiment_id": world.exp, "name": "iris", "digest": "d1g", "context": "training"},
    ]
    assert call(world.server.url + AJAX + "/experiments/search-datasets", "POST",
                {"experiment_ids": [world.other]}) == (200, {})
    status, out = call(world.server.url + AJAX + "/experiments/search-datasets", "POST", {"experiment_ids": []})
    assert status == 400 and "at least one experiment_id" in out["message"]
    status, out = call(world.server.url + AJAX + "/experiments/search-datasets", "POST",
                       {"experiment_ids": [str(i) for i in range(21)]})
    assert status == 400 and "more than 20" in out["message"]
    status, _ = call(world.server.url + "/api/2.0/mlflow/experiments/search-datasets", "POST",
                     {"experiment_ids": [world.exp]})
    assert status == 404  # MLflow serves it under /ajax-api only


def _interval(world: World, query: list[tuple[str, str]]) -> tuple[int, Any]:
    return call(world.server.url + AJAX + "/metrics/get-history-bulk-interval", query=query)


def test_bulk_interval_samples_steps_like_mlflow(world):
    status, out = _interval(world, [("run_ids", world.curve), ("run_ids", world.runs[6]), ("metric_key", "loss"),
                                    ("max_results", "50")])
    assert status == 200, out
    by_run: dict[str, list[int]] = {}
    for m in out["metrics"]:
        by_run.setdefault(m["run_id"], []).append(m["step"])
    assert list(by_run) == [world.curve, world.runs[6]]  # the order asked
    curve_steps = by_run[world.curve]
    assert curve_steps == sorted(curve_steps) and min(curve_steps) >= 0  # MLflow's default range starts at 0
    assert 50 <= len(curve_steps) <= 53
    assert by_run[world.runs[6]][0] == 0 and by_run[world.runs[6]][-1] == 697  # each run's first and last
    status, ranged = _interval(world, [("run_ids", world.curve), ("metric_key", "loss"), ("start_step", "-5"),
                                       ("end_step", "30"), ("max_results", "2500")])
    assert status == 200
    assert all(-5 <= m["step"] <= 30 for m in ranged["metrics"]) and ranged["metrics"]


@pytest.mark.parametrize(("query", "fragment"), [
    ([("metric_key", "loss")], "run_ids"),
    ([("run_ids", "x"), ("metric_key", "loss"), ("start_step", "3")], "both must be specified"),
    ([("run_ids", "x"), ("metric_key", "loss"), ("start_step", "3"), ("end_step", "1")], "greater than"),
    ([("run_ids", "x"), ("metric_key", "loss"), ("max_results", "2501")], "between 1 and 2500"),
    ([("run_ids", "x"), ("metric_key", "loss"), ("max_results", "0")], "between 1 and 2500"),
    ([("run_ids", str(i)) for i in range(101)] + [("metric_key", "loss")], "at most 100"),
    ([("run_ids", "x")], "metric_key"),
])
def test_bulk_interval_refuses_bad_requests(world, query, fragment):
    status, out = _interval(world, query)
    assert status == 400 and out["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in out["message"]


# ---- the SQL store's fast reads agree with the generic ones -------------------------------------------
@pytest.fixture(scope="module")
def store(world) -> SqlTrackingStore:
    return SqlTrackingStore(world.server.backend_store_uri)


@pytest.mark.parametrize(("start", "end", "max_results"), [
    (None, None, 1), (None, None, 7), (None, None, 100), (None, None, 2500), (0, 0, 5), (-5, 30, 4),
    (150, 160, 2500), (10, 15_000, 333), (19_990, 50_000, 2),
])
def test_sql_bulk_interval_matches_the_generic_one(world, store, start, end, max_results):
    ids = [world.curve, world.runs[6], world.runs[2], "f" * 32]
    fast = store.get_metric_history_bulk_interval(ids, "loss", start, end, max_results)
    generic = TrackingStore.get_metric_history_bulk_interval(store, ids[:3], "loss", start, end, max_results)
    assert [(r, m.step, m.value) for r, m in fast] == [(r, m.step, m.value) for r, m in generic]


def test_sampled_steps_follow_mlflows_positions():
    steps = list(range(0, 1000, 3))  # 334 steps
    chosen = sampled_steps(steps, 10)
    assert chosen == {steps[int(i * 334 / 10)] for i in range(10)} | {steps[-1]}
    assert sampled_steps(steps[:5], 10) == set(steps[:5])


def test_sql_column_keys_and_datasets_match_the_generic_ones(world, store):
    for ids in ([world.exp], [world.exp, world.other], [world.other]):
        assert store.run_column_keys(ids) == TrackingStore.run_column_keys(store, ids)
        assert sorted(store.search_datasets(ids), key=repr) == sorted(TrackingStore.search_datasets(store, ids), key=repr)
    assert store.run_column_keys([world.exp], limit=2)["params"] == ["depth", "lr"]
    ids = list(reversed(world.runs))
    assert [r.info.run_id for r in store.get_runs([*ids, "nope"])] == [
        r.info.run_id for r in TrackingStore.get_runs(store, ids)] == ids
