"""XGBoost: the flavor (save/log/load, pyfunc, MLmodel in MLflow's format) and autologging of
``xgboost.train`` and the scikit-learn wrappers, checked against XGBoost's own numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_diabetes, load_iris

import fluvial as mlflow
from fluvial import MlflowClient
from fluvial.autologging import autologging_disabled
from tests.autologging._util import artifact_paths, history, only_run

xgb = pytest.importorskip("xgboost")

PARAMS = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "eta": 0.3, "nthread": 1}


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _split(X, y):
    order = np.random.RandomState(0).permutation(len(y))
    train, valid = order[:110], order[110:]
    return X.iloc[train], y.iloc[train], X.iloc[valid], y.iloc[valid]


# ---- the flavor ----------------------------------------------------------------------------------
def test_booster_save_load_and_pyfunc(iris, tmp_path):
    X, y = iris
    booster = xgb.train(PARAMS, xgb.DMatrix(X, y), num_boost_round=5)
    path = tmp_path / "model"
    mlflow.xgboost.save_model(booster, str(path))
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["xgboost"] == {"xgb_version": xgb.__version__, "data": "model.xgb",
                                          "model_class": "xgboost.core.Booster", "model_format": "xgb", "code": None}
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.xgboost"
    assert meta["flavors"]["python_function"]["data"] == "model.xgb"
    assert (path / "model.xgb").is_file()
    assert f"xgboost=={xgb.__version__}" in (path / "requirements.txt").read_text().splitlines()
    loaded = mlflow.xgboost.load_model(str(path))
    assert isinstance(loaded, xgb.Booster)
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(loaded.predict(xgb.DMatrix(X)), expected)
    np.testing.assert_allclose(mlflow.pyfunc.load_model(str(path)).predict(X), expected)


def test_sklearn_wrapper_in_json_format(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(X, y)
    path = tmp_path / "model"
    mlflow.xgboost.save_model(model, str(path), model_format="json")
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["xgboost"]["model_class"] == "xgboost.sklearn.XGBRegressor"
    assert meta["flavors"]["xgboost"]["data"] == "model.json" and (path / "model.json").is_file()
    loaded = mlflow.xgboost.load_model(str(path))
    assert type(loaded) is xgb.XGBRegressor
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(mlflow.pyfunc.load_model(str(path)).predict(X), model.predict(X))


def test_save_model_rejects_other_objects(tmp_path):
    with pytest.raises(mlflow.MlflowException, match=r"xgboost\.Booster"):
        mlflow.xgboost.save_model(object(), str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


# ---- autologging: xgboost.train ------------------------------------------------------------------
def test_train_logs_params_metrics_early_stopping_importance_and_model(iris):
    X, y = iris
    X_train, y_train, X_valid, y_valid = _split(X, y)
    mlflow.xgboost.autolog()
    dtrain, dvalid = xgb.DMatrix(X_train, y_train), xgb.DMatrix(X_valid, y_valid)
    evals_result: dict = {}
    booster = xgb.train(PARAMS, dtrain, num_boost_round=30, evals=[(dtrain, "train"), (dvalid, "valid")],
                        early_stopping_rounds=3, evals_result=evals_result, verbose_eval=False)
    assert mlflow.active_run() is None
    run = only_run()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "xgboost"
    params = run.data.params
    assert {k: params[k] for k in PARAMS} == {k: str(v) for k, v in PARAMS.items()}
    assert params["num_boost_round"] == "30" and params["early_stopping_rounds"] == "3"
    assert {"maximize", "verbose_eval", "custom_metric"} <= set(params)
    assert not {"dtrain", "evals", "evals_result", "callbacks", "obj", "xgb_model"} & set(params)

    iterations = len(evals_result["valid"]["mlogloss"])
    best = booster.best_iteration
    for name in ("train", "valid"):
        values = evals_result[name]["mlogloss"]
        logged = history(run.info.run_id, f"{name}-mlogloss")
        assert logged[:iterations] == [(i, pytest.approx(v)) for i, v in enumerate(values)]
        # the best iteration's value once more, after the last iteration: the latest value is the kept model's
        assert logged[iterations:] == [(iterations, pytest.approx(values[best]))]
        assert run.data.metrics[f"{name}-mlogloss"] == pytest.approx(values[best])
    assert run.data.metrics["stopped_iteration"] == iterations - 1
    assert run.data.metrics["best_iteration"] == best

    with open(MlflowClient().download_artifacts(run.info.run_id, "feature_importance_weight.json")) as fh:
        assert json.load(fh) == booster.get_score(importance_type="weight")
    contexts = {(i.dataset.name, i.tags[0].value) for i in run.inputs.dataset_inputs}
    assert contexts == {("dataset", "train"), ("train", "eval"), ("valid", "eval")}

    uri = f"runs:/{run.info.run_id}/model"
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(mlflow.xgboost.load_model(uri).predict(xgb.DMatrix(X)), expected)
    pyfunc = mlflow.pyfunc.load_model(uri)
    np.testing.assert_allclose(pyfunc.predict(X), expected)
    assert [c.name for c in pyfunc.metadata.get_input_schema().inputs] == list(X.columns)


def test_importance_types_and_no_model(iris):
    X, y = iris
    mlflow.xgboost.autolog(importance_types=["gain", "cover"], log_models=False)
    xgb.train(PARAMS, xgb.DMatrix(X, y), num_boost_round=3)
    paths = artifact_paths(only_run().info.run_id)
    assert paths == ["feature_importance_cover.json", "feature_importance_cover.png", "feature_importance_gain.json",
                     "feature_importance_gain.png"]  # the plots: matplotlib is a dev dependency


# ---- autologging: scikit-learn wrappers ----------------------------------------------------------
def test_classifier_wrapper(iris):
    X, y = iris
    mlflow.autolog()
    model = xgb.XGBClassifier(n_estimators=6, max_depth=2, n_jobs=1).fit(X, y, eval_set=[(X, y)], verbose=False)
    run = only_run()  # one run: the train() inside the fit made none of its own
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "xgboost"
    params = run.data.params
    assert params["max_depth"] == "2" and params["num_boost_round"] == "6"
    assert params["objective"] == "multi:softprob" and params["num_class"] == "3"
    with autologging_disabled():
        values = model.evals_result()["validation_0"]["mlogloss"]
    assert history(run.info.run_id, "validation_0-mlogloss") == [(i, pytest.approx(v)) for i, v in enumerate(values)]
    assert "training_score" not in run.data.metrics  # the sklearn integration stays out of it
    uri = f"runs:/{run.info.run_id}/model"
    loaded = mlflow.xgboost.load_model(uri)
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), model.predict(X))


def test_disable(iris):
    X, y = iris
    mlflow.xgboost.autolog()
    mlflow.xgboost.autolog(disable=True)
    xgb.train(PARAMS, xgb.DMatrix(X, y), num_boost_round=2)
    xgb.XGBClassifier(n_estimators=2).fit(X, y)
    assert mlflow.search_runs(output_format="list") == []
    assert not hasattr(xgb.train, "__fluvial_autolog__")


def test_failure_isolation(iris, monkeypatch, autolog_warnings):
    X, y = iris
    import fluvial.flavors.xgboost as flavor

    monkeypatch.setattr(flavor, "log_model", lambda *a, **k: 1 / 0)
    mlflow.xgboost.autolog()
    booster = xgb.train(PARAMS, xgb.DMatrix(X, y), num_boost_round=2)
    assert isinstance(booster, xgb.Booster) and booster.num_boosted_rounds() == 2
    assert any("could not log the model" in m for m in autolog_warnings())
    assert only_run().info.status == "FINISHED"
