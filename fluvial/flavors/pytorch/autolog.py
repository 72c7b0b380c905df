"""PyTorch autologging (``fluvial.pytorch.autolog``), for PyTorch Lightning (``lightning.pytorch`` and
the older ``pytorch_lightning`` package; each is patched when it is imported).

``Trainer.fit`` logs: params ``epochs``, ``optimizer_name`` and the first optimizer's ``defaults`` (and,
with an EarlyStopping callback, its ``monitor``, ``mode``, ``patience``, ``min_delta``,
``stopped_epoch``); the tag ``Mode=training``; every metric in ``trainer.callback_metrics`` at the end of
each ``log_every_n_epoch``-th epoch (step = epoch), and with ``log_every_n_step`` the step metrics every
n steps; early-stopping results (``stopped_epoch``, ``restored_epoch``, ``best_score``, ``wait_count``);
with ``checkpoint`` the latest (best) checkpoint as ``checkpoints/latest_checkpoint.pth`` with its
metrics; ``model_summary.txt``; and the LightningModule under ``model`` (pytorch flavor).

Plain PyTorch training loops have no ``fit`` to patch: with Lightning absent there is nothing to log.
"""

from __future__ import annotations

import json
import os
import tempfile
from types import ModuleType
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import hooks, patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "pytorch"
LIGHTNING_MODULES = ("lightning.pytorch", "pytorch_lightning")
TESTED_VERSIONS = ("2.0.0", "2.6")
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_FILE = "latest_checkpoint.pth"
CHECKPOINT_METRICS_FILE = "latest_checkpoint_metrics.json"
CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"


@autologging_integration(INTEGRATION)
def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    checkpoint: bool = True,
    checkpoint_monitor: str | None = "val_loss",
    checkpoint_mode: str = "min",
    checkpoint_save_best_only: bool = True,
    checkpoint_save_weights_only: bool = False,
    checkpoint_save_freq: str | int = "epoch",
) -> None:
    """Enable (or disable) autologging for PyTorch Lightning's ``Trainer.fit``."""
    import importlib.util

    if checkpoint_mode not in ("min", "max"):
        raise ValueError(f"checkpoint_mode must be 'min' or 'max', not {checkpoint_mode!r}")
    installed = [m for m in LIGHTNING_MODULES if importlib.util.find_spec(m.partition(".")[0]) is not None]
    if not installed:
        _config.warn(INTEGRATION, "PyTorch Lightning is not installed: fluvial's PyTorch autologging patches "
                     "Lightning's Trainer.fit and has nothing to patch without it.")
        return
    for module in installed:
        hooks.when_imported(module, _patch_lightning, owner=INTEGRATION)


def _patch_lightning(module: ModuleType) -> None:
    version = str(getattr(module, "__version__", "0"))
    if _config.check_version(INTEGRATION, module.__name__, version, *TESTED_VERSIONS):
        patching.safe_patch(INTEGRATION, module.Trainer, "fit", _patched_fit)


def _lightning_of(trainer: Any) -> Any:
    import importlib

    top = type(trainer).__module__.split(".")[0]
    return importlib.import_module("pytorch_lightning" if top == "pytorch_lightning" else "lightning.pytorch")


def _scalar(value: Any) -> float | None:
    try:
        if hasattr(value, "numel") and value.numel() != 1:
            return None
        return float(value)
    except (TypeError, ValueError):
        return None


def _optimizer_name(optimizer: Any) -> str:
    inner = getattr(optimizer, "_optimizer", None)  # LightningOptimizer wraps the torch optimizer
    return type(inner if inner is not None else optimizer).__name__


def _early_stopping(trainer: Any, lightning: Any) -> Any:
    cls = lightning.callbacks.EarlyStopping
    return next((cb for cb in trainer.callbacks if isinstance(cb, cls)), None)


