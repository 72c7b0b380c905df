"""scikit-learn autologging (``fluvial.sklearn.autolog``).

A patched ``fit`` (also ``fit_transform``, ``fit_predict``) of every scikit-learn estimator except the
preprocessing and feature-manipulation ones (``sklearn.preprocessing``, ``sklearn.impute``,
``sklearn.feature_extraction``, ``sklearn.feature_selection``, ``ColumnTransformer``: they are logged as
part of a Pipeline) logs into the session's run:

- params: ``get_params(deep=True)`` as strings (``deep=False`` for parameter searches);
- tags ``estimator_name`` and ``estimator_class``;
- the training dataset (input context ``train``);
- training metrics when labels were given: classifiers ``training_score``, ``training_accuracy_score``,
  ``training_precision_score``, ``training_recall_score``, ``training_f1_score`` (weighted averages, or
  binary ones for ``pos_label``), ``training_log_loss`` and ``training_roc_auc`` (with
  ``predict_proba``); regressors ``training_score``, ``training_mean_squared_error``,
  ``training_root_mean_squared_error``, ``training_mean_absolute_error``, ``training_r2_score``;
- the model under ``model`` (signature inferred from the first 5 training rows; those rows saved as
  the input example when ``log_input_examples``), and ``estimator.html``;
- for GridSearchCV / RandomizedSearchCV also ``best_<param>`` params, the ``best_cv_score`` metric,
  ``cv_results.csv``, the refitted ``best_estimator`` model and one child run for each of the
  ``max_tuning_runs`` best candidates.

Post-training metrics are in :mod:`fluvial.flavors.sklearn._post_training`.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "sklearn"
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
EXCLUDED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
                    "sklearn.feature_selection")
EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
TESTED_VERSIONS = ("1.3.0", "1.9")


@autologging_integration(INTEGRATION)
def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Enable (or disable) autologging for scikit-learn estimators; see this module's docstring for
    what a ``fit`` logs. ``max_tuning_runs=None`` logs a child run for every search candidate."""
    import sklearn

    if not _config.check_version(INTEGRATION, "scikit-learn", sklearn.__version__, *TESTED_VERSIONS):
        return
    estimators = estimators_to_patch()
    for cls in estimators:
        for method in FIT_METHODS:
            if _has(cls, method):
                patching.safe_patch(INTEGRATION, cls, method, _make_fit_patch(method))
    if log_post_training_metrics:
        from fluvial.flavors.sklearn import _post_training

        _post_training.install(estimators)


@functools.lru_cache(maxsize=1)
def _all_estimator_classes() -> tuple[type, ...]:
    from sklearn.utils import all_estimators

    return tuple(cls for _, cls in all_estimators())


