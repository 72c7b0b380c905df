"""What several integrations do the same way: datasets from training data, the input example and
signature of an autologged model, params from a training function's arguments, feature importances,
early-stopping metrics. numpy and pandas are imported by the functions that need them."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

INPUT_EXAMPLE_ROWS = 5


def make_dataset(X: Any, y: Any = None, name: str | None = None) -> Any:
    """A ``fluvial.data`` dataset of a DataFrame (features only, as MLflow logs it) or of an array (with
    ``y`` as targets), named ``name`` (default ``dataset``); None for anything else (sparse matrices,
    lists, ...)."""
    import numpy as np

    from fluvial.data.numpy_dataset import from_numpy
    from fluvial.data.pandas_dataset import from_pandas

    if _is_dataframe(X):
        return from_pandas(X, name=name)
    if isinstance(X, np.ndarray):
        targets = None
        if y is not None:
            targets = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
        return from_numpy(X, targets=targets, name=name)
    return None


def _is_dataframe(X: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with every flavor extra
        return False
    return isinstance(X, pd.DataFrame)


def head(X: Any, rows: int = INPUT_EXAMPLE_ROWS) -> Any:
    """A copy of the first ``rows`` rows of a DataFrame, an array or a sparse matrix (None otherwise);
    a copy, so it does not keep a large training set alive."""
    if hasattr(X, "iloc"):
        return X.iloc[:rows].copy()
    if hasattr(X, "shape") and hasattr(X, "__getitem__") and hasattr(X, "copy"):
        return X[:rows].copy()
    return None


def example_and_signature(session: Any, example: Any, predict: Callable[[Any], Any] | None) -> tuple[Any, Any]:
    """``(input_example, signature)`` for ``log_model``, per the session's options: the example only with
    ``log_input_examples``; the signature inferred from the example and ``predict(example)`` unless
    ``log_model_signatures`` is off (then ``False``: none)."""
    signature: Any = False
    if session.option("log_model_signatures", True) and example is not None:
        from fluvial.models.signature import infer_signature

        output = session.attempt("infer the model's output schema", predict, example) if predict else None
        signature = session.attempt("infer the model signature", infer_signature, example, output) or False
    return (example if session.option("log_input_examples", False) else None), signature


def call_params(fn: Callable[..., Any], args: tuple, kwargs: dict, exclude: Iterable[str]) -> dict[str, Any]:
    """The arguments of a call of ``fn`` by parameter name, defaults filled in, without ``exclude``."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    skip = set(exclude)
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if name in skip:
            continue
        if inspect.signature(fn).parameters[name].kind == inspect.Parameter.VAR_KEYWORD:
            out.update({k: v for k, v in value.items() if k not in skip})
        else:
            out[name] = value
    return out


def log_feature_importance(session: Any, importances: dict[str, dict[str, Any]], indent: int | None = None) -> None:
    """``feature_importance_<type>.json`` for each importance type: ``{feature: importance}``, and its
    bar plot ``feature_importance_<type>.png`` when matplotlib is installed."""
    for kind, values in importances.items():
        plain = {str(k): _plain(v) for k, v in values.items()}
        session.log_text(json.dumps(plain, indent=indent), f"feature_importance_{kind}.json")
    from fluvial.autologging.plots import log_importance_plots

    session.attempt("plot feature importance", log_importance_plots, session, importances)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def log_early_stopping(session: Any, history: dict[str, list[float]], stopped_iteration: int,
                       best_iteration: int, best_index: int) -> None:
    """``stopped_iteration`` and ``best_iteration`` metrics, and each metric's value at the best
    iteration logged once more, at the step after the last iteration (so the latest value of every
    metric is that of the model that was kept)."""
    session.log_metrics({"stopped_iteration": stopped_iteration, "best_iteration": best_iteration})
    last_step = max((len(v) for v in history.values()), default=0)
    best = {k: v[best_index] for k, v in history.items() if 0 <= best_index < len(v)}
    if best:
        session.log_metrics(best, step=last_step)


UNKNOWN_DATASET = "unknown_dataset"


def caller_frame(internal: tuple[str, ...]) -> Any:
    """The innermost frame of the user's code: the first caller whose module is none of ``internal``
    (a module is internal when its name equals an entry without its trailing dot, or starts with it)."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not any(module == p.rstrip(".") or module.startswith(p) for p in internal):
            return frame
        frame = frame.f_back
    return None


def variable_name(frame: Any, obj: Any) -> str | None:
    """The name of a (non-underscore) local or global variable of ``frame`` that holds ``obj``."""
    if frame is None:
        return None
    for scope in (frame.f_locals, frame.f_globals):
        for name, value in scope.items():
            if value is obj and not name.startswith("_"):
                return name
    return None
