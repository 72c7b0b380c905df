"""The bar of issue 8: ``fluvial.autolog()`` + ``fit()`` with no active run creates exactly one FINISHED
run holding params, training metrics and a loadable model, for each integration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

import fluvial as mlflow
from fluvial.autologging import autologging_disabled
from tests.autologging._util import only_run


def _iris():
    return load_iris(return_X_y=True, as_frame=True)


def _sklearn():
    from sklearn.ensemble import RandomForestClassifier

    X, y = _iris()
    model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    return model.predict, X, "training_accuracy_score", "n_estimators"


def _xgboost_train():
    xgb = pytest.importorskip("xgboost")
    X, y = _iris()
    data = xgb.DMatrix(X, y)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1}, data, num_boost_round=4,
                        evals=[(data, "train")], verbose_eval=False)
    return (lambda frame: booster.predict(xgb.DMatrix(frame))), X, "train-mlogloss", "num_boost_round"


def _xgboost_sklearn():
    xgb = pytest.importorskip("xgboost")
    X, y = _iris()
    model = xgb.XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(X, y, eval_set=[(X, y)], verbose=False)
    return model.predict, X, "validation_0-mlogloss", "max_depth"


def _lightgbm_train():
    lgb = pytest.importorskip("lightgbm")
    X, y = _iris()
    data = lgb.Dataset(X, y)
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}, data,
                        num_boost_round=4, valid_sets=[data], valid_names=["train"])
    return booster.predict, X, "train-multi_logloss", "num_boost_round"


def _lightgbm_sklearn():
    lgb = pytest.importorskip("lightgbm")
    X, y = _iris()
    model = lgb.LGBMClassifier(n_estimators=4, verbose=-1, n_jobs=1).fit(X, y, eval_X=(X,), eval_y=(y,))
    return model.predict, X, "valid_0-multi_logloss", "num_leaves"


def _lightning():
    torch = pytest.importorskip("torch")
    L = pytest.importorskip("lightning.pytorch")

    class Regressor(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, batch_idx):
            x, t = batch
            loss = torch.nn.functional.mse_loss(self(x), t)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.05)

    X, y = _iris()
    features = torch.tensor(X.to_numpy(), dtype=torch.float32)
    target = torch.tensor(y.to_numpy(), dtype=torch.float32).unsqueeze(1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, target), batch_size=50)
    model = Regressor()
    L.Trainer(max_epochs=2, enable_progress_bar=False, enable_model_summary=False, logger=False,
              enable_checkpointing=False, accelerator="cpu", devices=1).fit(model, loader)
    model.eval()

    def predict(frame):
        with torch.no_grad():
            return model(torch.tensor(frame.to_numpy(), dtype=torch.float32)).numpy()

    return predict, X, "train_loss", "optimizer_name"


CASES = {
    "sklearn": _sklearn,
    "xgboost-train": _xgboost_train,
    "xgboost-sklearn": _xgboost_sklearn,
    "lightgbm-train": _lightgbm_train,
    "lightgbm-sklearn": _lightgbm_sklearn,
    "pytorch-lightning": _lightning,
}


@pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning")
@pytest.mark.filterwarnings(r"ignore:.*treespec, LeafSpec\).* is deprecated:FutureWarning")
@pytest.mark.parametrize("case", list(CASES))
def test_autolog_then_fit_makes_one_finished_run_with_params_metrics_and_model(case):
    mlflow.autolog()
    predict, X, metric, param = CASES[case]()
    assert mlflow.active_run() is None
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == case.split("-")[0]
    assert param in run.data.params
    assert metric in run.data.metrics and np.isfinite(run.data.metrics[metric])
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    with autologging_disabled():
        expected = predict(X)
    got = model.predict(X)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=1e-5)
