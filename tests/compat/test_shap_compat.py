"""SHAP explainers cross between MLflow 2.22.5 and fluvial, both ways (the scikit-learn model they explain
saved with MLflow's flavor in ``underlying_model/``), and ``log_explanation`` logs the artifacts MLflow
logs, with the same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(900)]

SCRIPT = '''
import os, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import shap
from sklearn.linear_model import LinearRegression
import {module} as mlflow
X = pd.DataFrame({{"a": np.linspace(0, 1, 20), "b": np.cos(np.linspace(0, 3, 20)), "c": (np.arange(20) % 3).astype(float)}})
y = X.a * 2 + X.b - X.c
path = os.path.join(sys.argv[1], "explainer")
out = {{}}
if sys.argv[2] == "save":
    model = LinearRegression().fit(X, y)
    explainer = shap.Explainer(model.predict, X, algorithm="permutation")
    mlflow.shap.save_explainer(explainer, path)
    out["values"] = explainer(X.values[:4]).values.tolist()
    mlflow.set_tracking_uri("sqlite:///" + os.path.join(sys.argv[1], "{module}.db"))
    mlflow.set_experiment("shap")
    with mlflow.start_run() as run:
        out["uri_tail"] = mlflow.shap.log_explanation(model.predict, X).rsplit("/", 1)[1]
    client = mlflow.MlflowClient()
    out["artifacts"] = sorted(a.path for a in client.list_artifacts(run.info.run_id, "model_explanations_shap"))
    local = client.download_artifacts(run.info.run_id, "model_explanations_shap")
    out["base"] = np.load(os.path.join(local, "base_values.npy")).tolist()
    out["shap"] = np.load(os.path.join(local, "shap_values.npy")).tolist()
    out["requirements"] = sorted(open(os.path.join(path, "requirements.txt")).read().split())
else:
    out["values"] = mlflow.shap.load_explainer(path)(X.values[:4]).values.tolist()
    out["type"] = type(mlflow.shap.load_explainer(path).model).__name__
out["pyfunc"] = np.asarray(mlflow.pyfunc.load_model(path).predict(X[:4])).tolist()
emit(out)
'''


def _run(module: str, root: Path, action: str) -> dict:
    script = SCRIPT.format(module=module)
    if module == "mlflow":
        return run_script(require_mlflow(), script, str(root), action, cwd=root, name="mlflow_side.py", timeout=600)
    return run_fluvial(script, str(root), action, cwd=root, name="fluvial_side.py", timeout=600)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each side saves an explainer and logs an explanation once (one interpreter each)."""
    require_mlflow()
    out = {}
    for module in ("mlflow", "fluvial"):
        root = tmp_path_factory.mktemp(module)
        out[module] = (root, _run(module, root, "save"))
    return out


@pytest.mark.parametrize(("saver", "loader"), [("mlflow", "fluvial"), ("fluvial", "mlflow")])
def test_explainer_crosses(saver, loader, saved):
    root, result = saved[saver]
    loaded = _run(loader, root, "load")
    np.testing.assert_allclose(loaded["values"], result["values"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(loaded["pyfunc"], result["values"], rtol=1e-6, atol=1e-9)
    assert any(r.startswith("scikit-learn") for r in result["requirements"])
    assert any(r.startswith("shap") for r in result["requirements"])


def test_log_explanation_logs_what_mlflow_logs(saved):
    ours, theirs = saved["fluvial"][1], saved["mlflow"][1]
    assert ours["artifacts"] == theirs["artifacts"] == [
        "model_explanations_shap/base_values.npy", "model_explanations_shap/shap_values.npy",
        "model_explanations_shap/summary_bar_plot.png"]
    assert ours["uri_tail"] == theirs["uri_tail"] == "model_explanations_shap"
    np.testing.assert_allclose(ours["base"], theirs["base"], rtol=1e-6)
    np.testing.assert_allclose(ours["shap"], theirs["shap"], rtol=1e-5, atol=1e-8)
