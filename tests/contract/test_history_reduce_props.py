"""The SQL store's ``get_metric_history_reduced`` (grouped passes in the database) against the base
class's generic version (pages + ``fluvial.search.downsample.reduce_points``) on random histories:
ties, NaN, +-inf, duplicate steps and timestamps, negative steps, all-NaN buckets, ranges and both x
axes, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random

import pytest

from fluvial.entities import Metric
from fluvial.store.tracking.base import TrackingStore

SEEDS = range(8)


def _values(rng: random.Random, mode: int) -> list[float]:
    if mode == 0:  # few distinct values: ties everywhere
        return [0.0, 1.0, -1.0, math.nan, math.inf, -math.inf]
    if mode == 1:  # mostly NaN: whole buckets of NaN
        return [math.nan] * 8 + [2.5]
    return [round(rng.gauss(0, 1), 1) for _ in range(40)] + [math.nan, math.inf, -math.inf]


def _seed_history(store, seed: int) -> str:
    rng = random.Random(seed)
    run_id = store.create_run("0", "alice", 1_700_000_000_000, [], f"props-{seed}").info.run_id
    n = rng.choice([30, 300, 1200])
    values = _values(rng, seed % 3)
    step_span = rng.choice([n // 4 + 1, n, 5 * n])
    points = {}
    for _ in range(n):
        step = rng.randrange(-step_span // 3, step_span)
        ts = 1_000 + rng.randrange(0, 3 * n)
        value = rng.choice(values)
        points[(step, ts, "nan" if math.isnan(value) else value)] = Metric("m", value, ts, step)
    batch = list(points.values())
    for i in range(0, len(batch), 1000):
        store.log_batch(run_id, batch[i:i + 1000], [], [])
    return run_id


def _key(points):
    return [(p.step, p.timestamp, "nan" if math.isnan(p.value) else p.value) for p in points]


@pytest.mark.parametrize("seed", SEEDS)
def test_sql_reduce_matches_generic(sql_store, seed, monkeypatch):
    from fluvial.store.tracking.sql import history

    # the step axis has two plans (per-bucket index ranges, one grouped pass): odd seeds take the ranges
    monkeypatch.setattr(history, "STEP_RANGES_FROM", 1 if seed % 2 else 10**9)
    run_id = _seed_history(sql_store, seed)
    rng = random.Random(1000 + seed)
    cases = [("step", None, None, 2), ("timestamp", None, None, 2)]
    for _ in range(14):
        x_axis = rng.choice(["step", "timestamp"])
        span = (-400, 7000) if x_axis == "step" else (900, 5000)
        a, b = sorted(rng.uniform(*span) for _ in range(2))
        start = rng.choice([None, a, math.floor(a), -math.inf])
        end = rng.choice([None, b, math.ceil(b), math.inf])
        cases.append((x_axis, start, end, rng.choice([2, 3, 10, 64, 101, 1000])))
    for x_axis, start, end, max_points in cases:
        kwargs = {"x_axis": x_axis, "start": start, "end": end, "max_points": max_points}
        got, got_reduced, got_total = sql_store.get_metric_history_reduced(run_id, "m", **kwargs)
        want, want_reduced, want_total = TrackingStore.get_metric_history_reduced(sql_store, run_id, "m", **kwargs)
        assert (got_reduced, got_total) == (want_reduced, want_total), kwargs
        assert _key(got) == _key(want), kwargs
