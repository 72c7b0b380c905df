"""The default evaluator: predictions, built-in metrics for classifiers and regressors, user metrics
(``extra_metrics``), custom artifacts, classifier plots and tables, all logged to one run."""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import pathlib
import pickle
import shutil
import tempfile
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.evaluation import explain, plots
from fluvial.models.evaluation import metrics as builtin
from fluvial.models.evaluation.base import (
    CsvEvaluationArtifact,
    EvaluationArtifact,
    EvaluationMetric,
    EvaluationResult,
    ImageEvaluationArtifact,
    JsonEvaluationArtifact,
    MetricValue,
    NumpyEvaluationArtifact,
    PickleEvaluationArtifact,
    artifact_type_for,
)
from fluvial.models.evaluation.dataset import EvalData

_logger = logging.getLogger(__name__)
_SKLEARN_LOADERS = ("mlflow.sklearn", "fluvial.sklearn", "fluvial.flavors.sklearn")
EVAL_TABLE = "eval_results_table.json"


def raw_sklearn_model(model: Any) -> Any:
    """The scikit-learn estimator behind a pyfunc model of the sklearn flavor, else None."""
    meta = getattr(model, "metadata", None)
    if meta is None or not hasattr(model, "_model_impl"):
        return None
    loader = (meta.flavors.get("python_function") or {}).get("loader_module")
    if loader not in _SKLEARN_LOADERS:
        return None
    getter = getattr(model._model_impl, "get_raw_model", None)
    return getter() if getter else model._model_impl


def split_output(output: Any, column: str | None) -> tuple[Any, Any]:
    """(predictions, other output columns) from what a model's predict returned."""
    import pandas as pd

    missing = ("Output column name is not specified for the multi-output model. Please set the correct output "
               "column name using the `predictions` parameter.")
    if isinstance(output, list) and output and all(isinstance(p, dict) for p in output):
        output = pd.DataFrame(output)
    if isinstance(output, dict):
        output = pd.DataFrame(output)
    if isinstance(output, pd.DataFrame):
        if column in output.columns:
            return output[column], output.drop(columns=column)
        if len(output.columns) == 1:
            return output[output.columns[0]], None
        if column is None:
            raise InvalidParameterValue(missing)
        raise InvalidParameterValue(f"Output column name '{column}' is not found in the model predictions "
                                    f"{list(output.columns)}. Please set the correct output column name using the "
                                    "`predictions` parameter.")
    return output, None


