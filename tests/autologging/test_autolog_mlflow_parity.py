"""fluvial's autologging beside MLflow 2.22.5's: the same training script runs with each (each in its own
virtualenv and process, ``import <module> as mlflow``) and must log the same params (names and values),
metric names (and values where training is deterministic), tags, artifacts (plots included: the same
``*.png`` names), dataset inputs with their contexts (``train``, ``eval``).

A scenario whose library is not installed in MLflow's virtualenv is skipped (``scripts/mlflow-venvs.sh``
installs scikit-learn, XGBoost, LightGBM, Lightning and Keras 3 there; Keras runs on its torch backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

# the module fixture trains every scenario on both sides (with plots): longer than the default timeout
pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(1800)]

SCRIPT = r'''
import json, os, sys, warnings
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 without TensorFlow
warnings.filterwarnings("ignore")
import logging
logging.disable(logging.WARNING)
import {module} as mlflow
mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("parity.db"))
client = mlflow.MlflowClient()
IGNORED_TAGS = {{"mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName",
                "mlflow.log-model.history", "mlflow.source.git.commit"}}

def artifacts(run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.extend(artifacts(run_id, f.path) if f.is_dir else [f.path])
    return sorted(out)

def describe(run):
    return {{"status": run.info.status, "params": run.data.params, "metrics": run.data.metrics,
            "tags": {{k: v for k, v in run.data.tags.items() if k not in IGNORED_TAGS}},
            "artifacts": artifacts(run.info.run_id),
            "inputs": sorted([d.dataset.name, [t.value for t in d.tags][0]] for d in run.inputs.dataset_inputs)}}

def latest():
    run = mlflow.last_active_run()
    return describe(client.get_run(run.info.run_id))

results = {{}}

def scenario(name, needs):
    def wrap(fn):
        try:
            __import__(needs)
        except ImportError as exc:
            results[name] = {{"skipped": f"{{needs}} is not installed for {module}: {{exc}}"}}
            return fn
        results[name] = fn()
        return fn
    return wrap

from sklearn.datasets import load_diabetes, load_iris
X, y = load_iris(return_X_y=True, as_frame=True)
mlflow.autolog()

@scenario("sklearn-classifier", "sklearn")
def _():
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression
    model = LogisticRegression(max_iter=300).fit(X, y)
    out = latest()
    run_id = mlflow.last_active_run().info.run_id
    X_test, y_test = X.iloc[:40], y.iloc[:40]
    sklearn.metrics.accuracy_score(y_test, model.predict(X_test))
    sklearn.metrics.accuracy_score(y_test, model.predict(X_test))
    model.score(X_test, y_test)
    out["post_training"] = sorted(k for k in client.get_run(run_id).data.metrics if k.endswith("_X_test"))
    return out

@scenario("sklearn-binary", "sklearn")
def _():
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier
    Xb, yb = load_breast_cancer(return_X_y=True, as_frame=True)
    DecisionTreeClassifier(max_depth=2, random_state=0).fit(Xb, yb)
    return latest()

@scenario("sklearn-pipeline", "sklearn")
def _():
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    Xd, yd = load_diabetes(return_X_y=True)
    Pipeline([("scale", StandardScaler()), ("lr", LinearRegression())]).fit(Xd, yd)
    return latest()

@scenario("sklearn-grid-search", "sklearn")
def _():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    mlflow.sklearn.autolog(max_tuning_runs=2)
    GridSearchCV(LogisticRegression(max_iter=300), {{"C": [0.1, 1.0, 10.0]}}, cv=3).fit(X, y)
    out = latest()
    parent = mlflow.last_active_run().info.run_id
    children = [r for r in mlflow.search_runs(output_format="list") if r.data.tags.get("mlflow.parentRunId") == parent]
    out["children"] = sorted([sorted(c.data.params.items()), sorted(c.data.metrics),
                              {{k: v for k, v in c.data.tags.items() if k not in IGNORED_TAGS | {{"mlflow.parentRunId"}}}}]
                             for c in children)
    mlflow.autolog()
    return out

@scenario("xgboost-train", "xgboost")
def _():
    import xgboost as xgb
    dtrain, dvalid = xgb.DMatrix(X.iloc[::2], y.iloc[::2]), xgb.DMatrix(X.iloc[1::2], y.iloc[1::2])
    xgb.train({{"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1}}, dtrain,
              num_boost_round=30, evals=[(dtrain, "train"), (dvalid, "valid")], early_stopping_rounds=2,
              verbose_eval=False)
    return latest()

@scenario("xgboost-sklearn", "xgboost")
def _():
    import xgboost as xgb
    xgb.XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(X, y, eval_set=[(X, y)], verbose=False)
    return latest()

@scenario("lightgbm-train", "lightgbm")
def _():
    import lightgbm as lgb
    train = lgb.Dataset(X.iloc[::2], y.iloc[::2])
    valid = lgb.Dataset(X.iloc[1::2], y.iloc[1::2], reference=train)
    lgb.train({{"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1, "num_threads": 1}}, train,
              num_boost_round=30, valid_sets=[train, valid], valid_names=["train", "valid"],
              callbacks=[lgb.early_stopping(2, verbose=False)])
    return latest()

@scenario("lightgbm-sklearn", "lightgbm")
def _():
    import lightgbm as lgb
    lgb.LGBMClassifier(n_estimators=4, num_leaves=4, verbose=-1, n_jobs=1).fit(X, y)
    return latest()

@scenario("pytorch-lightning", "lightning")
def _():
    import torch, lightning as L
    # MLflow 2.22.5 fails to patch Lightning when it is imported after mlflow.autolog() (a circular
    # import in its hook), so both sides enable it explicitly once Lightning is imported
    mlflow.pytorch.autolog()
    torch.manual_seed(0)
    features = torch.tensor(X.to_numpy(), dtype=torch.float32)
    target = torch.tensor(y.to_numpy(), dtype=torch.float32).unsqueeze(1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, target), batch_size=50)

    class Regressor(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
        def forward(self, x):
            return self.layer(x)
        def training_step(self, batch, batch_idx):
            loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.nn.functional.mse_loss(self(batch[0]), batch[1]))
        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.05)

    L.Trainer(max_epochs=2, enable_progress_bar=False, enable_model_summary=False, logger=False,
              enable_checkpointing=False, accelerator="cpu", devices=1).fit(Regressor(), loader, loader)
    return latest()

@scenario("keras-fit", "keras")
def _():
    import keras, numpy as np
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X.to_numpy(np.float32), y.to_numpy(), epochs=2, batch_size=50, validation_split=0.2, verbose=0)
    return latest()

emit(results)
'''

SCENARIOS = ["sklearn-classifier", "sklearn-binary", "sklearn-pipeline", "sklearn-grid-search", "xgboost-train", "xgboost-sklearn",
             "lightgbm-train", "lightgbm-sklearn", "pytorch-lightning", "keras-fit"]
# metrics whose values depend on timing, not on the training
UNSTABLE = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> dict[str, dict]:
    python = require_mlflow()
    out = {}
    for side in ("mlflow", "fluvial"):
        cwd = Path(tmp_path_factory.mktemp(side))
        source = SCRIPT.format(module=side)
        if side == "mlflow":
            out[side] = run_script(python, source, cwd=cwd, timeout=900)
        else:
            out[side] = run_fluvial(source, cwd=cwd, timeout=900)
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_params_metrics_tags_and_artifacts_as_mlflow(logged, scenario):
    ours, theirs = logged["fluvial"][scenario], logged["mlflow"][scenario]
    if "skipped" in theirs:
        pytest.skip(theirs["skipped"])
    assert "skipped" not in ours, ours
    assert ours["status"] == theirs["status"] == "FINISHED"
    assert ours["params"] == theirs["params"]
    assert sorted(ours["metrics"]) == sorted(theirs["metrics"])
    for key, value in theirs["metrics"].items():
        if key not in UNSTABLE:
            assert ours["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert ours["tags"] == theirs["tags"]
    assert ours["artifacts"] == theirs["artifacts"]
    assert ours["inputs"] == theirs["inputs"]
    for extra in ("post_training", "children"):
        if extra in theirs:
            assert ours[extra] == theirs[extra]


SIGNATURES = r'''
import importlib, inspect, os, warnings
os.environ.setdefault("KERAS_BACKEND", "torch")
warnings.filterwarnings("ignore")
import {module} as mlflow
out = {{}}
for name in ["autolog", "sklearn.autolog", "xgboost.autolog", "lightgbm.autolog", "pytorch.autolog", "keras.autolog",
             "xgboost.save_model", "xgboost.log_model", "xgboost.load_model", "lightgbm.save_model",
             "lightgbm.log_model", "lightgbm.load_model", "pytorch.save_model", "pytorch.log_model",
             "pytorch.load_model", "pytorch.save_state_dict", "pytorch.log_state_dict", "pytorch.load_state_dict"]:
    owner, _, attr = ("{module}." + name).rpartition(".")
    try:
        fn = getattr(importlib.import_module(owner), attr)
    except ImportError as exc:
        out[name] = str(exc)
        continue
    out[name] = [[p.name, None if p.default is p.empty else repr(p.default)]
                 for p in inspect.signature(fn).parameters.values()]
emit(out)
'''


def test_autolog_and_flavor_signatures_cover_mlflows(tmp_path):
    """Every parameter of MLflow's autolog functions and flavor functions exists in fluvial's, with
    the same default (fluvial's ``log_model`` also takes MLflow 3's ``name=``, so its ``artifact_path``
    defaults to None)."""
    theirs = run_script(require_mlflow(), SIGNATURES.format(module="mlflow"), cwd=tmp_path, name="mlflow_sig.py")
    ours = run_fluvial(SIGNATURES.format(module="fluvial"), cwd=tmp_path, name="fluvial_sig.py")
    for name, params in theirs.items():
        if isinstance(params, str):
            continue  # the library is not installed for MLflow
        have = dict(map(tuple, ours[name]))
        for param, default in params:
            assert param in have, f"{name}: no parameter {param!r}"
            if not (param == "artifact_path" and name.endswith("log_model")):
                assert have[param] == default, f"{name}({param}=...): {have[param]} != MLflow's {default}"
