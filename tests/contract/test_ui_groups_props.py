"""The runs table's grouping over the whole result (``SqlTrackingStore.ui_groups`` behind
``/ajax-api/2.0/fluvial/ui/groups``) against a plain computation over the runs ``search_runs`` returns,
on randomized runs: params and tags missing on some runs, NaN and +-inf metrics, deleted runs, several
experiments, filters; SQLite and PostgreSQL (and MySQL when configured)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from fluvial.entities import Metric, Param, RunTag, ViewType
from fluvial.store.tracking.sql.ui_structure import GROUPS_MAX


def _world(store, rng: random.Random) -> list[str]:
    experiments = ["0", store.create_experiment("other")]
    for i in range(90):
        run_id = store.create_run(rng.choice(experiments), "alice", 1_700_000_000_000 + i, [], f"r{i}").info.run_id
        params = [Param("p", rng.choice(["a", "b", "c", "b b", ""]))] if rng.random() < 0.8 else []
        tags = [RunTag("t", rng.choice(["x", "y", "Z"]))] if rng.random() < 0.7 else []
        metrics = []
        for key in ("m1", "m2"):
            if rng.random() < 0.85:
                value = rng.choice([math.nan, math.inf, -math.inf, 0.0, 0.5]) if rng.random() < 0.15 \
                    else round(rng.uniform(-3, 3), 3)
                metrics.append(Metric(key, value, 1_000, 0))
        store.log_batch(run_id, metrics, params, tags)
        if rng.random() < 0.15:
            store.delete_run(run_id)
    return experiments


def _expected(store, experiments, filter_string, view, kind, key, metric_keys) -> list[dict[str, Any]]:
    runs = store.search_runs(experiments, filter_string, view, max_results=50_000)
    groups: dict[str | None, list[Any]] = {}
    for run in runs:
        values = run.data.params if kind == "param" else run.data.tags
        groups.setdefault(values.get(key), []).append(run)
    out = []
    for value in sorted(groups, key=lambda v: (v is None, v or "")):
        members = groups[value]
        metrics = {}
        for metric in metric_keys:
            seen = [r.data.metrics[metric] for r in members
                    if metric in r.data.metrics and not math.isnan(r.data.metrics[metric])]
            metrics[metric] = {"mean": math.fsum(seen) / len(seen) if max(map(abs, seen)) < 1e300 else None, "min": min(seen), "max": max(seen),
                               "count": len(seen)} if seen else None
        out.append({"value": value, "count": len(members), "metrics": metrics})
    return out


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [(g["value"], g["count"]) for g in got] == [(w["value"], w["count"]) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g["metrics"].keys() == w["metrics"].keys()
        for key, agg in w["metrics"].items():
            if agg is None:
                assert g["metrics"][key] is None
                continue
            have = g["metrics"][key]
            assert (have["min"], have["max"], have["count"]) == (agg["min"], agg["max"], agg["count"])
            if max(abs(agg["min"]), abs(agg["max"])) < 1e300:
                assert have["mean"] == pytest.approx(agg["mean"], rel=1e-9, abs=1e-12), (key, g)
            # else +-inf (stored as +-1.8e308) are in the group: its mean is whatever rounding of
            # the sum in the database's order gives, inf or NaN included


@pytest.mark.parametrize("seed", [1, 2])
def test_groups_equal_a_plain_computation(sql_store, seed):
    rng = random.Random(seed)
    experiments = _world(sql_store, rng)
    cases = [
        (experiments, "", ViewType.ACTIVE_ONLY, "param", "p", ["m1", "m2"]),
        (experiments[:1], "", ViewType.ALL, "tag", "t", ["m2"]),
        (experiments, "metrics.m1 > 0", ViewType.ACTIVE_ONLY, "param", "p", ["m1"]),
        (experiments, "params.p != 'a'", ViewType.DELETED_ONLY, "tag", "t", []),
        (experiments[1:], "tags.t = 'x'", ViewType.ALL, "param", "p", ["m1", "m2", "absent"]),
        (experiments, "", ViewType.ALL, "param", "absent", ["m1"]),
    ]
    for experiment_ids, filter_string, view, kind, key, metric_keys in cases:
        got, truncated = sql_store.ui_groups(experiment_ids, filter_string, view, kind, key, metric_keys)
        assert truncated is False
        _same(got, _expected(sql_store, experiment_ids, filter_string, view, kind, key, metric_keys))
    got, truncated = sql_store.ui_groups(experiments, "", ViewType.ALL, "param", "p", [], limit=2)
    assert truncated is True
    assert got == _expected(sql_store, experiments, "", ViewType.ALL, "param", "p", [])[:2]
    assert GROUPS_MAX >= 1000
