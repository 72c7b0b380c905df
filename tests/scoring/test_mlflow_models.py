"""Models saved by MLflow 2.22.5 (in its own virtualenv) served by ``fluvial models serve`` and
predicted by ``fluvial models predict``: the answers are MLflow's own predictions."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.compat._mlflow import require_mlflow, run_script
from tests.scoring._serving import invoke, models_serve

pytestmark = pytest.mark.compat

SAVE = """
import sys
import numpy as np, pandas as pd
import mlflow
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)])
X["count"] = rng.integers(0, 5, size=300)
y = (X["f0"] + X["f1"] > 0).astype(int)
model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)), input_example=X[:3])
sample = X.iloc[:25]
pyfunc = mlflow.pyfunc.load_model(sys.argv[1])
emit({"columns": list(sample.columns), "data": sample.values.tolist(),
      "predictions": pyfunc.predict(sample).tolist(),
      "proba": model.predict_proba(sample).tolist()})
"""


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory):
    python = require_mlflow()
    workdir = tmp_path_factory.mktemp("mlflow-model")
    result = run_script(python, SAVE, str(workdir / "rf"), cwd=workdir)
    return workdir / "rf", result


def test_serving_a_model_saved_by_mlflow(mlflow_model, tmp_path):
    path, saved = mlflow_model
    assert "mlflow==2.22.5" in (path / "requirements.txt").read_text()
    frame = pd.DataFrame(saved["data"], columns=saved["columns"]).astype({"count": "int64"})
    with models_serve(path, tmp_path / "server", "--batching") as server:
        for payload in ({"dataframe_split": {"columns": saved["columns"], "data": frame.values.tolist()}},
                        {"dataframe_records": frame.to_dict(orient="records")},
                        {"instances": frame.to_dict(orient="records")},
                        {"inputs": frame.to_dict(orient="list")}):
            answer = invoke(server.port, payload)
            assert answer.status == 200, answer.body
            assert answer.json() == {"predictions": saved["predictions"]}
        csv = invoke(server.port, frame.to_csv(index=False), content_type="text/csv")
        assert csv.status == 200 and csv.json() == {"predictions": saved["predictions"]}
        # the serving example MLflow wrote next to the model is a valid request as it is
        example = (path / "serving_input_example.json").read_text()
        answer = invoke(server.port, example)
        assert answer.status == 200 and answer.json() == {"predictions": saved["predictions"][:3]}


def test_predicting_with_a_model_saved_by_mlflow(mlflow_model, tmp_path):
    import subprocess
    import sys

    from tests.server._serve import _env

    path, saved = mlflow_model
    out = subprocess.run([sys.executable, "-m", "fluvial", "models", "predict", "-m", str(path), "--env-manager",
                          "local", "-i", str(path / "serving_input_example.json")], capture_output=True,
                         env=_env(None), timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"predictions": saved["predictions"][:3]}
