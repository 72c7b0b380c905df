"""XGBoost, LightGBM and PyTorch models cross between MLflow 2.22.5 (in its own virtualenv) and fluvial,
both ways: each side saves (and logs, through autologging) models, the other loads them with the flavor's
``load_model`` and through pyfunc, and the predictions must be the same.

A library that is not installed in MLflow's virtualenv skips its tests (``scripts/mlflow-venvs.sh``
installs scikit-learn only; XGBoost, LightGBM and PyTorch are added when available)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow]

# Each SAVE script defines its models, saves them under argv[2] and emits their predictions on the
# iris features (argv[1]). Models are also logged by autologging, and the run's model path is emitted.
PRELUDE = '''
import json, os, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import {module} as mlflow
df = pd.read_csv(sys.argv[1]); X, y = df.drop(columns=["target"]), df["target"]
out = {{}}
def available(name):
    try:
        __import__(name)
        return True
    except ImportError as exc:
        out["skipped"] = f"{{name}} is not installed for {module}: {{exc}}"
        return False
'''

SAVE = {
    "xgboost": '''
if available("xgboost"):
    import xgboost as xgb
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(X, y), num_boost_round=5)
    mlflow.xgboost.save_model(booster, sys.argv[2] + "/booster")
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)
    mlflow.xgboost.save_model(clf, sys.argv[2] + "/classifier", model_format="json")
    out["booster"] = booster.predict(xgb.DMatrix(X)).tolist()
    out["classifier"] = clf.predict(X).tolist()
    mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("compat.db"))
    mlflow.xgboost.autolog()
    auto = xgb.XGBRegressor(n_estimators=4, max_depth=2, n_jobs=1).fit(X, y)
    out["autologged"] = auto.predict(X).tolist()
    out["autologged_path"] = mlflow.MlflowClient().download_artifacts(mlflow.last_active_run().info.run_id, "model")
''',
    "lightgbm": '''
if available("lightgbm"):
    import lightgbm as lgb
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1,
                         "num_threads": 1}, lgb.Dataset(X, y), num_boost_round=5)
    mlflow.lightgbm.save_model(booster, sys.argv[2] + "/booster")
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1, n_jobs=1).fit(X, y)
    mlflow.lightgbm.save_model(clf, sys.argv[2] + "/classifier")
    out["booster"] = booster.predict(X).tolist()
    out["classifier"] = clf.predict(X).tolist()
    mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("compat.db"))
    mlflow.lightgbm.autolog()
    auto = lgb.LGBMRegressor(n_estimators=4, verbose=-1, n_jobs=1).fit(X, y)
    out["autologged"] = auto.predict(X).tolist()
    out["autologged_path"] = mlflow.MlflowClient().download_artifacts(mlflow.last_active_run().info.run_id, "model")
''',
    "pytorch": '''
if available("torch"):
    import torch

    class Net(torch.nn.Module):  # defined in __main__: cloudpickle saves the class with the model
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))

        def forward(self, x):
            return self.layers(x)

    torch.manual_seed(0)
    net = Net().eval()
    mlflow.pytorch.save_model(net, sys.argv[2] + "/net")
    with torch.no_grad():
        out["net"] = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy().tolist()
''',
}

LOAD = {
    "xgboost": '''
if available("xgboost"):
    import xgboost as xgb
    booster = mlflow.xgboost.load_model(sys.argv[2] + "/booster")
    out["booster"] = booster.predict(xgb.DMatrix(X)).tolist()
    out["booster_pyfunc"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[2] + "/booster").predict(X)).tolist()
    clf = mlflow.xgboost.load_model(sys.argv[2] + "/classifier")
    out["classifier_type"] = type(clf).__name__
    out["classifier"] = clf.predict(X).tolist()
    out["classifier_pyfunc"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[2] + "/classifier").predict(X)).tolist()
    out["autologged"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[3]).predict(X)).tolist()
''',
    "lightgbm": '''
if available("lightgbm"):
    booster = mlflow.lightgbm.load_model(sys.argv[2] + "/booster")
    out["booster"] = booster.predict(X).tolist()
    out["booster_pyfunc"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[2] + "/booster").predict(X)).tolist()
    clf = mlflow.lightgbm.load_model(sys.argv[2] + "/classifier")
    out["classifier_type"] = type(clf).__name__
    out["classifier"] = clf.predict(X).tolist()
    out["classifier_pyfunc"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[2] + "/classifier").predict(X)).tolist()
    out["autologged"] = np.asarray(mlflow.pyfunc.load_model(sys.argv[3]).predict(X)).tolist()
''',
    "pytorch": '''
if available("torch"):
    import torch
    net = mlflow.pytorch.load_model(sys.argv[2] + "/net")
    with torch.no_grad():
        out["net"] = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy().tolist()
    out["net_pyfunc"] = mlflow.pyfunc.load_model(sys.argv[2] + "/net").predict(X).to_numpy().tolist()
''',
}

FLAVORS = ["xgboost", "lightgbm", "pytorch"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.assign(target=y).to_csv(tmp_path / "iris.csv", index=False)
    return tmp_path / "iris.csv"


def _save_and_load(saver, loader, flavor: str, data: Path, tmp_path: Path) -> tuple[dict, dict]:
    models = tmp_path / "models"
    models.mkdir()
    saved = saver(PRELUDE.format(module=saver.module) + SAVE[flavor] + "\nemit(out)\n", str(data), str(models),
                  tmp_path)
    if "skipped" in saved:
        pytest.skip(saved["skipped"])
    loaded = loader(PRELUDE.format(module=loader.module) + LOAD[flavor] + "\nemit(out)\n", str(data), str(models),
                    saved.get("autologged_path", ""), tmp_path)
    if "skipped" in loaded:
        pytest.skip(loaded["skipped"])
    return saved, loaded


class _Side:
    def __init__(self, module: str) -> None:
        self.module = module

    def __call__(self, source: str, *args: str) -> dict:
        *argv, cwd = args
        if self.module == "mlflow":
            return run_script(require_mlflow(), source, *argv, cwd=Path(cwd), name="mlflow_side.py")
        return run_fluvial(source, *argv, cwd=Path(cwd), name="fluvial_side.py")


def _compare(flavor: str, saved: dict, loaded: dict) -> None:
    if flavor == "pytorch":
        np.testing.assert_allclose(loaded["net"], saved["net"], rtol=1e-6)
        np.testing.assert_allclose(loaded["net_pyfunc"], saved["net"], rtol=1e-6)
        return
    for key in ("booster", "booster_pyfunc"):
        np.testing.assert_allclose(loaded[key], saved["booster"], rtol=1e-6)
    assert loaded["classifier_type"] == ("XGBClassifier" if flavor == "xgboost" else "LGBMClassifier")
    for key in ("classifier", "classifier_pyfunc"):
        np.testing.assert_array_equal(loaded[key], saved["classifier"])
    np.testing.assert_allclose(loaded["autologged"], saved["autologged"], rtol=1e-6)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_saved_by_mlflow_loads_in_fluvial(flavor, data, tmp_path):
    saved, loaded = _save_and_load(_Side("mlflow"), _Side("fluvial"), flavor, data, tmp_path)
    _compare(flavor, saved, loaded)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_saved_by_fluvial_loads_in_mlflow(flavor, data, tmp_path):
    saved, loaded = _save_and_load(_Side("fluvial"), _Side("mlflow"), flavor, data, tmp_path)
    _compare(flavor, saved, loaded)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_mlmodel_flavor_entries_match_mlflows(flavor, data, tmp_path):
    """The MLmodel flavor entries fluvial writes are the ones MLflow writes (same keys and values)."""
    import yaml

    results = {}
    for module in ("mlflow", "fluvial"):
        models = tmp_path / module
        models.mkdir()
        saved = _Side(module)(PRELUDE.format(module=module) + SAVE[flavor] + "\nemit(out)\n", str(data),
                              str(models), str(tmp_path / module))
        if "skipped" in saved:
            pytest.skip(saved["skipped"])
        entries = {}
        for mlmodel in sorted(models.glob("*/MLmodel")):
            meta = yaml.safe_load(mlmodel.read_text())
            entries[mlmodel.parent.name] = meta["flavors"]
            assert meta["mlflow_version"] == "2.22.5"
        results[module] = entries
    assert results["fluvial"] == results["mlflow"]
