"""``models``: loading and predicting through pyfunc, fluvial beside MLflow 2.22.5.

Each side saves a scikit-learn LogisticRegression (iris, with a signature, so predict enforces the
schema) with its own ``sklearn.save_model``, then:

- ``pyfunc.load_model`` + the first ``predict`` as a whole process (``python -c``), median of 5;
- ``predict`` latency through pyfunc for 1 row and for 1,000 rows (median of many calls), and the
  bare estimator's ``predict`` on the same data; the overhead is pyfunc minus bare.
"""

from __future__ import annotations

import json

from bench._harness import Row, Side, fresh_dir, log, median, time_process

NAME = "models"
BAR_OVERHEAD, BAR_LOAD = 3, 3

_SAVE = """
import sys
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import {module} as mlflow
from {module}.models import infer_signature
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
mlflow.sklearn.save_model(model, "model", signature=infer_signature(X, model.predict(X)))
X.to_csv("X.csv", index=False)
"""

_LOAD_AND_PREDICT = (
    "import pandas as pd; import {module}.pyfunc as pyfunc; "
    "pyfunc.load_model('model').predict(pd.read_csv('X.csv').head(1))"
)

_LATENCY = """
import json, statistics, time
import pandas as pd
import {module}.pyfunc as pyfunc
X = pd.read_csv("X.csv")
one = X.head(1)
many = pd.concat([X] * 7, ignore_index=True).head(1000)
model = pyfunc.load_model("model")
raw = model.get_raw_model() if hasattr(model, "get_raw_model") else model._model_impl.sklearn_model

def per_call(fn, data, n):
    for _ in range(20):
        fn(data)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn(data)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)

print(json.dumps({{
    "pyfunc_1": per_call(model.predict, one, 2000), "bare_1": per_call(raw.predict, one, 2000),
    "pyfunc_1000": per_call(model.predict, many, 300), "bare_1000": per_call(raw.predict, many, 300),
}}))
"""


def _measure(side: Side) -> dict[str, float]:
    with fresh_dir(NAME) as cwd:
        (cwd / "save.py").write_text(_SAVE.format(module=side.module))
        time_process(side, ["save.py"], cwd, timeout=300)
        code = _LOAD_AND_PREDICT.format(module=side.module)
        time_process(side, ["-c", code], cwd, timeout=300)  # warm-up: bytecode and page caches
        loads = [time_process(side, ["-c", code], cwd, timeout=300)[0] for _ in range(5)]
        (cwd / "latency.py").write_text(_LATENCY.format(module=side.module))
        latency = json.loads(time_process(side, ["latency.py"], cwd, timeout=600)[1].strip().splitlines()[-1])
    return {"load": median(loads), **latency}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: save, 5 x load + first predict as a process, predict latency")
        results[side.module] = r = _measure(side)
        log(f"{NAME}: {side.label}: load+predict {r['load'] * 1000:.0f} ms; 1 row {r['pyfunc_1'] * 1e6:.0f} us "
            f"(bare {r['bare_1'] * 1e6:.0f} us); 1,000 rows {r['pyfunc_1000'] * 1e6:.0f} us "
            f"(bare {r['bare_1000'] * 1e6:.0f} us)")
    f, m = results["fluvial"], results.get("mlflow")

    def us(d: dict | None, key: str) -> float | None:
        return None if d is None else d[key] * 1e6

    def overhead(d: dict | None, rows: str) -> float | None:
        return None if d is None else max(d[f"pyfunc_{rows}"] - d[f"bare_{rows}"], 1e-7) * 1e6

    rows = [
        Row(NAME, "pyfunc.load_model + first predict, whole process", "ms", f["load"] * 1000,
            None if m is None else m["load"] * 1000, False, BAR_LOAD),
        Row(NAME, "pyfunc predict, 1 row", "us", us(f, "pyfunc_1"), us(m, "pyfunc_1"), False),
        Row(NAME, "pyfunc overhead over the bare estimator, 1 row", "us", overhead(f, "1"), overhead(m, "1"), False,
            BAR_OVERHEAD),
        Row(NAME, "pyfunc predict, 1,000 rows", "us", us(f, "pyfunc_1000"), us(m, "pyfunc_1000"), False),
        Row(NAME, "pyfunc overhead over the bare estimator, 1,000 rows", "us", overhead(f, "1000"),
            overhead(m, "1000"), False),
    ]
    return rows, ("scikit-learn LogisticRegression on iris with a signature (schema enforced on every predict); "
                  "latency is the median of 2,000 (1 row) or 300 (1,000 rows) calls after 20 warm-up calls.")
