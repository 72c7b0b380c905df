"""statsmodels, CatBoost and ONNX models cross between MLflow 2.22.5 and fluvial, both ways (the flavor's
``load_model`` and pyfunc predict the same), the MLmodel flavor entries are MLflow's, and statsmodels
autologging logs what MLflow's does on the same training code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(1200)]

PRELUDE = '''
import os, sys, warnings
warnings.filterwarnings("ignore")
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 without TensorFlow
import numpy as np, pandas as pd
import {module} as mlflow
X = pd.DataFrame({{"x1": np.linspace(0, 5, 30), "x2": np.sin(np.linspace(0, 5, 30))}})
Y = 2 * X.x1 - X.x2 + 0.5
out = {{}}
def available(name):
    try:
        __import__(name)
        return True
    except ImportError as exc:
        out["skipped"] = f"{{name}} is not installed for {module}: {{exc}}"
        return False
def flat(v):
    if isinstance(v, pd.DataFrame):
        v = v.iloc[:, 0]
    return np.asarray(v, dtype=float).reshape(-1).tolist()
'''

SAVE = {
    "statsmodels": '''
if available("statsmodels"):
    import statsmodels.api as sm
    res = sm.OLS(Y, sm.add_constant(X)).fit()
    mlflow.statsmodels.save_model(res, sys.argv[1] + "/model")
    out["pred"] = flat(res.predict(sm.add_constant(X)))
''',
    "catboost": '''
if available("catboost"):
    import catboost
    m = catboost.CatBoostRegressor(iterations=5, depth=2, verbose=0, thread_count=1, allow_writing_files=False)
    m.fit(X, Y)
    mlflow.catboost.save_model(m, sys.argv[1] + "/model")
    out["pred"] = flat(m.predict(X))
''',
    "onnx": '''
if available("onnxruntime") and available("skl2onnx"):
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression
    sk = LinearRegression().fit(X.to_numpy(np.float32), Y)
    proto = skl2onnx.convert_sklearn(sk, initial_types=[("input", FloatTensorType([None, 2]))])
    mlflow.onnx.save_model(proto, sys.argv[1] + "/model", onnx_execution_providers=["CPUExecutionProvider"])
    out["pred"] = flat(sk.predict(X.to_numpy(np.float32)))
''',
    "keras": '''
if available("keras"):
    import keras
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(X.to_numpy(np.float32), Y.to_numpy(np.float32), epochs=1, verbose=0)
    mlflow.keras.save_model(m, sys.argv[1] + "/model")
    out["pred"] = flat(m.predict(X.to_numpy(np.float32), verbose=0))
''',
}

LOAD = {
    "statsmodels": '''
if available("statsmodels"):
    import statsmodels.api as sm
    out["pred"] = flat(mlflow.statsmodels.load_model(sys.argv[1] + "/model").predict(sm.add_constant(X)))
    out["pyfunc"] = flat(mlflow.pyfunc.load_model(sys.argv[1] + "/model").predict(sm.add_constant(X)))
''',
    "catboost": '''
if available("catboost"):
    m = mlflow.catboost.load_model(sys.argv[1] + "/model")
    out["type"] = type(m).__name__
    out["pred"] = flat(m.predict(X))
    out["pyfunc"] = flat(mlflow.pyfunc.load_model(sys.argv[1] + "/model").predict(X))
''',
    "onnx": '''
if available("onnxruntime"):
    import onnxruntime
    proto = mlflow.onnx.load_model(sys.argv[1] + "/model")
    sess = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    out["pred"] = flat(sess.run(None, {"input": X.to_numpy(np.float32)})[0])
    out["pyfunc"] = flat(mlflow.pyfunc.load_model(sys.argv[1] + "/model").predict(X.astype(np.float32)))
''',
    "keras": '''
if available("keras"):
    out["pred"] = flat(mlflow.keras.load_model(sys.argv[1] + "/model").predict(X.to_numpy(np.float32), verbose=0))
    out["pyfunc"] = flat(mlflow.pyfunc.load_model(sys.argv[1] + "/model").predict(X.to_numpy(np.float32)))
''',
}

FLAVORS = sorted(SAVE)


def _run(module: str, source: str, *args: str, cwd: Path) -> dict:
    script = PRELUDE.format(module=module) + source + "\nemit(out)\n"
    if module == "mlflow":
        result = run_script(require_mlflow(), script, *args, cwd=cwd, name="mlflow_side.py", timeout=600)
    else:
        result = run_fluvial(script, *args, cwd=cwd, name="fluvial_side.py", timeout=600)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    return result


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(("saver", "loader"), [("mlflow", "fluvial"), ("fluvial", "mlflow")])
def test_flavor_crosses(flavor, saver, loader, tmp_path):
    require_mlflow()
    saved = _run(saver, SAVE[flavor], str(tmp_path), cwd=tmp_path)
    loaded = _run(loader, LOAD[flavor], str(tmp_path), cwd=tmp_path)
    np.testing.assert_allclose(loaded["pred"], saved["pred"], rtol=1e-5)
    np.testing.assert_allclose(loaded["pyfunc"], saved["pred"], rtol=1e-5)
    if flavor == "catboost":
        assert loaded["type"] == "CatBoostRegressor"


@pytest.mark.parametrize("flavor", FLAVORS)
def test_flavor_entries_match_mlflows(flavor, tmp_path):
    require_mlflow()
    entries = {}
    for module in ("mlflow", "fluvial"):
        (tmp_path / module).mkdir()
        _run(module, SAVE[flavor], str(tmp_path / module), cwd=tmp_path / module)
        meta = yaml.safe_load((tmp_path / module / "model" / "MLmodel").read_text())
        entries[module] = meta["flavors"]
    assert entries["fluvial"] == entries["mlflow"]


AUTOLOG = '''
if available("statsmodels"):
    import statsmodels.api as sm
    mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("autolog.db"))
    mlflow.statsmodels.autolog()
    sm.OLS(Y, sm.add_constant(X)).fit()
    run = mlflow.last_active_run()
    client = mlflow.MlflowClient()
    out["params"] = run.data.params
    out["metrics"] = {k: round(v, 6) for k, v in run.data.metrics.items()}
    out["tags"] = sorted(k for k in run.data.tags if not k.startswith(("mlflow.source", "mlflow.user",
                                                                       "mlflow.log-model", "mlflow.runName")))
    out["artifacts"] = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    out["model_files"] = sorted(a.path for a in client.list_artifacts(run.info.run_id, "model"))
    out["status"] = run.info.status
'''


def test_statsmodels_autolog_logs_what_mlflow_logs(tmp_path):
    require_mlflow()
    results = {}
    for module in ("mlflow", "fluvial"):
        (tmp_path / module).mkdir()
        results[module] = _run(module, AUTOLOG, cwd=tmp_path / module)
    mlflow_side, fluvial_side = results["mlflow"], results["fluvial"]
    assert fluvial_side["params"] == mlflow_side["params"]
    assert fluvial_side["metrics"].keys() == mlflow_side["metrics"].keys()
    for key, value in mlflow_side["metrics"].items():
        assert fluvial_side["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    for key in ("tags", "artifacts", "model_files", "status"):
        assert fluvial_side[key] == mlflow_side[key], key
