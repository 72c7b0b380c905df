"""statsmodels, CatBoost and ONNX flavors through the public API: save/log/load, pyfunc, signatures,
inferred requirements, bad input; statsmodels autologging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import fluvial as mlflow
from fluvial.exceptions import MlflowException

X = pd.DataFrame({"x1": np.linspace(0, 5, 30), "x2": np.sin(np.linspace(0, 5, 30))})
Y = 2 * X.x1 - X.x2 + 0.5


def _statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    results = sm.OLS(Y, sm.add_constant(X)).fit()
    data = sm.add_constant(X)
    return results, data, lambda m, d: np.asarray(m.predict(d))


def _catboost():
    catboost = pytest.importorskip("catboost")
    model = catboost.CatBoostRegressor(iterations=5, depth=2, verbose=0, thread_count=1, allow_writing_files=False)
    model.fit(X, Y)
    return model, X, lambda m, d: np.asarray(m.predict(d))


def _onnx():
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    sk = LinearRegression().fit(X.to_numpy(np.float32), Y)
    proto = skl2onnx.convert_sklearn(sk, initial_types=[("input", FloatTensorType([None, 2]))])

    def predict(model, data):
        import onnxruntime

        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"input": np.asarray(data, dtype=np.float32)})[0].reshape(-1)

    return proto, X.astype(np.float32), predict


BUILDERS = {"statsmodels": _statsmodels, "catboost": _catboost, "onnx": _onnx}
FILES = {"statsmodels": "model.statsmodels", "catboost": "model.cb", "onnx": "model.onnx"}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def flavor(request):
    model, data, predict = BUILDERS[request.param]()
    return request.param, model, data, predict


def _pyfunc_values(output):
    if isinstance(output, pd.DataFrame):  # onnx: one column per output
        return output.iloc[:, 0].to_numpy()
    return np.asarray(output).reshape(-1)


def test_save_load_pyfunc_and_requirements(flavor, tmp_path):
    name, model, data, predict = flavor
    module = getattr(mlflow, name)
    path = tmp_path / "m"
    module.save_model(model, str(path), input_example=data[:3])
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["python_function"]["loader_module"] == f"mlflow.{name}"
    assert meta["flavors"]["python_function"]["data"] == FILES[name] == meta["flavors"][name]["data"]
    assert (path / FILES[name]).is_file()
    assert meta["signature"]["inputs"] is not None  # inferred from the example
    requirements = (path / "requirements.txt").read_text().splitlines()
    assert any(r.startswith(f"{name}==") for r in requirements), requirements
    want = predict(model, data)
    np.testing.assert_allclose(predict(module.load_model(str(path)), data), want, rtol=1e-5)
    np.testing.assert_allclose(_pyfunc_values(mlflow.pyfunc.load_model(str(path)).predict(data)), want, rtol=1e-5)


def test_log_model_and_unknown_keyword(flavor, tracking_uri):
    name, model, data, predict = flavor
    module = getattr(mlflow, name)
    with pytest.raises(TypeError, match="input_exmple"):
        module.log_model(model, "model", input_exmple=data[:2])
    assert mlflow.active_run() is None
    with mlflow.start_run():
        info = module.log_model(model, "model", pip_requirements=[name])
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(_pyfunc_values(loaded.predict(data)), predict(model, data), rtol=1e-5)
    assert type(loaded.get_raw_model()).__module__.split(".")[0] in (name, "onnxruntime")


def test_wrong_model_type(flavor, tmp_path):
    name = flavor[0]
    with pytest.raises(MlflowException, match="expects"):
        getattr(mlflow, name).save_model(object(), str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_statsmodels_time_series_pyfunc(tmp_path):
    tsa = pytest.importorskip("statsmodels.tsa.arima.model")
    series = pd.Series(np.sin(np.arange(40) / 3.0))
    results = tsa.ARIMA(series, order=(1, 0, 0)).fit()
    mlflow.statsmodels.save_model(results, str(tmp_path / "m"), pip_requirements=["statsmodels"])
    model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    out = model.predict(pd.DataFrame({"start": [40], "end": [44]}))
    np.testing.assert_allclose(np.asarray(out), results.predict(start=40, end=44))
    with pytest.raises(MlflowException, match="start and end"):
        model.predict(pd.DataFrame({"start": [1, 2], "end": [3, 4]}))


def test_statsmodels_autolog(tracking_uri):
    sm = pytest.importorskip("statsmodels.api")
    mlflow.statsmodels.autolog(extra_tags={"team": "a"}, registered_model_name=None)
    try:
        results = sm.OLS(Y, sm.add_constant(X)).fit()
    finally:
        mlflow.statsmodels.autolog(disable=True)
    run = mlflow.last_active_run()
    assert run.info.status == "FINISHED"
    assert run.data.params == {"method": "pinv", "cov_type": "nonrobust", "cov_kwds": "None", "use_t": "None",
                               "kwargs": "<class 'inspect._empty'>"}
    assert run.data.metrics["rsquared"] == pytest.approx(results.rsquared)
    assert {"aic", "bic", "ssr", "df_model", "fvalue"} <= set(run.data.metrics)
    assert run.data.tags["mlflow.autologging"] == "statsmodels" and run.data.tags["team"] == "a"
    client = mlflow.MlflowClient()
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["model", "model_summary.txt"]
    loaded = mlflow.statsmodels.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.params, results.params)


def test_missing_library_names_the_pip_line(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "catboost", None)  # as if not installed
    with pytest.raises(mlflow.exceptions.MissingDependency, match=r'pip install "fluvial\[catboost\]"'):
        mlflow.catboost.save_model(object(), str(tmp_path / "m"))
