"""The default evaluator's built-in metrics (same names and formulas as MLflow 2.x), computed with
scikit-learn. Pure functions of labels, predictions and probabilities."""

from __future__ import annotations

from typing import Any


def regressor_metrics(y: Any, y_pred: Any, sample_weights: Any = None) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics as sk

    y_arr = np.asarray(y)
    total = (y_arr * np.asarray(sample_weights)).sum() if sample_weights is not None else sum(y_arr)
    mse = sk.mean_squared_error(y, y_pred, sample_weight=sample_weights)
    return {
        "example_count": len(y_arr),
        "mean_absolute_error": sk.mean_absolute_error(y, y_pred, sample_weight=sample_weights),
        "mean_squared_error": mse,
        "root_mean_squared_error": sk.root_mean_squared_error(y, y_pred, sample_weight=sample_weights)
        if hasattr(sk, "root_mean_squared_error") else float(np.sqrt(mse)),
        "sum_on_target": total,
        "mean_on_target": total / len(y_arr),
        "r2_score": sk.r2_score(y, y_pred, sample_weight=sample_weights),
        "max_error": sk.max_error(y, y_pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(y, y_pred, sample_weight=sample_weights),
    }


def _common(y, y_pred, y_proba, labels, average, pos_label, sample_weights) -> dict[str, Any]:
    from sklearn import metrics as sk

    out: dict[str, Any] = {
        "example_count": len(y),
        "accuracy_score": sk.accuracy_score(y, y_pred, sample_weight=sample_weights),
        "recall_score": sk.recall_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=sample_weights),
        "precision_score": sk.precision_score(y, y_pred, average=average, pos_label=pos_label,
                                              sample_weight=sample_weights),
        "f1_score": sk.f1_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=sample_weights),
    }
    if y_proba is not None:
        out["log_loss"] = sk.log_loss(y, y_proba, labels=labels, sample_weight=sample_weights)
    return out


def binary_metrics(y: Any, y_pred: Any, y_proba: Any = None, labels: Any = None, pos_label: Any = 1,
                   sample_weights: Any = None) -> dict[str, Any]:
    from sklearn import metrics as sk

    tn, fp, fn, tp = sk.confusion_matrix(y, y_pred).ravel()
    return {
        "true_negatives": int(tn), "false_positives": int(fp), "false_negatives": int(fn), "true_positives": int(tp),
        **_common(y, y_pred, y_proba, labels, "binary", pos_label, sample_weights),
    }


def binary_curve_metrics(y: Any, positive_scores: Any, pos_label: Any, sample_weights: Any = None) -> dict[str, float]:
    """``roc_auc`` and ``precision_recall_auc`` (average precision) of the positive class's scores."""
    from sklearn import metrics as sk

    return {
        "roc_auc": sk.roc_auc_score(y_true=y, y_score=positive_scores, sample_weight=sample_weights),
        "precision_recall_auc": sk.average_precision_score(y_true=y, y_score=positive_scores, pos_label=pos_label,
                                                           sample_weight=sample_weights),
    }


def multiclass_metrics(y: Any, y_pred: Any, y_proba: Any = None, labels: Any = None, average: str = "weighted",
                       sample_weights: Any = None) -> dict[str, Any]:
    from sklearn import metrics as sk

    out = _common(y, y_pred, y_proba, labels, average, None, sample_weights)
    if average in ("macro", "weighted") and y_proba is not None:
        out["roc_auc"] = sk.roc_auc_score(y_true=y, y_score=y_proba, sample_weight=sample_weights, average=average,
                                          multi_class="ovr")
    return out


def one_vs_rest(y: Any, y_pred: Any, y_proba: Any, index: int, label: Any) -> tuple[Any, Any, Any]:
    """Labels, predictions and scores binarized for class ``label`` (column ``index`` of ``y_proba``)."""
    import numpy as np

    y_bin = np.where(np.asarray(y) == label, 1, 0)
    pred_bin = None if y_pred is None else np.where(np.asarray(y_pred) == label, 1, 0)
    prob_bin = None if y_proba is None else np.asarray(y_proba)[:, index]
    return y_bin, pred_bin, prob_bin


def per_class_metrics(y: Any, y_pred: Any, labels: Any, y_proba: Any = None, sample_weights: Any = None) -> Any:
    """One row per class (``positive_class`` then its one-vs-rest binary metrics, plus ``roc_auc`` and
    ``precision_recall_auc`` when probabilities exist)."""
    import pandas as pd
    from sklearn import metrics as sk

    rows = []
    for index, label in enumerate(labels):
        y_bin, pred_bin, prob_bin = one_vs_rest(y, y_pred, y_proba, index, label)
        row = {"positive_class": label, **binary_metrics(y_bin, pred_bin, pos_label=1, sample_weights=sample_weights)}
        rows.append((row, y_bin, prob_bin))
    frame = pd.DataFrame([r for r, _, _ in rows])
    if y_proba is not None:
        frame["roc_auc"] = [sk.roc_auc_score(y_true=b, y_score=p, sample_weight=sample_weights) for _, b, p in rows]
        frame["precision_recall_auc"] = [
            sk.average_precision_score(y_true=b, y_score=p, pos_label=1, sample_weight=sample_weights)
            for _, b, p in rows
        ]
    return frame