def estimators_to_patch() -> list[type]:
    """The estimator classes whose ``fit`` is autologged (parameter searches and Pipeline included)."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    classes = dict.fromkeys([*_all_estimator_classes(), GridSearchCV, RandomizedSearchCV, Pipeline])
    return [cls for cls in classes
            if not cls.__module__.startswith(EXCLUDED_MODULES)
            and f"{cls.__module__}.{cls.__name__}" not in EXCLUDED_CLASSES]


def _has(cls: type, name: str) -> bool:
    try:
        inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return True


# ---- the fit patch -------------------------------------------------------------------------------
def _make_fit_patch(method: str) -> Any:
    def patched_fit(session: Any, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        X, y, sample_weight = _fit_inputs(self, method, args, kwargs)
        search = is_parameter_search(self)
        session.attempt("log the estimator's params", lambda: session.log_params(self.get_params(deep=not search)))
        session.attempt("tag the run", session.set_tags, estimator_tags(self))
        if session.option("log_datasets", True):
            session.attempt("log the training dataset", _log_dataset, session, X, y)
        result = original(self, *args, **kwargs)
        if y is not None:
            session.attempt("log training metrics", _log_training_metrics, session, self, X, y, sample_weight)
            from sklearn.base import is_classifier

            if is_classifier(self):
                from fluvial.autologging.plots import log_classifier_plots

                session.attempt("plot the training metrics", log_classifier_plots, session, self, X, y)
        if search:
            session.attempt("log the parameter search", _log_search, session, self)
        if session.option("log_models", True):
            session.attempt("log the model", _log_model, session, self, X, "model")
            if search and hasattr(self, "best_estimator_"):
                session.attempt("log the best estimator", _log_model, session, self.best_estimator_, X,
                                "best_estimator")
        session.attempt("log estimator.html", _log_html, session, self)
        if session.option("log_post_training_metrics", True):
            from fluvial.flavors.sklearn import _post_training

            _post_training.register_model(self, session.run_id)
        return result

    return patched_fit


def _fit_inputs(estimator: Any, method: str, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` of a ``fit`` call, whatever the parameters are called."""
    try:
        signature = inspect.signature(getattr(estimator, method))
        params, bound = signature.parameters, signature.bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        params, bound = {}, {}  # type: ignore[assignment]
    positional = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    X = bound.get(positional[0]) if positional else (args[0] if args else None)
    y = bound.get(positional[1]) if len(positional) > 1 and positional[1].lower() == "y" else None
    if y is None and len(positional) <= 1 and len(args) > 1:
        y = args[1]
    sample_weight = bound.get("sample_weight")
    for name, p in params.items():
        if p.kind == p.VAR_KEYWORD and isinstance(bound.get(name), dict):
            sample_weight = sample_weight if sample_weight is not None else bound[name].get("sample_weight")
    return X, y, sample_weight


def is_parameter_search(estimator: Any) -> bool:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


# ---- datasets ------------------------------------------------------------------------------------
def _log_dataset(session: Any, X: Any, y: Any) -> None:
    from fluvial.autologging.helpers import make_dataset

    dataset = make_dataset(X, y)
    if dataset is not None:
        session.log_input(dataset, "train")


# ---- metrics -------------------------------------------------------------------------------------
def _score(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if not math.isnan(number) else None


def _default_score(estimator: Any, mixin: type) -> bool:
    """Whether ``estimator.score`` is the mixin's (accuracy or R²), seen through autologging's patch."""
    import inspect as _inspect

    return _inspect.unwrap(type(estimator).score) is _inspect.unwrap(mixin.score)  # type: ignore[attr-defined]


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any = None, pos_label: Any = None) -> dict[str, float]:
    """The ``training_*`` metrics of a fitted estimator on its training data (each one that can be
    computed: a metric that fails is left out). ``training_score`` is ``estimator.score``; when that is
    scikit-learn's default (accuracy, R²) the value computed for the other metric is reused."""
    from sklearn import metrics
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    sw = {} if sample_weight is None else {"sample_weight": sample_weight}
    out: dict[str, float] = {}

    def add(name: str, compute: Any) -> float | None:
        try:
            value = _score(compute())
        except Exception:
            value = None
        if value is not None:
            out[f"training_{name}"] = value
        return value

    if is_classifier(estimator):
        y_pred = estimator.predict(X)
        accuracy = add("accuracy_score", lambda: metrics.accuracy_score(y, y_pred, **sw))
        if accuracy is not None and _default_score(estimator, ClassifierMixin):
            out["training_score"] = accuracy
        else:
            add("score", lambda: estimator.score(X, y, **sw))
        average = {"average": "weighted"} if pos_label is None else {"average": "binary", "pos_label": pos_label}
        try:
            precision, recall, f1, _ = metrics.precision_recall_fscore_support(y, y_pred, **average, **sw)
        except Exception:
            precision = recall = f1 = None
        for name, value in (("precision_score", precision), ("recall_score", recall), ("f1_score", f1)):
            add(name, lambda v=value: v)
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X)
            add("log_loss", lambda: metrics.log_loss(y, proba, **sw))
            y_score = proba[:, 1] if getattr(proba, "ndim", 0) == 2 and proba.shape[1] == 2 else proba
            add("roc_auc", lambda: metrics.roc_auc_score(y, y_score, average="weighted", multi_class="ovo", **sw))
    elif is_regressor(estimator):
        y_pred = estimator.predict(X)
        mse = add("mean_squared_error", lambda: metrics.mean_squared_error(y, y_pred, **sw))
        if mse is not None:
            out["training_root_mean_squared_error"] = math.sqrt(mse)
        add("mean_absolute_error", lambda: metrics.mean_absolute_error(y, y_pred, **sw))
        r2 = add("r2_score", lambda: metrics.r2_score(y, y_pred, **sw))
        if r2 is not None and _default_score(estimator, RegressorMixin):
            out["training_score"] = r2
        else:
            add("score", lambda: estimator.score(X, y, **sw))
    elif hasattr(estimator, "score"):
        add("score", lambda: estimator.score(X, y, **sw))
    return out


