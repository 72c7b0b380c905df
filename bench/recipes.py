"""``recipes``: a cached re-run of a whole recipe (regression/v1, 200 rows, every training step) after no
change, as a whole process (``Recipe(profile="local").run()``), fluvial vs MLflow 2.22.5 on the same
recipe directory (tests/recipes/_make.py). MLflow decides what to skip with ``make -n`` over file
mtimes; fluvial compares content hashes in-process. Also: the first (uncached) run, and the re-run
measured inside the process (without interpreter start-up and imports)."""

from __future__ import annotations

import json
import os

from bench._harness import BenchError, Row, Side, fresh_dir, log, median, time_process
from tests.recipes._make import write_recipe

NAME = "recipes"
REPEATS = 5
_RUN = ("import json, time, warnings; warnings.filterwarnings('ignore'); t0 = time.perf_counter(); "
        "from {module}.recipes import Recipe; r = Recipe(profile='local'); t1 = time.perf_counter(); r.run(); "
        "print(json.dumps({{'run': time.perf_counter() - t1, 'total': time.perf_counter() - t0}}))")


def _measure(side: Side) -> dict[str, float]:
    with fresh_dir(NAME) as tmp:
        root = write_recipe(tmp / "recipe")
        env = {**side.env, "MLFLOW_RECIPES_EXECUTION_DIRECTORY": str(tmp / "exec")}
        side = Side(side.label, side.python, side.module, env)
        code = _RUN.format(module=side.module)
        first, _ = time_process(side, ["-c", code], root, timeout=1800)
        if not os.path.exists(tmp / "exec" / "steps" / "register" / "outputs" / "registered_model_version.json"):
            raise BenchError(f"{side.label}: the first run registered no model")
        wall, inside = [], []
        for _ in range(REPEATS):
            seconds, out = time_process(side, ["-c", code], root, timeout=600)
            wall.append(seconds)
            inside.append(json.loads(out.strip().splitlines()[-1])["run"])
    return {"first": first, "wall": median(wall), "inside": median(inside)}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: first run, then {REPEATS} cached re-runs (whole processes)")
        results[side.module] = r = _measure(side)
        log(f"{NAME}: {side.label}: first {r['first']:.1f} s, cached re-run {r['wall'] * 1000:.0f} ms "
            f"(run() alone {r['inside'] * 1000:.1f} ms)")
    f, m = results["fluvial"], results.get("mlflow")
    rows = [
        Row(NAME, "cached re-run of the whole recipe after no change, whole process, median of 5", "ms",
            f["wall"] * 1000, None if m is None else m["wall"] * 1000, False, 5.0),
        Row(NAME, "the same, Recipe.run() alone, in-process", "ms", f["inside"] * 1000,
            None if m is None else m["inside"] * 1000, False),
        Row(NAME, "first run, every step (ingest to register)", "s", f["first"], None if m is None else m["first"],
            False),
    ]
    note = (f"fluvial's cached re-run takes {f['wall']:.2f} s as a whole process (bar: under 2 s: "
            f"{'PASS' if f['wall'] < 2 else 'FAIL'}). MLflow's steps run as `python -c` subprocesses of GNU make "
            "and its Recipe also opens the last step's card with xdg-open.")
    return rows, note
