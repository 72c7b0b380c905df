"""The tracking store contract, run against every SQL backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import math

import pytest

from fluvial.entities import (
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    RunTag,
    ViewType,
)
from fluvial.exceptions import (
    BadRequest,
    InvalidParameterValue,
    InvalidState,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)


def _run(store, experiment_id="0", name=None, tags=()):
    return store.create_run(experiment_id, "alice", 1_700_000_000_000, list(tags), name)


def _snapshot(store, run_id):
    run = store.get_run(run_id)
    return (
        run.info,
        sorted(run.data.params.items()),
        sorted(run.data.tags.items()),
        sorted((m.key, m.step, m.timestamp, repr(m.value)) for m in run.data.metric_list),
    )


# ---- experiments ---------------------------------------------------------------------------------
def test_default_experiment_exists(store, tmp_path):
    exp = store.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == LifecycleStage.ACTIVE
    assert exp.artifact_location == str(tmp_path / "artifacts" / "0")


def test_create_and_get_experiment(store, tmp_path):
    exp_id = store.create_experiment("churn", tags=[ExperimentTag("team", "growth")])
    assert exp_id == "1"
    exp = store.get_experiment(exp_id)
    assert (exp.name, exp.tags, exp.artifact_location) == ("churn", {"team": "growth"}, str(tmp_path / "artifacts" / "1"))
    assert exp.creation_time and exp.last_update_time
    assert store.get_experiment_by_name("churn").experiment_id == exp_id
    assert store.get_experiment_by_name("nope") is None
    custom = store.create_experiment("custom", artifact_location="s3://bucket/path")
    assert store.get_experiment(custom).artifact_location == "s3://bucket/path"


def test_experiment_name_unique_even_when_deleted(store):
    exp_id = store.create_experiment("x")
    with pytest.raises(ResourceAlreadyExists) as err:
        store.create_experiment("x")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS" and err.value.http_status == 400
    store.delete_experiment(exp_id)
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("x")


@pytest.mark.parametrize("name", ["", None, "x" * 501])
def test_bad_experiment_names(store, name):
    with pytest.raises(InvalidParameterValue):
        store.create_experiment(name)
    assert [e.name for e in store.search_experiments(ViewType.ALL)] == ["Default"]


def test_unknown_experiment(store):
    for call in (store.get_experiment, store.delete_experiment, store.restore_experiment):
        with pytest.raises(ResourceDoesNotExist):
            call("999")
    with pytest.raises(ResourceDoesNotExist):
        store.get_experiment("not-a-number")


def test_delete_restore_experiment_cascades_to_runs(store):
    exp_id = store.create_experiment("e")
    run = _run(store, exp_id)
    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert store.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment(exp_id)  # already deleted
    with pytest.raises(InvalidParameterValue):
        _run(store, exp_id)  # no runs in a deleted experiment
    store.restore_experiment(exp_id)
    assert store.get_run(run.info.run_id).info.lifecycle_stage == "active"
    with pytest.raises(ResourceDoesNotExist):
        store.restore_experiment(exp_id)  # already active


def test_rename_experiment(store):
    a = store.create_experiment("a")
    store.create_experiment("b")
    store.rename_experiment(a, "a2")
    assert store.get_experiment(a).name == "a2"
    with pytest.raises(BadRequest):
        store.rename_experiment(a, "b")
    store.delete_experiment(a)
    with pytest.raises(InvalidState):
        store.rename_experiment(a, "a3")
    assert store.get_experiment(a).name == "a2"


def test_experiment_tags(store):
    exp_id = store.create_experiment("t")
    store.set_experiment_tag(exp_id, ExperimentTag("k", "v1"))
    store.set_experiment_tag(exp_id, ExperimentTag("k", "v2"))
    assert store.get_experiment(exp_id).tags == {"k": "v2"}
    with pytest.raises(InvalidParameterValue):
        store.set_experiment_tag(exp_id, ExperimentTag("k", "x" * 5001))
    with pytest.raises(InvalidParameterValue):
        store.set_experiment_tag(exp_id, ExperimentTag("../k", "v"))
    assert store.get_experiment(exp_id).tags == {"k": "v2"}


def test_search_experiments(store):
    for name in ("alpha", "beta", "gamma"):
        store.create_experiment(name)
    store.set_experiment_tag(store.get_experiment_by_name("beta").experiment_id, ExperimentTag("k", "v"))
    store.delete_experiment(store.get_experiment_by_name("gamma").experiment_id)
    names = [e.name for e in store.search_experiments()]
    assert names == ["beta", "alpha", "Default"] or set(names) == {"alpha", "beta", "Default"}
    assert [e.name for e in store.search_experiments(ViewType.DELETED_ONLY)] == ["gamma"]
    assert [e.name for e in store.search_experiments(filter_string="name LIKE 'a%'")] == ["alpha"]
    assert [e.name for e in store.search_experiments(filter_string="tags.k = 'v'")] == ["beta"]
    assert [e.name for e in store.search_experiments(order_by=["name ASC"])] == ["Default", "alpha", "beta"]
    page1 = store.search_experiments(max_results=2, order_by=["name"])
    assert [e.name for e in page1] == ["Default", "alpha"] and page1.token
    page2 = store.search_experiments(max_results=2, order_by=["name"], page_token=page1.token)
    assert [e.name for e in page2] == ["beta"] and page2.token is None
    with pytest.raises(InvalidParameterValue):
        store.search_experiments(max_results=0)
    with pytest.raises(InvalidParameterValue):
        store.search_experiments(filter_string="params.x = 'y'")
    with pytest.raises(InvalidParameterValue):
        store.search_experiments(page_token="garbage!")


# ---- runs ----------------------------------------------------------------------------------------
def test_create_run(store, tmp_path):
    run = _run(store, name="rf-1", tags=[RunTag("team", "growth")])
    info = run.info
    assert len(info.run_id) == 32 and info.run_id == info.run_id.lower()
    assert (info.run_name, info.user_id, info.status, info.lifecycle_stage) == ("rf-1", "alice", "RUNNING", "active")
    assert info.start_time == 1_700_000_000_000 and info.end_time is None
    assert info.artifact_uri == str(tmp_path / "artifacts" / "0" / info.run_id / "artifacts")
    assert run.data.tags == {"team": "growth", "mlflow.runName": "rf-1"}


def test_run_name_generated_and_conflict(store):
    generated = _run(store).info.run_name
    adjective, noun, number = generated.split("-")
    assert adjective and noun and 0 <= int(number) <= 999
    assert _run(store, tags=[RunTag("mlflow.runName", "from-tag")]).info.run_name == "from-tag"
    with pytest.raises(InvalidParameterValue):
        _run(store, name="a", tags=[RunTag("mlflow.runName", "b")])


def test_create_run_unknown_experiment(store):
    with pytest.raises(ResourceDoesNotExist):
        _run(store, "12345")


def test_get_unknown_run(store):
    with pytest.raises(ResourceDoesNotExist) as err:
        store.get_run("0" * 32)
    assert err.value.http_status == 404


def test_update_run_info(store):
    run_id = _run(store).info.run_id
    info = store.update_run_info(run_id, "FINISHED", 1_700_000_001_000, "renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 1_700_000_001_000, "renamed")
    assert store.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    with pytest.raises(InvalidParameterValue):
        store.update_run_info(run_id, "DONE", None, None)
    store.delete_run(run_id)
    with pytest.raises(InvalidParameterValue):
        store.update_run_info(run_id, "FAILED", None, None)


def test_delete_restore_run(store):
    run_id = _run(store).info.run_id
    store.delete_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "deleted"
    store.restore_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "active"
    with pytest.raises(ResourceDoesNotExist):
        store.delete_run("f" * 32)


def test_deleted_run_ids_and_hard_delete(sql_store):
    store = sql_store
    exp_id = store.create_experiment("gone")
    run_id = _run(store, exp_id).info.run_id
    store.log_batch(run_id, [Metric("m", 1.0, 1, 0)], [Param("p", "v")], [RunTag("t", "v")])
    store.delete_run(run_id)
    assert store.deleted_run_ids() == [run_id]
    assert store.deleted_run_ids(older_than_ms=3_600_000) == []
    store.hard_delete_run(run_id)
    with pytest.raises(ResourceDoesNotExist):
        store.get_run(run_id)
    store.hard_delete_experiment(exp_id)
    with pytest.raises(ResourceDoesNotExist):
        store.get_experiment(exp_id)


def test_create_run_with_a_chosen_id(sql_store):
    """fluvial-only: ``create_run(..., run_id=)`` keeps an id (imports); a taken or malformed id is refused
    and nothing is written."""
    store = sql_store
    exp_id = store.create_experiment("chosen-ids")
    run = store.create_run(exp_id, "u", 5, [RunTag("t", "v")], "named", run_id="a" * 32)
    assert run.info.run_id == "a" * 32 and run.info.run_name == "named"
    assert run.info.artifact_uri.endswith("/" + "a" * 32 + "/artifacts")
    assert store.get_run("a" * 32).data.tags["t"] == "v"
    with pytest.raises(ResourceAlreadyExists, match="already exists") as taken:
        store.create_run(exp_id, "other", 6, [], "again", run_id="a" * 32)
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(InvalidParameterValue, match="Invalid run ID"):
        store.create_run(exp_id, "u", 7, [], "bad", run_id="../escape")
    found = store.search_runs([exp_id], run_view_type=3)
    assert [r.info.run_id for r in found] == ["a" * 32] and found[0].info.user_id == "u"


def test_gc_is_refused_over_rest_with_a_clear_message():
    from fluvial.exceptions import NotImplementedFeature
    from fluvial.store.tracking.rest import RestTrackingStore

    rest = RestTrackingStore("http://127.0.0.1:9")
    with pytest.raises(NotImplementedFeature, match="--backend-store-uri"):
        rest.deleted_run_ids()


# ---- params --------------------------------------------------------------------------------------
def test_params_write_once(store):
    run_id = _run(store).info.run_id
    store.log_param(run_id, Param("n", "100"))
    store.log_param(run_id, Param("n", "100"))  # same value: no-op
    with pytest.raises(InvalidParameterValue) as err:
        store.log_param(run_id, Param("n", "200"))
    assert "Changing param values is not allowed" in err.value.message
    assert store.get_run(run_id).data.params == {"n": "100"}


def test_param_value_truncated(store, monkeypatch):
    run_id = _run(store).info.run_id
    store.log_param(run_id, Param("long", "x" * 7000))
    assert store.get_run(run_id).data.params["long"] == "x" * 6000
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    with pytest.raises(InvalidParameterValue):
        store.log_param(run_id, Param("long2", "x" * 7000))
    assert "long2" not in store.get_run(run_id).data.params


@pytest.mark.parametrize("key", ["", "a//b", "./a", "a/../b", "/a", "../x", "bad!char", "k" * 251, "."])
def test_bad_keys_rejected_and_nothing_stored(store, key):
    run_id = _run(store).info.run_id
    before = _snapshot(store, run_id)
    for call in (
        lambda: store.log_param(run_id, Param(key, "v")),
        lambda: store.set_tag(run_id, RunTag(key, "v")),
        lambda: store.log_metric(run_id, Metric(key, 1.0, 1, 0)),
    ):
        with pytest.raises(InvalidParameterValue):
            call()
    assert _snapshot(store, run_id) == before


def test_allowed_key_characters(store):
    run_id = _run(store).info.run_id
    store.log_param(run_id, Param("a-b_c.d e/f:g", "ok"))
    assert store.get_run(run_id).data.params == {"a-b_c.d e/f:g": "ok"}


# ---- tags ----------------------------------------------------------------------------------------
def test_tags_upsert_delete_and_run_name_sync(store):
    run_id = _run(store).info.run_id
    store.set_tag(run_id, RunTag("t", "1"))
    store.set_tag(run_id, RunTag("t", "2"))
    assert store.get_run(run_id).data.tags["t"] == "2"
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag(run_id, "t")
    store.set_tag(run_id, RunTag("mlflow.runName", "new-name"))
    assert store.get_run(run_id).info.run_name == "new-name"
    store.set_tag(run_id, RunTag("long", "y" * 9000))
    assert len(store.get_run(run_id).data.tags["long"]) == 8000


# ---- metrics -------------------------------------------------------------------------------------
def test_metrics_history_and_latest_rule(store):
    run_id = _run(store).info.run_id
    store.log_metric(run_id, Metric("loss", 0.5, 100, 1))
    store.log_metric(run_id, Metric("loss", 0.4, 50, 2))  # higher step wins over later timestamp
    store.log_metric(run_id, Metric("loss", 0.9, 200, 0))
    store.log_metric(run_id, Metric("loss", 0.4, 50, 2))  # identical point: idempotent
    assert store.get_run(run_id).data.metrics == {"loss": 0.4}
    history = store.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.4)]
    assert list(store.get_metric_history(run_id, "missing")) == []
    # same step, later timestamp wins; same step and timestamp, bigger value wins
    store.log_metric(run_id, Metric("acc", 0.1, 10, 5))
    store.log_metric(run_id, Metric("acc", 0.2, 11, 5))
    store.log_metric(run_id, Metric("acc", 0.15, 11, 5))
    assert store.get_run(run_id).data.metrics["acc"] == 0.2


def test_metric_nan_and_inf(store):
    run_id = _run(store).info.run_id
    store.log_metric(run_id, Metric("x", 1.0, 1, 0))
    store.log_metric(run_id, Metric("x", math.nan, 1, 1))
    store.log_metric(run_id, Metric("up", math.inf, 1, 0))
    store.log_metric(run_id, Metric("down", -math.inf, 1, 0))
    metrics = store.get_run(run_id).data.metrics
    assert math.isnan(metrics["x"])  # NaN at a higher step is the latest
    assert metrics["up"] == 1.7976931348623157e308 and metrics["down"] == -1.7976931348623157e308
    history = store.get_metric_history(run_id, "x")
    assert history[0].value == 1.0 and math.isnan(history[1].value)


@pytest.mark.parametrize(
    "metric",
    [Metric("m", "abc", 1, 0), Metric("m", True, 1, 0), Metric("m", 1.0, -1, 0), Metric("m", 1.0, 1, "x")],
)
def test_bad_metric_values(store, metric):
    run_id = _run(store).info.run_id
    with pytest.raises(InvalidParameterValue):
        store.log_metric(run_id, metric)
    assert store.get_run(run_id).data.metrics == {}


def test_metric_history_pagination(store):
    run_id = _run(store).info.run_id
    store.log_batch(run_id, [Metric("m", float(i), i, i) for i in range(25)], [], [])
    page = store.get_metric_history(run_id, "m", max_results=10)
    assert len(page) == 10 and page.token
    rest = store.get_metric_history(run_id, "m", max_results=100, page_token=page.token)
    assert [m.step for m in rest] == list(range(10, 25)) and rest.token is None


# ---- batches -------------------------------------------------------------------------------------
def test_log_batch(store):
    run_id = _run(store).info.run_id
    store.log_batch(
        run_id,
        [Metric("a", 1.0, 1, 0), Metric("a", 2.0, 2, 1), Metric("b", 3.0, 1, 0)],
        [Param("p", "1"), Param("q", "2")],
        [RunTag("t", "x")],
    )
    run = store.get_run(run_id)
    assert run.data.metrics == {"a": 2.0, "b": 3.0}
    assert run.data.params == {"p": "1", "q": "2"}
    assert run.data.tags["t"] == "x"


def test_log_batch_limits(store):
    run_id = _run(store).info.run_id
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, [Metric("m", 1.0, 1, i) for i in range(1001)], [], [])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, [], [Param(f"p{i}", "v") for i in range(101)], [])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, [], [], [RunTag(f"t{i}", "v") for i in range(101)])
    with pytest.raises(InvalidParameterValue) as err:
        store.log_batch(run_id, [], [Param("x", "1"), Param("x", "2")], [])
    assert "Duplicate parameter keys" in err.value.message
    assert store.get_metric_history(run_id, "m") == []


def test_log_batch_is_all_or_nothing(store):
    run_id = _run(store).info.run_id
    store.log_param(run_id, Param("fixed", "1"))
    before = _snapshot(store, run_id)
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, [Metric("ok", 1.0, 1, 0)], [Param("new", "v"), Param("fixed", "2")], [RunTag("t", "v")])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, [Metric("ok", 1.0, 1, 0), Metric("bad", "x", 1, 0)], [], [])
    assert _snapshot(store, run_id) == before


def test_experiment_tag_delete(store):
    exp_id = store.create_experiment("tags")
    store.set_experiment_tag(exp_id, ExperimentTag("k", "v"))
    store.delete_experiment_tag(exp_id, "k")
    assert store.get_experiment(exp_id).tags == {}
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment_tag(exp_id, "k")


def test_log_batch_unbounded_has_no_request_limits(store):
    run_id = _run(store).info.run_id
    store.log_batch_unbounded(run_id, [Metric("m", float(i), i, i) for i in range(5000)], [], [])
    assert len(store.get_metric_history(run_id, "m")) == 5000
    with pytest.raises(InvalidParameterValue):
        store.log_batch_unbounded(run_id, [Metric("n", float(i), i, i) for i in range(3000)] + [Metric("", 1.0, 1, 0)], [], [])
    assert store.get_metric_history(run_id, "n") == []


def test_logging_to_deleted_run_fails(store):
    run_id = _run(store).info.run_id
    store.delete_run(run_id)
    before = _snapshot(store, run_id)
    for call in (
        lambda: store.log_metric(run_id, Metric("m", 1.0, 1, 0)),
        lambda: store.log_param(run_id, Param("p", "v")),
        lambda: store.set_tag(run_id, RunTag("t", "v")),
        lambda: store.log_batch(run_id, [], [Param("p", "v")], []),
    ):
        with pytest.raises(InvalidParameterValue) as err:
            call()
        assert "must be in the 'active' state" in err.value.message
    assert _snapshot(store, run_id) == before


def test_logging_to_missing_run_fails(store):
    with pytest.raises(ResourceDoesNotExist):
        store.log_metric("a" * 32, Metric("m", 1.0, 1, 0))


def test_logging_to_finished_run_is_allowed(store):
    # MLflow only refuses deleted runs; a FINISHED run still takes late metrics.
    run_id = _run(store).info.run_id
    store.update_run_info(run_id, "FINISHED", 1, None)
    store.log_metric(run_id, Metric("late", 1.0, 1, 0))
    assert store.get_run(run_id).data.metrics == {"late": 1.0}


# ---- inputs --------------------------------------------------------------------------------------
def test_log_inputs_dedup_per_experiment(store):
    exp_id = store.create_experiment("ds")
    r1, r2 = _run(store, exp_id).info.run_id, _run(store, exp_id).info.run_id
    ds = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}', '{"cols": 4}', '{"rows": 150}')
    di = DatasetInput(ds, (InputTag("mlflow.data.context", "train"),))
    store.log_inputs(r1, [di])
    store.log_inputs(r1, [di])  # same link again: no duplicate
    store.log_inputs(r2, [di])
    inputs = store.get_run(r1).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset == ds and list(inputs[0].tags) == [InputTag("mlflow.data.context", "train")]
    with pytest.raises(InvalidParameterValue):
        store.log_inputs(r1, [DatasetInput(Dataset("", "d", "local", "s"))])
    with pytest.raises(InvalidParameterValue):
        store.log_inputs(r1, [DatasetInput(Dataset("n", "d" * 37, "local", "s"))])


def test_record_logged_model(store):
    import json

    run_id = _run(store).info.run_id
    for path in ("model", "model2"):
        store.record_logged_model(run_id, {"artifact_path": path, "flavors": {"python_function": {}}, "run_id": run_id,
                                           "utc_time_created": "2026-11-26 00:00:00.000000", "model_uuid": "u"})
    history = json.loads(store.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "model2"]


# ---- search --------------------------------------------------------------------------------------
def test_search_runs_filter_order_and_pages(store):
    exp_id = store.create_experiment("s")
    ids = []
    for i in range(7):
        run_id = _run(store, exp_id, name=f"r{i}").info.run_id
        store.log_batch(run_id, [Metric("acc", i / 10, 1, 0)], [Param("model", "rf" if i % 2 else "lr")], [])
        ids.append(run_id)
    found = store.search_runs([exp_id], "metrics.acc > 0.2 AND params.model = 'rf'", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["r5", "r3"]
    assert found[0].data.params == {"model": "rf"}
    page = store.search_runs([exp_id], max_results=3, order_by=["attributes.run_name ASC"])
    seen = [r.info.run_name for r in page]
    for _ in range(10):
        if not page.token:
            break
        page = store.search_runs([exp_id], max_results=3, order_by=["attributes.run_name ASC"], page_token=page.token)
        seen += [r.info.run_name for r in page]
    assert seen == [f"r{i}" for i in range(7)]
    store.delete_run(ids[0])
    assert len(store.search_runs([exp_id])) == 6
    assert [r.info.run_id for r in store.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)] == [ids[0]]
    assert len(store.search_runs([exp_id], run_view_type=ViewType.ALL)) == 7
    assert store.search_runs([]) == []


def test_search_runs_param_quoting_rules(store):
    run_id = _run(store).info.run_id
    store.log_param(run_id, Param("x", "100"))
    assert [r.info.run_id for r in store.search_runs(["0"], "params.x = '100'")] == [run_id]
    with pytest.raises(InvalidParameterValue):
        store.search_runs(["0"], "params.x = 100")


@pytest.mark.parametrize(
    "bad",
    ["metrics.acc > 0.6 OR params.lr = '0.01'", "(metrics.a > 1)", "status = FINISHED", "foo.bar = 'x'",
     "metrics.acc LIKE 1", "attributes.nope = 'x'"],
)
def test_search_runs_bad_filters(store, bad):
    with pytest.raises(InvalidParameterValue):
        store.search_runs(["0"], bad)


def test_search_runs_max_results_limit(store):
    with pytest.raises(InvalidParameterValue):
        store.search_runs(["0"], max_results=50001)
    with pytest.raises(MlflowException):
        store.search_runs(["0"], page_token="%%%")