def _callback(session: Any, lightning: Any) -> Any:
    class AutologCallback(lightning.Callback):  # type: ignore[name-defined, misc]
        """Logs params when training starts and metrics (and checkpoints) as epochs end."""

        def __init__(self) -> None:
            self.step_metrics: set[str] = set()
            self.best: float | None = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            session.attempt("log the training params", self._log_params, trainer)

        def _log_params(self, trainer: Any) -> None:
            session.set_tags({"Mode": "training"})
            params: dict[str, Any] = {"epochs": trainer.max_epochs}
            optimizers = getattr(trainer, "optimizers", None) or []
            if optimizers:
                params["optimizer_name"] = _optimizer_name(optimizers[0])
                params.update(getattr(optimizers[0], "defaults", {}) or {})
            early = _early_stopping(trainer, lightning)
            if early is not None:
                params.update({p: getattr(early, p) for p in ("monitor", "mode", "patience", "min_delta",
                                                              "stopped_epoch") if hasattr(early, p)})
            session.log_params(params)

        def _metrics(self, trainer: Any, exclude: set[str]) -> dict[str, float]:
            out = {}
            for name, value in trainer.callback_metrics.items():
                number = _scalar(value)
                if number is not None and name not in exclude:
                    out[name] = number
            return out

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
            every = session.option("log_every_n_step")
            if not every or trainer.sanity_checking or trainer.global_step % every:
                return
            metrics = {k: v for k, v in self._metrics(trainer, set()).items()
                       if k.endswith("_step") or k in self.step_metrics or not k.endswith("_epoch")}
            self.step_metrics.update(metrics)
            session.attempt("log step metrics", session.log_metrics, metrics, trainer.global_step)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking:
                return
            epoch = pl_module.current_epoch
            metrics = self._metrics(trainer, self.step_metrics)
            if (epoch + 1) % max(1, int(session.option("log_every_n_epoch", 1) or 1)) == 0:
                session.attempt("log epoch metrics", session.log_metrics, metrics, epoch)
            if session.option("checkpoint", True) and session.option("checkpoint_save_freq", "epoch") == "epoch":
                session.attempt("log a checkpoint", self._checkpoint, trainer, metrics, epoch)

        def _checkpoint(self, trainer: Any, metrics: dict[str, float], epoch: int) -> None:
            monitor = session.option("checkpoint_monitor")
            if session.option("checkpoint_save_best_only", True):
                value = metrics.get(monitor) if monitor else None
                if value is None:
                    return
                better = (self.best is None or (value < self.best if session.option("checkpoint_mode", "min") == "min"
                                                else value > self.best))
                if not better:
                    return
                self.best = value
            with tempfile.TemporaryDirectory(prefix="fluvial-ckpt-") as tmp:
                trainer.save_checkpoint(os.path.join(tmp, CHECKPOINT_FILE),
                                        weights_only=bool(session.option("checkpoint_save_weights_only", False)))
                with open(os.path.join(tmp, CHECKPOINT_METRICS_FILE), "w") as fh:
                    json.dump({**metrics, "epoch": epoch, "global_step": trainer.global_step}, fh, indent=2)
                session.client.log_artifacts(session.run_id, tmp, CHECKPOINT_DIR)
            session.set_tags({CHECKPOINT_TAG: f"{CHECKPOINT_DIR}/{CHECKPOINT_FILE}"})

    return AutologCallback()


def _patched_fit(session: Any, original: Any, trainer: Any, *args: Any, **kwargs: Any) -> Any:
    lightning = _lightning_of(trainer)
    model = args[0] if args else kwargs.get("model")
    callback = session.attempt("set up logging callbacks", _callback, session, lightning)
    if callback is not None:
        trainer.callbacks.append(callback)
    try:
        result = original(trainer, *args, **kwargs)
    finally:
        if callback is not None and callback in trainer.callbacks:
            trainer.callbacks.remove(callback)
    session.attempt("log early stopping", _log_early_stopping, session, trainer, lightning)
    if model is not None:
        session.attempt("log the model summary", _log_summary, session, model, lightning)
        if session.option("log_models", True):
            session.attempt("log the model", _log_model, session, model)
    return result


def _log_early_stopping(session: Any, trainer: Any, lightning: Any) -> None:
    early = _early_stopping(trainer, lightning)
    if early is None or not getattr(early, "stopped_epoch", 0):
        return
    metrics: dict[str, Any] = {"stopped_epoch": early.stopped_epoch,
                               "restored_epoch": early.stopped_epoch - max(1, early.patience)}
    if _scalar(getattr(early, "best_score", None)) is not None:
        metrics["best_score"] = _scalar(early.best_score)
    if hasattr(early, "wait_count"):
        metrics["wait_count"] = early.wait_count
    session.log_metrics(metrics)


def _log_summary(session: Any, model: Any, lightning: Any) -> None:
    from importlib import import_module

    summary = import_module(f"{lightning.__name__}.utilities.model_summary").ModelSummary(model, max_depth=-1)
    session.log_text(str(summary), "model_summary.txt")


def _log_model(session: Any, model: Any) -> None:
    from fluvial.flavors.pytorch import log_model

    log_model(model, "model", registered_model_name=session.option("registered_model_name"))
