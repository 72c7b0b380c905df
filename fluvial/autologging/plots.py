"""The plots autologging logs when matplotlib is installed (as MLflow 2.22 does): scikit-learn
classifiers' ``<prefix>confusion_matrix.png`` and, for binary classifiers,
``<prefix>roc_curve.png`` and ``<prefix>precision_recall_curve.png``; XGBoost's and LightGBM's
``feature_importance_<type>.png``. Figures are drawn on matplotlib's object API (no pyplot state, no
backend switch) and logged through the session; without matplotlib nothing is drawn."""

from __future__ import annotations

import importlib.util
from typing import Any


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _figure(size: tuple[float, float] = (6.4, 4.8)) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def log_classifier_plots(session: Any, estimator: Any, X: Any, y: Any, prefix: str = "training_") -> None:
    """Confusion matrix for any classifier; ROC and precision-recall curves for binary ones that give
    scores (``predict_proba`` or ``decision_function``)."""
    if not matplotlib_available():
        return
    import numpy as np
    from sklearn import metrics

    fig = _figure()
    metrics.ConfusionMatrixDisplay.from_estimator(estimator, X, y, ax=fig.subplots())
    session.log_figure(fig, f"{prefix}confusion_matrix.png")
    binary = len(np.unique(np.asarray(y))) == 2
    if binary and (hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")):
        fig = _figure()
        metrics.RocCurveDisplay.from_estimator(estimator, X, y, ax=fig.subplots())
        session.log_figure(fig, f"{prefix}roc_curve.png")
        fig = _figure()
        metrics.PrecisionRecallDisplay.from_estimator(estimator, X, y, ax=fig.subplots())
        session.log_figure(fig, f"{prefix}precision_recall_curve.png")


def log_importance_plots(session: Any, importances: dict[str, dict[str, Any]]) -> None:
    """``feature_importance_<type>.png``: a horizontal bar per feature, largest at the top."""
    if not matplotlib_available():
        return
    import numpy as np

    for kind, values in importances.items():
        names = [str(k) for k in values]
        scores = np.asarray([float(np.sum(v)) for v in values.values()], dtype=float)
        order = np.argsort(scores)
        fig = _figure((6.4, max(3.0, 0.3 * len(names) + 1.5)))
        ax = fig.subplots()
        ax.barh(np.arange(len(names)), scores[order], align="center", height=0.5)
        ax.set_yticks(np.arange(len(names)), [names[i] for i in order])
        ax.set_xlabel("Importance")
        ax.set_title(f"Feature Importance ({kind})")
        fig.tight_layout()
        session.log_figure(fig, f"feature_importance_{kind}.png")
