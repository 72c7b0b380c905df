"""The options every autolog integration shares, for the integrations whose own tests do not cover them
(scikit-learn, XGBoost and LightGBM: tests/autologging/test_autolog_plots_and_options.py):
``registered_model_name`` registers the autologged model, ``extra_tags`` tag the run, and for Keras
``log_model_signatures=False`` and ``log_input_examples=True``."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml

import fluvial as mlflow

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 without TensorFlow; set before keras is imported

pytestmark = [
    pytest.mark.slow,  # each training logs and registers a model (requirement inference)
    pytest.mark.timeout(900),  # the first Keras test imports Keras and torch, here and in the inference subprocess
    # Keras 3.15's torch variables under numpy 2.4, and Lightning 2.6 on torch 2.13: library matters
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
    pytest.mark.filterwarnings(r"ignore:.*treespec, LeafSpec\).* is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning"),
    pytest.mark.filterwarnings("ignore:The number of training batches .* is smaller than the logging interval"),
]


def _train_keras() -> None:
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((16, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x.sum(axis=1), epochs=1, batch_size=8, verbose=0)


def _train_statsmodels() -> None:
    import statsmodels.api as sm

    x = pd.DataFrame({"a": np.linspace(0, 1, 20), "b": np.cos(np.linspace(0, 1, 20))})
    sm.OLS(x.a * 2 + x.b, sm.add_constant(x)).fit()


def _train_pytorch() -> None:
    import lightning as L
    import torch

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, _index):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x = torch.rand(16, 2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(Net(), loader)


TRAIN = {"keras": _train_keras, "statsmodels": _train_statsmodels, "pytorch": _train_pytorch}


@pytest.mark.parametrize("library", sorted(TRAIN))
def test_registered_model_name_and_extra_tags(library, tracking_uri):
    flavor = getattr(mlflow, library)
    flavor.autolog(registered_model_name=f"auto-{library}", extra_tags={"team": "ml"})
    try:
        TRAIN[library]()
    finally:
        flavor.autolog(disable=True)
    run = mlflow.last_active_run()
    assert run.data.tags["team"] == "ml"
    assert run.data.tags["mlflow.autologging"] == library
    versions = mlflow.MlflowClient().search_model_versions(f"name='auto-{library}'")
    assert [(int(v.version), v.run_id) for v in versions] == [(1, run.info.run_id)]
    assert mlflow.pyfunc.load_model(f"models:/auto-{library}/1") is not None


def test_keras_signatures_off_and_input_examples_on(tracking_uri):
    mlflow.keras.autolog(log_model_signatures=False, log_input_examples=True)
    try:
        _train_keras()
    finally:
        mlflow.keras.autolog(disable=True)
    run = mlflow.last_active_run()
    client = mlflow.MlflowClient()
    with open(client.download_artifacts(run.info.run_id, "model/MLmodel")) as fh:
        meta = yaml.safe_load(fh)
    assert "signature" not in meta
    assert meta["saved_input_example_info"]["artifact_path"] == "input_example.json"
    example = mlflow.models.Model.load(f"runs:/{run.info.run_id}/model").load_input_example(
        client.download_artifacts(run.info.run_id, "model"))
    assert np.asarray(example).shape == (5, 3)
