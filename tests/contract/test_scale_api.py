"""fluvial-only store extensions (count_runs, get_metric_history_reduced), on SQLite and PostgreSQL,
directly and over REST; plus the routes themselves (GET query strings, POST bodies, both prefixes)."""

from __future__ import annotations

import json
import math
import random

import pytest

from fluvial.entities import Metric, Param, RunTag, ViewType
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.search import parse_filter
from fluvial.search.downsample import reduce_points
from fluvial.store.tracking.base import TrackingStore


def _run(store, exp_id="0", name=None):
    return store.create_run(exp_id, "alice", 1_700_000_000_000, [], name).info.run_id


def test_count_runs_matches_search(store):
    exp = store.create_experiment("counted")
    other = store.create_experiment("other")
    ids = []
    for i in range(9):
        run_id = _run(store, exp if i < 7 else other, f"run-{i}")
        store.log_batch(run_id, [Metric("acc", i / 10, 1, 0)], [Param("model", "rf" if i % 2 else "lr")],
                        [RunTag("team", f"t{i % 3}")])
        ids.append(run_id)
    store.delete_run(ids[0])
    cases = [
        ([exp], "", ViewType.ACTIVE_ONLY),
        ([exp], "", ViewType.ALL),
        ([exp], "", ViewType.DELETED_ONLY),
        ([exp, other], "params.model = 'rf'", ViewType.ACTIVE_ONLY),
        ([exp, other], "metrics.acc > 0.25 AND tags.team != 't0'", ViewType.ALL),
        ([exp], "attributes.run_name LIKE 'run-1%'", ViewType.ACTIVE_ONLY),
        ([], "", ViewType.ALL),
    ]
    for exp_ids, filt, view in cases:
        expected = len(store.search_runs(exp_ids, filt, view, max_results=1000))
        assert store.count_runs(exp_ids, filt, view) == expected, (exp_ids, filt, view)
        assert TrackingStore.count_runs(store, exp_ids, filt, view) == expected  # the ABC's default
    assert store.count_runs([exp]) == 6 and store.count_runs([exp, other], "", ViewType.ALL) == 9
    with pytest.raises(InvalidParameterValue):
        store.count_runs([exp], "metrics.acc >>> 1")