class DefaultEvaluator:
    def __init__(self, *, client: Any, run_id: str | None, model_type: str | None, data: EvalData,
                 config: dict[str, Any], model: Any = None, predictions: str | None = None,
                 extra_metrics: list[EvaluationMetric] | None = None, custom_artifacts: list[Any] | None = None,
                 log: bool = True) -> None:
        self.client, self.run_id, self.model_type, self.data = client, run_id, model_type, data
        self.config, self.model, self.output_column = config, model, predictions
        self.extra_metrics = list(extra_metrics or [])
        self.custom_artifacts = list(custom_artifacts or [])
        self.log = log and run_id is not None
        self.prefix = config.get("metric_prefix") or ""
        if not isinstance(self.prefix, str):
            raise InvalidParameterValue("evaluator_config['metric_prefix'] must be a string")
        self.sample_weights = config.get("sample_weights")
        self.col_mapping = config.get("col_mapping") or {}
        self.values: dict[str, MetricValue] = {}
        self.artifacts: dict[str, EvaluationArtifact] = {}
        self.raw = raw_sklearn_model(model)
        self.other_outputs: Any = None

    # ---- predictions -------------------------------------------------------------------------
    def _X(self) -> Any:
        return self.data.features.copy(deep=True)

    def _predict(self) -> tuple[Any, Any]:
        import numpy as np

        if self.model is None:
            if self.data.predictions is None:
                raise InvalidParameterValue(
                    "Either a model or set of predictions must be specified in order to use the default evaluator. "
                    "Either specify the `model` parameter, the `predictions` parameter, or an MLflow dataset "
                    "containing the `predictions` column name (via the `data` parameter)."
                )
            return np.asarray(self.data.predictions), None
        if self.raw is not None:
            y_pred, proba = self.raw.predict(self._X()), None
            if self.model_type == "classifier" and hasattr(self.raw, "predict_proba"):
                proba = self.raw.predict_proba(self._X())
            return y_pred, proba
        y_pred, self.other_outputs = split_output(self.model.predict(self._X()), self.output_column)
        return np.asarray(y_pred), None

    def _put(self, metrics: dict[str, Any]) -> None:
        for name, value in metrics.items():
            self.values[name] = MetricValue(aggregate_results={name: value})

    def _score(self, y: Any) -> None:
        if self.raw is None or not hasattr(self.raw, "score"):
            return
        try:
            self._put({"score": self.raw.score(self._X(), y, sample_weight=self.sample_weights)})
        except Exception as exc:
            _logger.warning("Computing sklearn model score failed: %r.", exc)

    # ---- built-in metrics ----------------------------------------------------------------------
    def _regressor(self, y: Any, y_pred: Any) -> None:
        self._score(y)
        self._put(builtin.regressor_metrics(y, y_pred, self.sample_weights))

    def _classifier(self, y: Any, y_pred: Any, proba: Any) -> None:
        import numpy as np

        labels = self.config.get("label_list")
        pos_label = self.config.get("pos_label")
        if pos_label is not None and labels is not None and pos_label not in labels:
            raise InvalidParameterValue(f"'pos_label' {pos_label} must exist in 'label_list' {labels}.")
        labels = np.unique(np.concatenate([np.asarray(y), np.asarray(y_pred)])) if labels is None else np.array(labels)
        labels.sort()
        if len(labels) <= 2:
            if pos_label is None:
                pos_label = labels[-1]
            else:
                labels = np.append(labels[labels != pos_label], pos_label)
            if len(labels) < 2:
                raise MlflowException("Evaluation dataset for classification must contain at least two unique labels, "
                                      f"but only {len(labels)} unique labels were found.")
        self.labels, self.pos_label, self.proba = labels, pos_label, proba
        self._score(y)
        if len(labels) <= 2:
            self._put(builtin.binary_metrics(y, y_pred, proba, labels, pos_label, self.sample_weights))
            if proba is not None:
                self._put(builtin.binary_curve_metrics(y, np.asarray(proba)[:, 1], pos_label, self.sample_weights))
        else:
            average = self.config.get("average", "weighted")
            self._put(builtin.multiclass_metrics(y, y_pred, proba, labels, average, self.sample_weights))

    # ---- user metrics ---------------------------------------------------------------------------
    def _aggregates(self) -> dict[str, Any]:
        out = {}
        for name, value in self.values.items():
            for agg, number in (value.aggregate_results or {}).items():
                if number is not None:
                    out[name if agg == name.split("/")[0] else f"{name}/{agg}"] = number
        return out

    def _args(self, metric: EvaluationMetric, eval_df: Any, X: Any, pending: set[str]) -> tuple[bool, list[Any]]:
        params = inspect.signature(metric.eval_fn).parameters
        names = list(params)
        if len(names) == 2 and names[0] != "predictions" and names[1] != "targets":
            return True, [eval_df.copy(), copy.deepcopy(self._aggregates())]
        args, missing = [], []
        for name, param in params.items():
            column = self.col_mapping.get(name, name)
            if column in ("predictions", self.output_column, self.data.predictions_name):
                args.append(eval_df["prediction"].copy())
            elif column in ("targets", self.data.targets_name):
                if "target" in eval_df:
                    args.append(eval_df["target"].copy())
                elif param.default is inspect.Parameter.empty:
                    missing.append(name)
                else:
                    args.append(param.default)
            elif column == "metrics":
                args.append(copy.deepcopy(self.values))
            elif not isinstance(column, str):
                args.append(column)
            elif column in X.columns:
                args.append(X[column])
            elif self.other_outputs is not None and column in self.other_outputs.columns:
                args.append(self.other_outputs[column])
            elif column in self.config:
                args.append(self.config[column])
            elif any(k.split("/")[0] == column for k in self.values):
                args.append(next(v for k, v in self.values.items() if k.split("/")[0] == column))
            elif column in pending:
                return False, [name]
            elif param.default is not inspect.Parameter.empty:
                args.append(param.default)
            else:
                missing.append(name)
        return (not missing), (missing or args)

    def _call_metric(self, metric: EvaluationMetric, index: int, args: list[Any]) -> None:
        import numpy as np

        result = metric.eval_fn(*args)
        header = f"Did not log metric '{metric.name}' at index {index} in the `extra_metrics` parameter because it"
        name = f"{metric.name}/{metric.version}" if metric.version else metric.name
        if result is None:
            _logger.warning("%s returned None.", header)
            return
        if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
            self.values[name] = MetricValue(aggregate_results={metric.name: float(result)})
            return
        if not isinstance(result, MetricValue):
            _logger.warning("%s did not return a MetricValue.", header)
            return
        if result.aggregate_results is not None and not all(
            isinstance(k, str) and (v is None or isinstance(v, (int, float, np.number)))
            for k, v in result.aggregate_results.items()
        ):
            _logger.warning("%s returned aggregate_results that are not a dict of string to number.", header)
            return
        self.values[name] = result

    def _user_metrics(self, y: Any, y_pred: Any) -> None:
        if not self.extra_metrics:
            return
        bad = [m for m in self.extra_metrics if not isinstance(m, EvaluationMetric)]
        if bad:
            listing = "\n".join(f"- Metric '{m}' has type '{type(m).__name__}'" for m in bad)
            raise MlflowException("In the 'extra_metrics' parameter, the following metrics have the wrong type:\n"
                                  f"{listing}\nPlease ensure that all extra metrics are instances of "
                                  "fluvial.metrics.EvaluationMetric (made with make_metric).")
        eval_df = self._eval_df(y, y_pred)
        X = self._X()
        remaining = list(enumerate(self.extra_metrics))
        while remaining:
            pending = {m.name for _, m in remaining}
            waiting, failed = [], []
            for index, metric in remaining:
                ok, args = self._args(metric, eval_df, X, pending - {metric.name})
                if ok:
                    self._call_metric(metric, index, args)
                    pending.discard(metric.name)
                else:
                    waiting.append((index, metric))
                    failed.append((metric.name, args))
            if len(waiting) == len(remaining):
                lines = [f"Metric '{name}' requires the following:\n  - missing columns {params} need to be defined "
                         "or mapped" for name, params in failed]
                raise InvalidParameterValue(
                    "Error: Metric calculation failed for the following metrics:\n" + "\n".join(lines) +
                    f"\n\nInput Columns: {list(X.columns)}\nTo resolve this issue, map the missing names to existing "
                    "columns with evaluator_config={'col_mapping': {<missing name>: <existing column>}}")
            remaining = waiting

    def _eval_df(self, y: Any, y_pred: Any) -> Any:
        import pandas as pd

        frame = pd.DataFrame({"prediction": copy.deepcopy(list(y_pred) if not hasattr(y_pred, "copy") else y_pred.copy())})
        if y is not None:
            frame["target"] = y
        return frame

    # ---- artifacts -------------------------------------------------------------------------------
    def _log_file(self, local: str, name: str, kind: type[EvaluationArtifact]) -> None:
        filename = os.path.basename(local)
        if self.log:
            self.client.log_artifact(self.run_id, local)
            uri = self.client.get_artifact_uri(self.run_id, filename)
        else:
            uri = local
        artifact = kind(uri=uri)
        artifact._load(local)
        self.artifacts[name] = artifact

    def _custom_artifacts(self, tmp: str, y: Any, y_pred: Any) -> None:
        import numpy as np
        import pandas as pd

        for index, fn in enumerate(self.custom_artifacts):
            fname = getattr(fn, "__name__", repr(fn))
            header = f"Custom artifact function '{fname}' at index {index} in the `custom_artifacts` parameter"
            with tempfile.TemporaryDirectory() as art_dir:
                produced = fn(self._eval_df(y, y_pred), copy.deepcopy(self._aggregates()), art_dir)
                if produced is None:
                    _logger.warning("%s returned None.", header)
                    continue
                if not isinstance(produced, dict) or not all(isinstance(k, str) for k in produced):
                    _logger.warning("%s did not return artifacts as a dictionary of string artifact names with "
                                    "their corresponding objects.", header)
                    continue
                for name, obj in produced.items():
                    if isinstance(obj, str) and os.path.isfile(obj):
                        kind, ext = artifact_type_for(obj), os.path.splitext(obj)[1]
                        writer: Any = lambda p, o=obj: shutil.copy2(o, p)  # noqa: E731
                    elif isinstance(obj, (str, dict, list)):
                        kind, ext = JsonEvaluationArtifact, ".json"
                        if isinstance(obj, str):
                            try:
                                json.loads(obj)
                            except ValueError:
                                raise MlflowException(f"{header} produced an artifact '{name}' that is a string but "
                                                      "neither an existing file path nor JSON text.") from None
                        writer = lambda p, o=obj: pathlib.Path(p).write_text(  # noqa: E731
                            o if isinstance(o, str) else json.dumps(o))
                    elif isinstance(obj, pd.DataFrame):
                        kind, ext, writer = CsvEvaluationArtifact, ".csv", (lambda p, o=obj: o.to_csv(p, index=False))
                    elif isinstance(obj, np.ndarray):
                        kind, ext, writer = NumpyEvaluationArtifact, ".npy", (lambda p, o=obj: np.save(p, o, allow_pickle=False))
                    elif type(obj).__name__ == "Figure" and hasattr(obj, "savefig"):
                        kind, ext, writer = ImageEvaluationArtifact, ".png", (lambda p, o=obj: o.savefig(p))
                    else:
                        _logger.warning("%s produced an artifact '%s' with type '%s' that is logged as a pickle "
                                        "artifact.", header, name, type(obj))
                        kind, ext = PickleEvaluationArtifact, ".pickle"
                        writer = lambda p, o=obj: pathlib.Path(p).write_bytes(pickle.dumps(o))  # noqa: E731
                    local = os.path.join(tmp, name + ext)
                    if os.path.exists(local):
                        raise MlflowException(f"{header} produced an artifact '{name}' that cannot be logged because "
                                              "there already exists an artifact with the same name.")
                    writer(local)
                    self._log_file(local, name, kind)

    def _classifier_artifacts(self, tmp: str, y: Any, y_pred: Any) -> None:
        import numpy as np

        labels, proba = self.labels, self.proba
        draw = plots.have_matplotlib()
        p = self.prefix
        if len(labels) > 2:
            frame = builtin.per_class_metrics(y, y_pred, labels, proba if proba is not None and len(labels) <= int(
                self.config.get("max_classes_for_multiclass_roc_pr", 10)) else None, self.sample_weights)
            if draw and "roc_auc" in frame:
                for kind, name in (("roc", "roc_curve_plot"), ("pr", "precision_recall_curve_plot")):
                    series = [plots.curve_series(kind, *builtin.one_vs_rest(y, None, proba, i, lab)[::2],
                                                 legend_prefix=f"label={lab},", sample_weights=self.sample_weights)
                              for i, lab in enumerate(labels)]
                    plots.curves_png(os.path.join(tmp, f"{p}{name}.png"), kind, series)
                    self._log_file(os.path.join(tmp, f"{p}{name}.png"), name, ImageEvaluationArtifact)
            local = os.path.join(tmp, f"{p}per_class_metrics.csv")
            frame.to_csv(local, index=False)
            self._log_file(local, "per_class_metrics", CsvEvaluationArtifact)
        elif draw and proba is not None:
            y_bin = np.where(np.asarray(y) == self.pos_label, 1, 0)
            scores = np.asarray(proba)[:, 1]
            for kind, name in (("roc", "roc_curve_plot"), ("pr", "precision_recall_curve_plot")):
                series = [plots.curve_series(kind, y_bin, scores, sample_weights=self.sample_weights)]
                plots.curves_png(os.path.join(tmp, f"{p}{name}.png"), kind, series, self.pos_label)
                self._log_file(os.path.join(tmp, f"{p}{name}.png"), name, ImageEvaluationArtifact)
            plots.lift_curve_png(os.path.join(tmp, f"{p}lift_curve_plot.png"), y_bin, scores)
            self._log_file(os.path.join(tmp, f"{p}lift_curve_plot.png"), "lift_curve_plot", ImageEvaluationArtifact)
        if draw:
            local = os.path.join(tmp, f"{p}confusion_matrix.png")
            plots.confusion_matrix_png(local, y, y_pred, labels, self.sample_weights)
            self._log_file(local, "confusion_matrix", ImageEvaluationArtifact)

    def _eval_table(self, tmp: str, y: Any, y_pred: Any) -> None:
        if not any(v.scores is not None or v.justifications is not None for v in self.values.values()):
            return
        from fluvial.tracking.tables import log_table_to_run

        out_name = self.data.predictions_name or self.output_column or "outputs"
        table = self.data.features.copy()
        if y is not None:
            table[self.data.targets_name or "target"] = y
        table[out_name] = list(y_pred)
        for name, value in self.values.items():
            if value.scores:
                table[f"{name}/score"] = value.scores
            if value.justifications:
                table[f"{name}/justification"] = value.justifications
        artifact_file = f"{self.prefix}{EVAL_TABLE}"
        if self.log:
            log_table_to_run(self.client, str(self.run_id), table, artifact_file)
            self.artifacts["eval_results_table"] = JsonEvaluationArtifact(
                uri=self.client.get_artifact_uri(self.run_id, artifact_file))
        else:
            local = os.path.join(tmp, artifact_file)
            table.to_json(local, orient="split", index=False)
            self._log_file(local, "eval_results_table", JsonEvaluationArtifact)

    # ---- the whole evaluation ----------------------------------------------------------------------
    def run(self) -> EvaluationResult:
        y = self.data.labels
        y_pred, proba = self._predict()
        with tempfile.TemporaryDirectory() as tmp:
            if self.model_type == "regressor":
                self._regressor(y, y_pred)
            elif self.model_type == "classifier":
                self._classifier(y, y_pred, proba)
            self._user_metrics(y, y_pred)
            self._custom_artifacts(tmp, y, y_pred)
            if self.prefix:
                self.values = {f"{self.prefix}{k}": MetricValue(v.scores, v.justifications, {
                    f"{self.prefix}{a}": n for a, n in v.aggregate_results.items()} if v.aggregate_results else None)
                    for k, v in self.values.items()}
            metrics = self._aggregates()
            if self.log:
                from fluvial._internal.clock import now_ms
                from fluvial.entities import Metric

                stamp = now_ms()
                self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()])
            self._eval_table(tmp, y, y_pred)
            if self.model_type == "classifier" and self.log:  # plots only for results that are logged
                self._classifier_artifacts(tmp, y, y_pred)
            if self.model_type in ("classifier", "regressor") and self.log and explain.requested(self.config):
                explain.explain(self, tmp, y, y_pred)
        return EvaluationResult(metrics=metrics, artifacts=self.artifacts, run_id=self.run_id)
