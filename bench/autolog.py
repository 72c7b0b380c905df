"""``autolog``: what scikit-learn autologging adds to ``fit``, fluvial beside MLflow 2.22.5.

Each side, in a fresh process and a fresh SQLite database, fits a LogisticRegression on iris (150 rows)
repeatedly: without autologging; after ``sklearn.autolog(log_models=False)`` (a run with params,
training metrics, tags and the dataset per fit); and after ``sklearn.autolog()`` (the model too, whose
requirement inference starts a Python subprocess on both sides). The overhead is the median fit with
autologging minus the median plain fit. ``sklearn.autolog()`` itself (patching every estimator) is
timed once. MLflow also draws a confusion-matrix PNG per classifier fit, which fluvial does not.
"""

from __future__ import annotations

import json

from bench._harness import Row, Side, fresh_dir, log, time_process

NAME = "autolog"
PLAIN, LIGHT, FULL = 30, 15, 3
BAR_LIGHT = 2

_SCRIPT = """
import json, logging, os, statistics, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import {module} as mlflow
mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("mlflow.db"))
mlflow.set_experiment("bench")
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)

def fit():
    return LogisticRegression(max_iter=300).fit(X, y)

def timed(n):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fit()
        samples.append(time.perf_counter() - start)
    return samples

for _ in range(3):
    fit()
plain = timed({plain})
start = time.perf_counter()
mlflow.sklearn.autolog(log_models=False)
setup = time.perf_counter() - start
fit()
light = timed({light})
mlflow.sklearn.autolog()
fit()
full = timed({full})
runs = len(mlflow.search_runs(output_format="list"))
if runs != {light} + {full} + 2:
    raise SystemExit(f"expected {{{light} + {full} + 2}} runs, found {{runs}}")
print(json.dumps({{"plain": statistics.median(plain), "light": statistics.median(light),
                  "full": statistics.median(full), "setup": setup,
                  "light_samples": light, "full_samples": full}}))
"""


def _measure(side: Side) -> dict[str, float]:
    with fresh_dir(NAME) as cwd:
        (cwd / "autolog_bench.py").write_text(_SCRIPT.format(module=side.module, plain=PLAIN, light=LIGHT, full=FULL))
        _, stdout = time_process(side, ["autolog_bench.py"], cwd, timeout=900)
    return json.loads(stdout.strip().splitlines()[-1])


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: {PLAIN} plain fits, {LIGHT} autologged fits without and {FULL} with the model")
        results[side.module] = r = _measure(side)
        log(f"{NAME}: {side.label}: plain fit {r['plain'] * 1000:.1f} ms; +{(r['light'] - r['plain']) * 1000:.0f} ms "
            f"without the model, +{(r['full'] - r['plain']) * 1000:.0f} ms with it; autolog() {r['setup'] * 1000:.0f} ms")
    f, m = results["fluvial"], results.get("mlflow")

    def overhead(d: dict | None, key: str) -> float | None:
        return None if d is None else max(d[key] - d["plain"], 1e-6) * 1000

    rows = [
        Row(NAME, "fit overhead, autolog(log_models=False)", "ms", overhead(f, "light"), overhead(m, "light"), False,
            BAR_LIGHT),
        Row(NAME, "fit overhead, autolog() with the model", "ms", overhead(f, "full"), overhead(m, "full"), False),
        Row(NAME, "sklearn.autolog() call (patching)", "ms", f["setup"] * 1000, None if m is None else m["setup"] * 1000,
            False),
        Row(NAME, "plain fit (no autologging)", "ms", f["plain"] * 1000, None if m is None else m["plain"] * 1000, False),
    ]
    return rows, (f"LogisticRegression on iris; medians of {PLAIN} plain fits, {LIGHT} autologged fits without the "
                  f"model and {FULL} with it, in one process per side.")
