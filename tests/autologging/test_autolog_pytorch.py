"""PyTorch: the flavor (save/log/load, pyfunc, state dicts, MLmodel in MLflow's format) and autologging
of PyTorch Lightning's ``Trainer.fit``, checked against Lightning's own numbers. CPU only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import fluvial as mlflow
from fluvial import MlflowClient
from tests.autologging._util import artifact_paths, history, only_run

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

pytestmark = [
    # Lightning's advice for real workloads, about the tiny in-memory loaders used here
    pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning"),
    pytest.mark.filterwarnings("ignore:The number of training batches .* is smaller than the logging interval"),
    # Lightning 2.6 internals on torch 2.13 (torch.utils._pytree deprecation), not this code
    pytest.mark.filterwarnings(r"ignore:.*treespec, LeafSpec\).* is deprecated:FutureWarning"),
]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.layer(x)


class Classifier(L.LightningModule):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, t = batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self(x), t)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, t = batch
        self.log("val_loss", torch.nn.functional.binary_cross_entropy_with_logits(self(x), t))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.5)


class Recorder(L.Callback):
    """Lightning's own view of the metrics at each epoch end."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def _data():
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=generator)
    y = (X.sum(1, keepdim=True) > 0).float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
    return X, loader


def _trainer(epochs: int, *callbacks) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, enable_progress_bar=False, enable_model_summary=False, logger=False,
                     enable_checkpointing=False, callbacks=list(callbacks), accelerator="cpu", devices=1)


# ---- the flavor ----------------------------------------------------------------------------------
def test_save_load_pyfunc_in_mlflow_format(tmp_path):
    torch.manual_seed(0)
    net = Net()
    path = tmp_path / "model"
    mlflow.pytorch.save_model(net, str(path))
    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["pytorch"] == {"model_data": "data", "pytorch_version": torch.__version__, "code": None}
    pyfunc_conf = meta["flavors"]["python_function"]
    assert pyfunc_conf["loader_module"] == "mlflow.pytorch" and pyfunc_conf["data"] == "data"
    assert pyfunc_conf["pickle_module_name"] == "mlflow.pytorch.pickle_module"
    assert pyfunc_conf["config"] == {"device": None}
    assert (path / "data" / "pickle_module_info.txt").read_text() == "mlflow.pytorch.pickle_module"
    assert (path / "data" / "model.pth").is_file()
    requirements = (path / "requirements.txt").read_text().splitlines()
    assert "torch==" + torch.__version__.split("+")[0] in requirements

    X = np.random.RandomState(0).rand(5, 4).astype(np.float32)
    expected = net(torch.from_numpy(X)).detach().numpy()
    loaded = mlflow.pytorch.load_model(str(path))
    assert isinstance(loaded, Net) and not loaded.training
    np.testing.assert_allclose(loaded(torch.from_numpy(X)).detach().numpy(), expected)
    pyfunc = mlflow.pyfunc.load_model(str(path))
    np.testing.assert_allclose(pyfunc.predict(X), expected)
    frame = pd.DataFrame(X.astype(np.float64), index=list("abcde"))
    out = pyfunc.predict(frame)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list("abcde")
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-6)


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")
def test_torchscript_extra_files_and_state_dict(tmp_path):
    net = Net()
    scripted = torch.jit.script(net)
    extra = tmp_path / "labels.txt"
    extra.write_text("a\nb\n")
    mlflow.pytorch.save_model(scripted, str(tmp_path / "scripted"), extra_files=[str(extra)])
    meta = yaml.safe_load((tmp_path / "scripted" / "MLmodel").read_text())
    assert meta["flavors"]["pytorch"]["extra_files"] == [{"path": "extra_files/labels.txt"}]
    assert (tmp_path / "scripted" / "extra_files" / "labels.txt").read_text() == "a\nb\n"
    X = torch.rand(3, 4)
    loaded = mlflow.pytorch.load_model(str(tmp_path / "scripted"))
    torch.testing.assert_close(loaded(X), net(X))

    with mlflow.start_run() as run:
        mlflow.pytorch.log_state_dict(net.state_dict(), "weights")
    state = mlflow.pytorch.load_state_dict(f"runs:/{run.info.run_id}/weights")
    fresh = Net()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(X), net(X))


def test_save_model_rejects_non_modules(tmp_path):
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        mlflow.pytorch.save_model(object(), str(tmp_path / "m"))


# ---- autologging ---------------------------------------------------------------------------------
def test_lightning_fit_logs_params_epoch_metrics_checkpoint_and_model():
    torch.manual_seed(0)
    X, loader = _data()
    mlflow.pytorch.autolog()
    model = Classifier()
    recorder = Recorder()
    _trainer(3, recorder).fit(model, loader, loader)
    assert mlflow.active_run() is None
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "pytorch" and run.data.tags["Mode"] == "training"
    params = run.data.params
    assert params["epochs"] == "3" and params["optimizer_name"] == "SGD"
    assert params["lr"] == "0.1" and params["momentum"] == "0.5"
    for key in ("train_loss", "val_loss"):
        assert history(run.info.run_id, key) == [(i, pytest.approx(e[key])) for i, e in enumerate(recorder.epochs)]
    paths = artifact_paths(run.info.run_id)
    assert {"model/MLmodel", "model/data/model.pth", "model_summary.txt",
            "checkpoints/latest_checkpoint.pth", "checkpoints/latest_checkpoint_metrics.json"} <= set(paths)
    assert run.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/latest_checkpoint.pth"
    with open(MlflowClient().download_artifacts(run.info.run_id, "checkpoints/latest_checkpoint_metrics.json")) as fh:
        assert json.load(fh)["epoch"] == 2

    uri = f"runs:/{run.info.run_id}/model"
    expected = model(X).detach().numpy()
    loaded = mlflow.pytorch.load_model(uri)
    assert type(loaded).__name__ == "Classifier"
    np.testing.assert_allclose(loaded(X).detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X.numpy()), expected, rtol=1e-6)


def test_early_stopping_is_logged():
    torch.manual_seed(0)
    _, loader = _data()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    stopper = L.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0, mode="min")
    _trainer(10, stopper).fit(Classifier(), loader, loader)
    run = only_run()
    params = run.data.params
    assert params["monitor"] == "val_loss" and params["patience"] == "1" and params["mode"] == "min"
    assert run.data.metrics["stopped_epoch"] == stopper.stopped_epoch > 0
    assert run.data.metrics["restored_epoch"] == stopper.stopped_epoch - 1
    assert run.data.metrics["wait_count"] == stopper.wait_count
    assert artifact_paths(run.info.run_id) == ["model_summary.txt"]


def test_disable_and_failure_isolation(monkeypatch, autolog_warnings):
    _, loader = _data()
    mlflow.pytorch.autolog()
    mlflow.pytorch.autolog(disable=True)
    _trainer(1).fit(Classifier(), loader, loader)
    assert mlflow.search_runs(output_format="list") == []

    import fluvial.flavors.pytorch as flavor

    monkeypatch.setattr(flavor, "log_model", lambda *a, **k: 1 / 0)
    mlflow.pytorch.autolog(checkpoint=False)
    trainer = _trainer(1)
    trainer.fit(Classifier(), loader, loader)
    assert trainer.current_epoch == 1 and not any(type(c).__name__ == "AutologCallback" for c in trainer.callbacks)
    assert any("could not log the model" in m for m in autolog_warnings())
    assert only_run().info.status == "FINISHED"