def _log_training_metrics(session: Any, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    session.log_metrics(training_metrics(estimator, X, y, sample_weight, session.option("pos_label")))


# ---- parameter searches --------------------------------------------------------------------------
def _log_search(session: Any, search: Any) -> None:
    if hasattr(search, "best_params_"):
        session.log_params({f"best_{k}": v for k, v in search.best_params_.items()})
    if _score(getattr(search, "best_score_", None)) is not None:
        session.log_metrics({"best_cv_score": search.best_score_})
    results = getattr(search, "cv_results_", None)
    if results is None:
        return
    session.attempt("log cv_results.csv", _log_cv_results, session, results)
    session.attempt("log the search's child runs", _log_child_runs, session, search, results)


def _log_cv_results(session: Any, results: dict[str, Any]) -> None:
    import pandas as pd

    session.log_text(pd.DataFrame(results).to_csv(index=False), "cv_results.csv")


def _log_child_runs(session: Any, search: Any, results: dict[str, Any]) -> None:
    candidates = list(results["params"])
    rank_key = "rank_test_score" if "rank_test_score" in results else next(
        (k for k in results if k.startswith("rank_test_")), None)
    order = list(range(len(candidates)))
    if rank_key is not None:
        order.sort(key=lambda i: results[rank_key][i])
    limit = session.option("max_tuning_runs", 5)
    chosen = order if limit is None else order[:limit]
    if len(chosen) < len(order):
        _config.info(INTEGRATION, "Logging the %d best candidates as child runs; %d are left out.", len(chosen),
                     len(order) - len(chosen))
    base = search.estimator
    base_params = base.get_params(deep=True)
    tags = estimator_tags(base)
    numeric = [k for k in results if k.startswith(("mean_", "std_", "rank_"))]
    from fluvial._internal.clock import now_ms
    from fluvial.entities import Metric

    for i in chosen:
        run_id = session.create_child_run(tags)
        session.log_params({**base_params, **candidates[i]}, run_id=run_id)
        timestamp = now_ms()
        points = [Metric(k, float(results[k][i]), timestamp, 0) for k in numeric if _score(results[k][i]) is not None]
        session.client.log_batch(run_id, metrics=points)
        session.client.set_terminated(run_id, "FINISHED")


# ---- the model -----------------------------------------------------------------------------------
def _log_model(session: Any, model: Any, X: Any, artifact_path: str) -> None:
    from fluvial.autologging.helpers import example_and_signature, head
    from fluvial.flavors.sklearn import log_model

    predict = getattr(model, "predict", None) or getattr(model, "transform", None)
    example, signature = example_and_signature(session, head(X), predict)
    log_model(model, artifact_path, signature=signature, input_example=example,
              serialization_format=session.option("serialization_format", "cloudpickle"),
              registered_model_name=session.option("registered_model_name") if artifact_path == "model" else None)


def _log_html(session: Any, estimator: Any) -> None:
    from sklearn.utils import estimator_html_repr

    session.log_text(estimator_html_repr(estimator), "estimator.html")
