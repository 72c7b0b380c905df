"""Keras 3 autologging (``fluvial.keras.autolog``), as MLflow 2.22's: ``Model.fit`` logs the keyword
arguments of ``fit`` with their defaults (positional ones are not, as in MLflow; never ``x``, ``y``,
``callbacks``, ``validation_data``, ``verbose``) and ``batch_size`` when it can be told, the optimizer's
config as ``optimizer_<key>`` params, the epoch metrics (``loss``, ``val_loss``, ...) with the epoch as
step (or every ``log_every_n_steps`` batches), ``validation_<metric>`` after each evaluation,
``model_summary.txt``, the training (and ``validation_data``) datasets, and the model under ``model``
with a signature from the model's input and output shapes. ``log_input_examples=True`` logs the first
5 rows of ``x`` (an array, DataFrame or dict of them) as the model's input example, as the option is
documented; MLflow 2.22 accepts it but logs none."""

from __future__ import annotations

import inspect
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import helpers, patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "keras"
TESTED_VERSIONS = ("3.0.0", "3.15")
INPUT_EXAMPLE_ROWS = 5  # what log_input_examples=True logs: the first rows of the training input
_UNLOGGED = ("self", "x", "y", "callbacks", "validation_data", "verbose")


@autologging_integration(INTEGRATION)
def autolog(
    log_every_epoch: bool = True,
    log_every_n_steps: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    save_exported_model: bool = False,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: dict[str, Any] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Enable (or disable) autologging of ``keras.Model.fit``."""
    from fluvial.exceptions import InvalidParameterValue

    if save_exported_model and not disable:
        raise InvalidParameterValue("save_exported_model=True needs TensorFlow; fluvial logs .keras models only.")
    _check_frequency(log_every_epoch, log_every_n_steps)
    import keras

    if not _config.check_version(INTEGRATION, "keras", keras.__version__, *TESTED_VERSIONS):
        return
    patching.safe_patch(INTEGRATION, keras.Model, "fit", _patched_fit)


def _check_frequency(log_every_epoch: bool, log_every_n_steps: int | None) -> None:
    if log_every_epoch and log_every_n_steps is not None:
        raise ValueError("`log_every_n_steps` must be None if `log_every_epoch=True`, received "
                         f"`log_every_epoch={log_every_epoch}` and `log_every_n_steps={log_every_n_steps}`.")
    if not log_every_epoch and log_every_n_steps is None:
        raise ValueError("`log_every_n_steps` must be specified if `log_every_epoch=False`.")


def MlflowCallback(log_every_epoch: bool = True, log_every_n_steps: int | None = None) -> Any:
    """A Keras callback logging metrics (and, at the start, the optimizer config and model summary) into
    the active run: ``model.fit(..., callbacks=[fluvial.keras.MlflowCallback()])``."""
    from fluvial.tracking import fluent

    _check_frequency(log_every_epoch, log_every_n_steps)

    class _Sink:
        def log_params(self, params: dict[str, Any]) -> None:
            fluent.log_params(params)

        def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
            fluent.log_metrics(metrics, step=step)

        def log_text(self, text: str, artifact_file: str) -> None:
            fluent.log_text(text, artifact_file)

    return _callback(_Sink(), log_every_epoch, log_every_n_steps)


def _callback(sink: Any, log_every_epoch: bool, log_every_n_steps: int | None) -> Any:
    import keras

    class _Callback(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            config = self.model.optimizer.get_config()
            sink.log_params({f"optimizer_{k}": v for k, v in config.items()})
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
            sink.log_text("\n".join(lines), "model_summary.txt")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if log_every_epoch and logs:
                sink.log_metrics(_floats(logs), step=epoch)

        def on_batch_end(self, batch: int, logs: Any = None) -> None:
            if log_every_n_steps is None or not logs:
                return
            iteration = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            if iteration % log_every_n_steps == 0:
                sink.log_metrics(_floats(logs), step=iteration)

        def on_test_end(self, logs: Any = None) -> None:
            if logs:
                sink.log_metrics({f"validation_{k}": v for k, v in _floats(logs).items()})

    return _Callback()


def _floats(logs: dict[str, Any]) -> dict[str, float]:
    import numpy as np

    return {k: float(np.asarray(v)) for k, v in logs.items()}


def _batch_size(kwargs: dict[str, Any], args: tuple) -> Any:
    if "batch_size" in kwargs:
        return kwargs["batch_size"]
    data = kwargs.get("x", args[0] if args else None)
    for attr in ("batch_size", "_batch_size"):
        value = getattr(data, attr, None)
        if isinstance(value, int):
            return value
    return None


def _patched_fit(session: Any, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    import keras

    unlogged = list(_UNLOGGED)
    batch_size = session.attempt("find the batch size", _batch_size, kwargs, args)
    if batch_size is not None:
        session.attempt("log the batch size", session.log_params, {"batch_size": batch_size})
        unlogged.append("batch_size")
    fit = keras.Model.fit
    fit = getattr(fit, "__wrapped__", fit)

    def fit_params() -> dict[str, Any]:
        parameters = inspect.signature(fit).parameters
        out = {name: p.default for name, p in parameters.items()
               if name not in unlogged and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        out.update({k: v for k, v in kwargs.items() if k not in unlogged})
        return out

    session.attempt("log the fit params", lambda: session.log_params(fit_params()))
    if session.option("log_datasets", True):
        session.attempt("log the datasets", _log_datasets, session, args, kwargs)
    callbacks = list(kwargs.get("callbacks") or (args[5] if len(args) >= 6 else None) or [])
    callback = session.attempt("set up metric logging", _callback, session, session.option("log_every_epoch", True),
                               session.option("log_every_n_steps"))
    if callback is not None:
        callbacks.append(callback)
        if len(args) >= 6:
            args = (*args[:5], callbacks, *args[6:])
        else:
            kwargs["callbacks"] = callbacks
    history = original(self, *args, **kwargs)
    if session.option("log_models", True):
        example = None
        if session.option("log_input_examples", False):
            example = session.attempt("take the input example", _input_example, kwargs.get("x", args[0] if args else None))
        session.attempt("log the model", _log_model, session, self, example)
    return history


def _input_example(x: Any) -> Any:
    """The first rows of ``x`` (an array, DataFrame, or a list/dict of arrays), or None for data that
    cannot be sliced (a generator or a dataset)."""
    import numpy as np

    def head(value: Any) -> Any:
        if isinstance(value, np.ndarray) or type(value).__module__.startswith("pandas"):
            return value[:INPUT_EXAMPLE_ROWS]
        return None

    if isinstance(x, dict):
        parts = {k: head(v) for k, v in x.items()}
        return None if any(v is None for v in parts.values()) else parts
    return head(x)


def _log_datasets(session: Any, args: tuple, kwargs: dict[str, Any]) -> None:
    x = kwargs.get("x", args[0] if args else None)
    y = kwargs.get("y", args[1] if len(args) > 1 else None)
    dataset = helpers.make_dataset(x, y)
    if dataset is not None:
        session.log_input(dataset, "train")
    validation = kwargs.get("validation_data")
    if isinstance(validation, (tuple, list)) and validation:
        dataset = helpers.make_dataset(validation[0], validation[1] if len(validation) > 1 else None)
        if dataset is not None:
            session.log_input(dataset, "eval")


def model_signature(model: Any) -> Any:
    """A tensor signature from the model's input and output shapes (batch dimension -1)."""
    import numpy as np

    from fluvial.models.schema import Schema, TensorSpec
    from fluvial.models.signature import ModelSignature

    def specs(shapes: Any, dtype: Any) -> Any:
        shapes = shapes if isinstance(shapes, list) else [shapes]
        return Schema([TensorSpec(np.dtype(dtype), [-1 if d is None else d for d in shape]) for shape in shapes])

    return ModelSignature(specs(model.input_shape, model.input_dtype), specs(model.output_shape, model.compute_dtype))


def _log_model(session: Any, model: Any, input_example: Any = None) -> None:
    from fluvial.flavors.keras import log_model

    signature = None
    if session.option("log_model_signatures", True):
        signature = session.attempt("infer the model signature", model_signature, model)
    log_model(model, "model", signature=signature if signature is not None else False,
              registered_model_name=session.option("registered_model_name"),
              save_model_kwargs=session.option("save_model_kwargs"), input_example=input_example)
