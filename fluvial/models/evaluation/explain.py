"""SHAP explainability for ``evaluate`` (classifier and regressor), as MLflow 2.22.5's built-in shap
evaluator does it: on unless ``evaluator_config["log_model_explainability"]`` is false, skipped
silently without shap and matplotlib (an error when explicitly asked for), on up to
``explainability_nsamples`` (2000) rows sampled with ``shap.sample(random_state=0)``. Logs
``<prefix>shap_beeswarm_plot.png``, ``<prefix>shap_summary_plot.png`` and
``<prefix>shap_feature_importance_plot.png`` to the run, and the explainer under ``explainer`` through
``fluvial.shap`` (a warning, as in MLflow, when the explainer cannot be saved)."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency

_logger = logging.getLogger(__name__)
ALGORITHMS = ("exact", "permutation", "partition", "kernel")
DEFAULT_SAMPLE_ROWS = 2000
PLOTS = ("shap_beeswarm_plot", "shap_summary_plot", "shap_feature_importance_plot")


def requested(config: dict[str, Any]) -> bool:
    """Whether explainability runs: on by default when shap and matplotlib are installed; asked for
    explicitly without them, a clear error."""
    flag = config.get("log_model_explainability", True)
    have = all(importlib.util.find_spec(m) is not None for m in ("shap", "matplotlib"))
    if flag and not have and "log_model_explainability" in config:
        raise MissingDependency("evaluator_config['log_model_explainability'] is True but SHAP and matplotlib are "
                                'not both installed: pip install "fluvial[shap]", or leave it unset.')
    algorithm = config.get("explainability_algorithm")
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise InvalidParameterValue(f"Specified explainer algorithm {algorithm} is unsupported. Currently only "
                                    f"support {','.join(ALGORITHMS)} algorithms.")
    link = config.get("explainability_kernel_link", "identity")
    if link not in ("identity", "logit"):
        raise InvalidParameterValue("explainability_kernel_link config can only be set to 'identity' or 'logit', "
                                    f"but got '{link}'.")
    return bool(flag) and have


def _fill_values(df: Any) -> dict[str, Any]:
    """Mean of each continuous column, mode of the others (what missing sampled values become)."""
    import numpy as np

    out = {}
    for c in df.columns:
        col = df[c]
        continuous = np.issubdtype(col.dtype, np.floating) or (
            np.issubdtype(col.dtype, np.integer) and col.nunique() / max(len(col), 1) > 0.05)
        if continuous:
            out[c] = col.mean()
        elif not col.mode().empty:
            out[c] = col.mode().iloc[0]
    return out


def _frame_predict(x: Any, predict_fn: Any, feature_names: list[str]) -> Any:
    import pandas as pd

    frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(x, columns=feature_names)
    frame.columns = feature_names
    return predict_fn(frame)


def explain(evaluator: Any, tmp: str, y: Any, y_pred: Any) -> None:
    """Compute SHAP values for ``evaluator``'s model and data and log the plots (and explainer)."""
    import warnings

    with warnings.catch_warnings():  # shap's own deprecation notices about its dependencies
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        _explain(evaluator, tmp, y, y_pred)


def _explain(evaluator: Any, tmp: str, y: Any, y_pred: Any) -> None:
    import numpy as np
    from sklearn.pipeline import Pipeline

    config = evaluator.config
    if evaluator.model is None:
        return
    y_arr = np.asarray(y)
    if not (np.issubdtype(y_arr.dtype, np.number) or y_arr.dtype == np.bool_):
        _logger.warning("Skip logging model explainability insights because it requires all label values to be "
                        "numeric or boolean.")
        return
    algorithm = config.get("explainability_algorithm")
    X_df = evaluator.data.features.copy(deep=True)
    if algorithm != "kernel" and not all(np.issubdtype(t, np.number) for t in X_df.dtypes):
        _logger.warning(f"Skip logging model explainability insights because the shap explainer {algorithm} "
                        "requires all feature values to be numeric, and each feature column must only contain "
                        "scalar values.")
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import shap
    from matplotlib import pyplot

    rows = config.get("explainability_nsamples", DEFAULT_SAMPLE_ROWS)
    fill = _fill_values(X_df)
    sampled = shap.sample(X_df, rows, random_state=0).fillna(fill)
    names = [str(c) for c in X_df.columns]
    raw = evaluator.raw
    predict_fn = functools.partial(_frame_predict, predict_fn=raw.predict if raw is not None else
                                   evaluator.model.predict, feature_names=list(X_df.columns))
    labels = config.get("label_list")
    if labels is None:
        labels = np.unique(np.concatenate([y_arr, np.asarray(y_pred)]))
    try:
        if algorithm == "kernel":
            background = shap.sample(X_df, rows, random_state=3).fillna(fill)
            explainer = shap.KernelExplainer(predict_fn, background,
                                             link=config.get("explainability_kernel_link", "identity"))
            values = shap.Explanation(explainer.shap_values(sampled), feature_names=names)
        else:
            if algorithm:
                explainer = shap.Explainer(predict_fn, sampled, feature_names=names, algorithm=algorithm)
            elif raw is not None and not len(labels) > 2 and not isinstance(raw, Pipeline):
                explainer = shap.Explainer(raw, sampled, feature_names=names)
            else:
                explainer = shap.Explainer(predict_fn, sampled, feature_names=names)
            values = explainer(sampled)
    except Exception as exc:
        if not config.get("ignore_exceptions", True):
            raise
        _logger.warning(f"Shap evaluation failed. Reason: {exc!r}. Set logging level to DEBUG to see the full "
                        "traceback.")
        return
    _log_explainer(explainer)

    def axes() -> None:
        pyplot.xticks(fontsize=10)
        pyplot.yticks(fontsize=10)

    def color_bar() -> None:
        pyplot.gcf().axes[-1].set_aspect("auto")
        pyplot.gcf().axes[-1].set_box_aspect(50)

    def beeswarm() -> None:
        shap.plots.beeswarm(values, show=False, color_bar=True)
        color_bar()

    def summary() -> None:
        shap.summary_plot(values, show=False, color_bar=True)
        color_bar()

    def importance() -> None:
        shap.plots.bar(values, show=False)

    draws = {"shap_beeswarm_plot": beeswarm, "shap_summary_plot": summary, "shap_feature_importance_plot": importance}
    from fluvial.models.evaluation.base import ImageEvaluationArtifact

    for name, draw in draws.items():
        path = os.path.join(tmp, f"{evaluator.prefix}{name}.png")
        try:
            pyplot.clf()
            draw()
            axes()
            pyplot.savefig(path, bbox_inches="tight")
        except Exception as exc:  # e.g. a multiclass explanation a plot cannot draw: MLflow skips it too
            _logger.warning(f"Failed to log image artifact {name!r}: {exc!r}")
        else:
            evaluator._log_file(path, name, ImageEvaluationArtifact)
        finally:
            pyplot.close(pyplot.gcf())


def _log_explainer(explainer: Any) -> None:
    try:
        from fluvial import shap as fluvial_shap

        fluvial_shap.log_explainer(explainer, artifact_path="explainer")
    except Exception as exc:  # as MLflow: an explainer that cannot be saved does not fail evaluate
        _logger.warning(f"Logging explainer failed. Reason: {exc!r}. Set logging level to DEBUG to see the full "
                        "traceback.")
