"""LightGBM: the flavor (save/log/load, pyfunc, MLmodel in MLflow's format) and autologging of
``lightgbm.train`` and the scikit-learn wrappers, checked against LightGBM's own numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris

import fluvial as mlflow
from fluvial import MlflowClient
from tests.autologging._util import artifact_paths, history, only_run

lgb = pytest.importorskip("lightgbm")

PARAMS = {"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1, "num_threads": 1}


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _split(X, y):
    order = np.random.RandomState(0).permutation(len(y))
    train, valid = order[:110], order[110:]
    return X.iloc[train], y.iloc[train], X.iloc[valid], y.iloc[valid]


# ---- the flavor ----------------------------------------------------------------------------------
def test_booster_and_wrapper_formats(iris, tmp_path):
    X, y = iris
    booster = lgb.train(PARAMS, lgb.Dataset(X, y), num_boost_round=4)
    mlflow.lightgbm.save_model(booster, str(tmp_path / "booster"))
    meta = yaml.safe_load((tmp_path / "booster" / "MLmodel").read_text())
    assert meta["flavors"]["lightgbm"] == {"lgb_version": lgb.__version__, "data": "model.lgb",
                                           "model_class": "lightgbm.basic.Booster", "code": None}
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.lightgbm"
    loaded = mlflow.lightgbm.load_model(str(tmp_path / "booster"))
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))
    np.testing.assert_allclose(mlflow.pyfunc.load_model(str(tmp_path / "booster")).predict(X), booster.predict(X))

    model = lgb.LGBMClassifier(n_estimators=4, num_leaves=4, verbose=-1).fit(X, y)
    mlflow.lightgbm.save_model(model, str(tmp_path / "wrapper"))
    meta = yaml.safe_load((tmp_path / "wrapper" / "MLmodel").read_text())
    assert meta["flavors"]["lightgbm"]["data"] == "model.pkl"
    assert meta["flavors"]["lightgbm"]["model_class"] == "lightgbm.sklearn.LGBMClassifier"
    requirements = (tmp_path / "wrapper" / "requirements.txt").read_text().splitlines()
    assert f"lightgbm=={lgb.__version__}" in requirements and any(r.startswith("cloudpickle==") for r in requirements)
    loaded = mlflow.lightgbm.load_model(str(tmp_path / "wrapper"))
    assert type(loaded) is lgb.LGBMClassifier
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ---- autologging: lightgbm.train -----------------------------------------------------------------
def test_train_logs_params_metrics_early_stopping_importance_and_model(iris):
    X, y = iris
    X_train, y_train, X_valid, y_valid = _split(X, y)
    mlflow.lightgbm.autolog()
    train_set = lgb.Dataset(X_train, y_train)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)
    recorded: dict = {}
    booster = lgb.train(PARAMS, train_set, num_boost_round=40, valid_sets=[train_set, valid_set],
                        valid_names=["train", "valid"],
                        callbacks=[lgb.early_stopping(3, verbose=False), lgb.record_evaluation(recorded)])
    run = only_run()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "lightgbm"
    params = run.data.params
    assert {k: params[k] for k in PARAMS} == {k: str(v) for k, v in PARAMS.items()}
    assert params["num_boost_round"] == "40" and params["keep_training_booster"] == "False"
    assert not {"train_set", "valid_sets", "callbacks", "feval"} & set(params)

    iterations = len(recorded["valid"]["multi_logloss"])
    best = booster.best_iteration  # counted from 1
    assert run.data.metrics["stopped_iteration"] == iterations
    assert run.data.metrics["best_iteration"] == best
    for name in ("train", "valid"):
        values = recorded[name]["multi_logloss"]
        logged = history(run.info.run_id, f"{name}-multi_logloss")
        assert logged[:iterations] == [(i, pytest.approx(v)) for i, v in enumerate(values)]
        assert logged[iterations:] == [(iterations, pytest.approx(values[best - 1]))]

    client = MlflowClient()
    for kind in ("split", "gain"):
        with open(client.download_artifacts(run.info.run_id, f"feature_importance_{kind}.json")) as fh:
            got = json.load(fh)
        expected = dict(zip(booster.feature_name(), booster.feature_importance(importance_type=kind).tolist(),
                            strict=True))
        assert got == pytest.approx(expected)
    contexts = {(i.dataset.name, i.tags[0].value) for i in run.inputs.dataset_inputs}
    assert contexts == {("dataset", "train"), ("train", "eval"), ("valid", "eval")}

    uri = f"runs:/{run.info.run_id}/model"
    np.testing.assert_allclose(mlflow.lightgbm.load_model(uri).predict(X), booster.predict(X))
    np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X), booster.predict(X))


def test_metric_names_with_at_are_sanitized(iris):
    X, y = iris
    mlflow.lightgbm.autolog(log_models=False)
    data = lgb.Dataset(X, (y == 1).astype(int), group=[50, 50, 50])
    lgb.train({"objective": "lambdarank", "metric": "ndcg", "eval_at": [3], "verbose": -1, "num_threads": 1},
              data, num_boost_round=2, valid_sets=[data], valid_names=["rank"])
    assert "rank-ndcg_at_3" in only_run().data.metrics


# ---- autologging: scikit-learn wrappers ----------------------------------------------------------
def test_classifier_wrapper(iris):
    X, y = iris
    mlflow.autolog()
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1, n_jobs=1).fit(
        X, y, eval_X=(X,), eval_y=(y,))
    run = only_run()
    assert run.data.tags["mlflow.autologging"] == "lightgbm"
    params = run.data.params
    assert params["num_leaves"] == "4" and params["num_boost_round"] == "5" and params["objective"] == "multiclass"
    assert "training_score" not in run.data.metrics  # the sklearn integration stays out of it
    [(name, results)] = model.evals_result_.items()
    values = results["multi_logloss"]
    assert history(run.info.run_id, f"{name}-multi_logloss") == [(i, pytest.approx(v)) for i, v in enumerate(values)]
    assert {"feature_importance_split.json", "feature_importance_gain.json", "model/model.pkl"} <= set(
        artifact_paths(run.info.run_id))
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.tags[0].value == "train"
    uri = f"runs:/{run.info.run_id}/model"
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), model.predict(X))


def test_disable_and_failure_isolation(iris, monkeypatch, autolog_warnings):
    X, y = iris
    mlflow.lightgbm.autolog()
    mlflow.lightgbm.autolog(disable=True)
    lgb.train(PARAMS, lgb.Dataset(X, y), num_boost_round=2)
    assert mlflow.search_runs(output_format="list") == []

    import fluvial.flavors.lightgbm as flavor

    monkeypatch.setattr(flavor, "log_model", lambda *a, **k: 1 / 0)
    mlflow.lightgbm.autolog()
    model = lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, y)
    assert model.booster_.current_iteration() == 3
    assert any("could not log the model" in m for m in autolog_warnings())
    assert only_run().info.status == "FINISHED"
