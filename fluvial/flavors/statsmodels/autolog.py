"""statsmodels autologging (``fluvial.statsmodels.autolog``), as MLflow 2.22's: every ``fit`` of a
``statsmodels.base.model.Model`` subclass (one run per outermost fit) logs the arguments of ``fit``
as params (MLflow's form: every parameter of the signature with its default; a ``**kwargs`` parameter
appears as ``kwargs`` = ``<class 'inspect._empty'>``), the scalar result statistics in
:data:`METRICS` as metrics, ``model_summary.txt`` (``results.summary()``), and the results under
``model``. statsmodels calls datasets nothing: none are logged (MLflow logs none either)."""

from __future__ import annotations

import inspect
import numbers
from typing import Any

from fluvial.autologging import config as _config
from fluvial.autologging import patching
from fluvial.autologging.config import autologging_integration

INTEGRATION = "statsmodels"
TESTED_VERSIONS = ("0.12.0", "0.15")
METRICS = ("aic", "bic", "centered_tss", "condition_number", "df_model", "df_resid", "ess", "f_pvalue", "fvalue",
           "llf", "mse_model", "mse_resid", "mse_total", "rsquared", "rsquared_adj", "scale", "ssr",
           "uncentered_tss")


@autologging_integration(INTEGRATION)
def autolog(
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Enable (or disable) autologging of statsmodels' ``fit``."""
    import statsmodels
    import statsmodels.api
    import statsmodels.base.model

    if not _config.check_version(INTEGRATION, "statsmodels", statsmodels.__version__, *TESTED_VERSIONS):
        return
    for cls in _subclasses(statsmodels.base.model.Model):
        if "fit" in cls.__dict__:
            patching.safe_patch(INTEGRATION, cls, "fit", _patched_fit)


def _subclasses(cls: type) -> list[type]:
    found: list[type] = [cls]
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found.extend(c for c in _subclasses(sub) if c not in found)
    return found


def fit_params(fn: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """MLflow's params of a call: each parameter of ``fn`` (after ``self``) with the value given or its
    default; a ``**kwargs`` parameter never given is recorded as ``inspect._empty``."""
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    out: dict[str, Any] = {}
    for i, p in enumerate(parameters):
        if i < len(args) and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out[p.name] = args[i]
        elif p.name in kwargs:
            out[p.name] = kwargs[p.name]
        elif p.kind is p.VAR_KEYWORD:
            extra = {k: v for k, v in kwargs.items() if k not in out}
            if extra:
                out.update(extra)
            else:
                out[p.name] = p.default
        elif p.kind is not p.VAR_POSITIONAL:
            out[p.name] = p.default
    return out


def metrics_of(results: Any) -> dict[str, float]:
    out = {}
    for name in METRICS:
        try:
            value = getattr(results, name, None)
        except Exception:  # some statistics are not defined for every model
            continue
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            out[name] = float(value)  # type: ignore[arg-type]
    return out


def _patched_fit(session: Any, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    fn = type(self).fit
    fn = getattr(fn, "__wrapped__", fn)
    session.attempt("log the fit params", lambda: session.log_params(fit_params(fn, args, kwargs)))
    results = original(self, *args, **kwargs)
    if session.option("log_models", True):
        session.attempt("log the model", _log_model, session, results)
    import statsmodels.base.wrapper

    if isinstance(results, statsmodels.base.wrapper.ResultsWrapper):
        session.attempt("log the metrics", lambda: session.log_metrics(metrics_of(results)))
        session.attempt("log the summary", lambda: session.log_text(results.summary().as_text(), "model_summary.txt"))
    return results


def _log_model(session: Any, results: Any) -> None:
    from fluvial.flavors.statsmodels import log_model

    log_model(results, "model", registered_model_name=session.option("registered_model_name"))
