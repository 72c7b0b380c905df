"""``evaluate`` gives MLflow 2.22.5's metric keys and values (within 1e-9) on the same data and model:
binary and multiclass classifiers (sklearn models logged by each side) and a regressor (callable); and
the same SHAP explainability artifacts when shap is installed."""

from __future__ import annotations

import math

import pytest

from tests.compat._mlflow import run_fluvial, run_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.compat]

SCRIPT = '''
import sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
import {module} as mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
rng = np.random.default_rng(7)
X = pd.DataFrame(rng.normal(size=(90, 3)), columns=list("abc"))
y2 = (X.a + 0.7 * rng.normal(size=90) > 0).astype(int)
y3 = np.digitize(X.b + 0.3 * rng.normal(size=90), [-0.4, 0.4])
yr = 2 * X.a - X.c + rng.normal(size=90)
cfg = {{"log_model_explainability": False}}
out = {{}}
with mlflow.start_run():
    for name, y, extra in (("binary", y2, {{}}), ("binary_pos0", y2, {{"pos_label": 0}}),
                           ("multi", y3, {{}}), ("multi_macro", y3, {{"average": "macro"}})):
        uri = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), "m_" + name).model_uri
        with mlflow.start_run(nested=True):
            r = mlflow.evaluate(uri, X.assign(label=y), targets="label", model_type="classifier",
                                evaluator_config={{**cfg, **extra}})
        out[name] = {{k: float(v) for k, v in r.metrics.items()}}
    fn = LinearRegression().fit(X, yr).predict
    with mlflow.start_run(nested=True):
        r = mlflow.evaluate(fn, X.assign(t=yr), targets="t", model_type="regressor", evaluator_config=cfg)
    out["regressor"] = {{k: float(v) for k, v in r.metrics.items()}}
emit(out)
'''


def test_metric_keys_and_values_match_mlflow(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "f").mkdir()
    theirs = run_mlflow(SCRIPT.format(module="mlflow"), str(tmp_path / "m" / "db.sqlite"), cwd=tmp_path / "m")
    ours = run_fluvial(SCRIPT.format(module="fluvial"), str(tmp_path / "f" / "db.sqlite"), cwd=tmp_path / "f")
    assert set(ours) == set(theirs)
    for case, metrics in theirs.items():
        assert set(ours[case]) == set(metrics), case
        for key, value in metrics.items():
            assert math.isclose(ours[case][key], value, rel_tol=1e-9, abs_tol=1e-9), (case, key, ours[case][key], value)


SHAP_SCRIPT = '''
import sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
import {module} as mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
rng = np.random.default_rng(3)
X = pd.DataFrame(rng.normal(size=(120, 3)), columns=list("abc"))
y = (X.a - X.b + 0.5 * rng.normal(size=120) > 0).astype(int)
out = {{}}
for name, model, kind, cfg in (
        ("binary", LogisticRegression(), "classifier", {{}}),
        ("regressor_prefixed", LinearRegression(), "regressor", {{"metric_prefix": "val_"}}),
        ("off", LogisticRegression(), "classifier", {{"log_model_explainability": False}})):
    with mlflow.start_run() as run:
        uri = mlflow.sklearn.log_model(model.fit(X, y), "model").model_uri
        r = mlflow.evaluate(uri, X.assign(label=y), targets="label", model_type=kind, evaluator_config=cfg)
    files = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)]
    out[name] = {{"artifacts": sorted(k for k in r.artifacts if "shap" in k),
                  "files": sorted(f for f in files if "shap" in f)}}
emit(out)
'''


@pytest.mark.timeout(1200)
def test_shap_explainability_artifacts_match_mlflow(tmp_path):
    pytest.importorskip("shap")
    (tmp_path / "m").mkdir()
    (tmp_path / "f").mkdir()
    theirs = run_mlflow(SHAP_SCRIPT.format(module="mlflow"), str(tmp_path / "m" / "db.sqlite"), cwd=tmp_path / "m")
    ours = run_fluvial(SHAP_SCRIPT.format(module="fluvial"), str(tmp_path / "f" / "db.sqlite"), cwd=tmp_path / "f")
    assert theirs["binary"]["files"] == ["shap_beeswarm_plot.png", "shap_feature_importance_plot.png",
                                         "shap_summary_plot.png"]  # on by default with shap installed
    assert theirs["off"] == {"artifacts": [], "files": []}
    assert ours == theirs
