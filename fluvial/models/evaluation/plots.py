"""PNG plots of a classifier's evaluation (confusion matrix, ROC and precision-recall curves, lift
curve). Only used when matplotlib is installed; every function writes one file and closes its figure."""

from __future__ import annotations

from typing import Any


def have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    return plt.subplots(1, 1, figsize=(6.0, 4.0), dpi=175)


def _save(fig: Any, path: str) -> None:
    from matplotlib import pyplot as plt

    try:
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)


def confusion_matrix_png(path: str, y: Any, y_pred: Any, labels: Any, sample_weights: Any = None) -> None:
    from sklearn import metrics as sk

    matrix = sk.confusion_matrix(y, y_pred, labels=labels, normalize="true", sample_weight=sample_weights)
    fig, ax = _figure()
    sk.ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=labels).plot(cmap="Blues", ax=ax)
    ax.set_title("Normalized confusion matrix")
    _save(fig, path)


def curves_png(path: str, kind: str, series: list[tuple[str, Any, Any]], pos_label: Any = None) -> None:
    """``kind`` "roc" or "pr"; ``series`` = [(legend, x, y)]."""
    fig, ax = _figure()
    for legend, x, y in series:
        ax.plot(x, y, label=legend, drawstyle="steps-post", linewidth=1)
    suffix = f" (Positive label: {pos_label})" if pos_label is not None else ""
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="gray", alpha=0.3, linestyle="dashed")
        ax.set_xlabel("False Positive Rate" + suffix)
        ax.set_ylabel("True Positive Rate" + suffix)
        ax.set_title("ROC curve")
    else:
        ax.plot([0, 1], [1, 0], color="gray", alpha=0.3, linestyle="dashed")
        ax.set_xlabel("Recall" + suffix)
        ax.set_ylabel("Precision" + suffix)
        ax.set_title("Precision recall curve")
    ax.legend(loc="best" if len(series) == 1 else "center left", bbox_to_anchor=None if len(series) == 1 else (1, 0.5))
    _save(fig, path)


def curve_series(kind: str, y_bin: Any, scores: Any, legend_prefix: str = "", sample_weights: Any = None
                 ) -> tuple[str, Any, Any]:
    from sklearn import metrics as sk

    if kind == "roc":
        fpr, tpr, _ = sk.roc_curve(y_bin, scores, sample_weight=sample_weights)
        auc = sk.roc_auc_score(y_bin, scores, sample_weight=sample_weights)
        return f"{legend_prefix}AUC={auc:.3f}", fpr, tpr
    precision, recall, _ = sk.precision_recall_curve(y_bin, scores, sample_weight=sample_weights)
    ap = sk.average_precision_score(y_bin, scores, sample_weight=sample_weights)
    return f"{legend_prefix}AP={ap:.3f}", recall, precision


def lift_curve_png(path: str, y_bin: Any, scores: Any) -> None:
    """Cumulative lift of the positive class against the fraction of examples, best scores first."""
    import numpy as np

    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.cumsum(np.asarray(y_bin)[order])
    n = len(order)
    fraction = np.arange(1, n + 1) / n
    base = hits[-1] / n if n and hits[-1] else 1.0
    lift = (hits / np.arange(1, n + 1)) / base
    fig, ax = _figure()
    ax.plot(fraction, lift, label="positive class", linewidth=1)
    ax.axhline(1.0, color="gray", alpha=0.3, linestyle="dashed", label="baseline")
    ax.set_xlabel("Percentage of sample")
    ax.set_ylabel("Lift")
    ax.set_title("Lift Curve")
    ax.legend(loc="best")
    _save(fig, path)