def _history(store, run_id, n, seed=7):
    rng = random.Random(seed)
    points = []
    for i in range(n):
        value = rng.gauss(0, 1)
        if i % 97 == 5:
            value = math.nan
        elif i == n // 2:
            value = 1e6  # a spike the downsample must keep
        points.append(Metric("loss", value, 1_000 + 3 * i + rng.randrange(3), i // 2))  # 2 points per step
    store.log_batch(run_id, points, [], [])
    return points


def _same(a, b):
    return [(m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value) for m in a] == [
        (m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value) for m in b
    ]


def test_metric_history_reduced(store):
    run_id = _run(store)
    points = _history(store, run_id, 900)
    full, reduced, total = store.get_metric_history_reduced(run_id, "loss", max_points=1000)
    assert not reduced and total == 900 and len(full) == 900
    assert _same(full, reduce_points(points, "step", None, None, 1000)[0])
    cases = [("step", None, None, 100), ("step", 100.5, 300, 40), ("timestamp", 1500, None, 64),
             ("timestamp", None, 2000.7, 2), ("step", 10, 10, 2), ("step", 5000, None, 10)]
    for x_axis, start, end, max_points in cases:
        got, reduced, total = store.get_metric_history_reduced(
            run_id, "loss", x_axis=x_axis, start=start, end=end, max_points=max_points)
        want, want_reduced, want_total = reduce_points(points, x_axis, start, end, max_points)
        assert (reduced, total) == (want_reduced, want_total), (x_axis, start, end)
        assert _same(got, want), (x_axis, start, end, max_points)
        if reduced:
            assert len(got) <= max_points
    got, reduced, _ = store.get_metric_history_reduced(run_id, "loss", max_points=100)
    assert reduced and 1e6 in [m.value for m in got]
    assert store.get_metric_history_reduced(run_id, "nope") == ([], False, 0)


def test_metric_history_reduced_bad_input(store):
    run_id = _run(store)
    for kwargs in ({"x_axis": "wall"}, {"max_points": 1}, {"max_points": 0}, {"start": 5, "end": 1}):
        with pytest.raises(InvalidParameterValue):
            store.get_metric_history_reduced(run_id, "loss", **kwargs)
    with pytest.raises(ResourceDoesNotExist):
        store.get_metric_history_reduced("f" * 32, "loss")


def test_metric_history_pages_are_keyset_and_old_tokens_work(store):
    from fluvial.search.paging import encode_page_token

    run_id = _run(store)
    points = _history(store, run_id, 300)
    want = reduce_points(points, "step", None, None, 1000)[0]
    seen, token = [], None
    for _ in range(100):
        page = store.get_metric_history(run_id, "loss", max_results=37, page_token=token)
        seen += list(page)
        token = page.token
        if not token:
            break
    assert _same(seen, want)
    old = store.get_metric_history(run_id, "loss", max_results=10, page_token=encode_page_token(290))
    assert _same(list(old), want[290:])
    with pytest.raises(InvalidParameterValue):
        store.get_metric_history(run_id, "loss", max_results=10, page_token="bm90IGpzb24=")


class _AppClient:
    """Requests to the app in this process through fluvial's own ASGI transport (no sockets)."""

    def __init__(self, transport) -> None:
        self.transport = transport

    def get(self, path: str, params: dict | None = None):
        from urllib.parse import urlencode

        from fluvial.transport.base import HttpRequest

        query = "?" + urlencode(params, doseq=True) if params else ""
        return self.transport.send(HttpRequest("GET", f"http://localhost{path}{query}"))

    def post(self, path: str, body: dict | str):
        from fluvial.transport.base import HttpRequest

        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        return self.transport.send(HttpRequest("POST", f"http://localhost{path}",
                                               {"content-type": "application/json"}, data))


@pytest.fixture
def app_client(sql_store, tmp_path):
    from fluvial.server.app import create_app
    from fluvial.server.config import ServerConfig, Stores
    from fluvial.transport.asgi import AsgiTransport

    config = ServerConfig(backend_store_uri=sql_store.db_uri, default_artifact_root=str(tmp_path / "a"),
                          serve_artifacts=False)
    transport = AsgiTransport(create_app(Stores(config=config, tracking=sql_store)))
    try:
        yield _AppClient(transport), sql_store
    finally:
        transport.close()


def test_routes_get_post_and_ajax_twin(app_client):
    client, store = app_client
    exp = store.create_experiment("routes")
    for i in range(3):
        store.log_param(_run(store, exp), Param("model", "rf" if i else "lr"))
    for prefix in ("/api/2.0/fluvial", "/ajax-api/2.0/fluvial"):
        r = client.get(f"{prefix}/runs/count", params={"experiment_ids": [exp, "0"], "filter": "params.model='rf'"})
        assert r.status == 200 and r.json() == {"count": 2}
        r = client.post(f"{prefix}/runs/count", {"experiment_ids": [exp], "run_view_type": "ALL"})
        assert r.status == 200 and r.json() == {"count": 3}
    run_id = _run(store, exp)
    store.log_batch(run_id, [Metric("m", float(i % 7), i, i) for i in range(50)], [], [])
    r = client.get("/ajax-api/2.0/fluvial/metrics/get-history-reduced",
                   params={"run_id": run_id, "metric_key": "m", "max_points": "10", "start": "0", "end": "49"})
    body = r.json()
    assert r.status == 200 and body["reduced"] is True and body["total"] == 50
    assert 0 < len(body["metrics"]) <= 10 and set(body["metrics"][0]) == {"key", "value", "timestamp", "step"}
    r = client.post("/api/2.0/fluvial/metrics/get-history-reduced",
                    {"run_id": run_id, "metric_key": "m", "x_axis": "minutes"})
    assert r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = client.get("/api/2.0/fluvial/runs/count", params={"experiment_ids": exp, "filter": "bad filter"})
    assert r.status == 400
    assert client.get("/api/2.0/mlflow/runs/count").status == 404  # never under mlflow/
    assert client.get("/api/2.0/fluvial/runs/nope").status == 404


def test_count_route_is_answered_by_the_run_snapshot(app_client, monkeypatch):
    """The UI's count (``/ajax-api/2.0/fluvial/runs/count``) goes through the run snapshot where the
    database keeps the change log (SQLite, PostgreSQL), and sees writes made after the snapshot was built."""
    from fluvial.store.tracking.sql import run_count, run_snapshot

    client, store = app_client
    if store.engine.dialect.name not in ("sqlite", "postgresql"):
        pytest.skip("the run snapshot serves SQLite and PostgreSQL")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT", "sync")
    monkeypatch.setenv("FLUVIAL_COUNT_SNAPSHOT_MIN_RUNS", "0")
    monkeypatch.setattr(run_count, "SELECTIVE_MAX", 0)  # tiny data: keep the snapshot in play
    exp = store.create_experiment("snapshot-route")
    for i in range(8):
        store.log_batch(_run(store, exp), [Metric("acc", i / 8, 1, 0)], [Param("model", "rf" if i % 2 else "lr")],
                        [RunTag("team", "ü" if i % 3 else "t")])
    filt = "params.model = 'rf' AND metrics.acc > 0.3 AND tags.team != 't'"
    expected = len(store.search_runs([exp], filt, ViewType.ACTIVE_ONLY, max_results=100))

    def count() -> int:
        r = client.get("/ajax-api/2.0/fluvial/runs/count", params={"experiment_ids": [exp], "filter": filt})
        assert r.status == 200
        return int(r.json()["count"])

    assert count() == expected == 2
    snap = run_snapshot.cache(store.engine).snapshots[int(exp)]  # built by the route's count
    assert {("param", "model"), ("metric", "acc"), ("tag", "team")} <= set(snap.columns)
    assert run_snapshot.count(store.engine, [int(exp)], ["active"], parse_filter(filt, "runs")) == expected
    run_id = _run(store, exp)
    store.log_batch(run_id, [Metric("acc", 0.9, 1, 0)], [Param("model", "rf")], [RunTag("team", "new")])
    assert count() == expected + 1
    assert run_snapshot.cache(store.engine).snapshots[int(exp)] is snap  # caught up from the log, not rebuilt
    assert snap.row(run_id) is not None


def test_client_extensions(tracking_uri):
    from fluvial.tracking.client import MlflowClient

    client = MlflowClient()
    run = client.create_run("0")
    for i in range(30):
        client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1), step=i)
    assert client.count_runs("0") == 1 and client.count_runs(["0"], "metrics.loss < 0") == 0
    points = client.get_metric_history_reduced(run.info.run_id, "loss", max_points=6)
    assert points[0].step == 0 and len(points) <= 6
    zoom = client.get_metric_history_reduced(run.info.run_id, "loss", start=10, end=14)
    assert [p.step for p in zoom] == [10, 11, 12, 13, 14]
