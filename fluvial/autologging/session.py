"""``AutologSession``: one autologged call (a ``fit``, a ``train``) and the run it logs into.

A session logs into the active run when there is one (unless the integration is ``exclusive``); otherwise
it starts a run tagged ``mlflow.autologging=<integration>`` and ends it when the call returns (FINISHED)
or raises (FAILED). Each logging step runs through :meth:`AutologSession.attempt`, so one failing step
costs only that step: it is reported as a warning and the user's call goes on.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

from fluvial.autologging import config as _config

_logger = logging.getLogger("fluvial.autologging")

AUTOLOGGING_TAG = "mlflow.autologging"
PARENT_RUN_ID_TAG = "mlflow.parentRunId"
_FLUSH_EVERY_POINTS = 1000
_FLUSH_EVERY_SECONDS = 10.0


def _limits() -> tuple[int, int, int]:
    from fluvial._internal import validation

    return validation.MAX_PARAM_VAL_LENGTH, validation.MAX_PARAMS_TAGS_PER_BATCH, validation.MAX_METRICS_PER_BATCH


def stringify(value: Any) -> str:
    """A param value as autologging records it: ``str()``, cut to the store's length limit."""
    text = str(value)
    limit = _limits()[0]
    return text if len(text) <= limit else text[:limit]


class AutologSession:
    """The state of one autologged call: its run, what it logged, and buffered metrics."""

    def __init__(self, integration: str, run_id: str, created_run: bool, client: Any) -> None:
        self.integration = integration
        self.run_id = run_id
        self.created_run = created_run
        self.client = client
        self.state: dict[str, Any] = {}  # shared between a patch and the patches nested in it
        self._params: dict[str, str] = {}
        self._metrics: list[Any] = []
        self._last_flush = time.monotonic()

    # ---- options -------------------------------------------------------------------------------
    def option(self, key: str, default: Any = None) -> Any:
        return _config.get_config(self.integration, key, default)

    # ---- isolation -----------------------------------------------------------------------------
    def attempt(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, or None after a warning if it fails. Warnings that libraries raise
        meanwhile go to the debug log (a "warnings as errors" filter must not fail the step)."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fn(*args, **kwargs)
            for w in caught:
                _logger.debug("%s autologging (%s): %s: %s", self.integration, what, w.category.__name__, w.message)
            return result
        except Exception as exc:
            _config.warn(self.integration, "fluvial %s autologging could not %s: %s: %s", self.integration, what,
                         type(exc).__name__, exc)
            _logger.debug("autologging failure", exc_info=True)
            return None

    # ---- logging -------------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any], run_id: str | None = None) -> None:
        """Log params; a key this session already logged keeps its first value (params are immutable)."""
        from fluvial.entities import Param

        target = run_id or self.run_id
        if target == self.run_id:
            fresh = {k: stringify(v) for k, v in params.items() if k not in self._params}
            self._params.update(fresh)
        else:
            fresh = {k: stringify(v) for k, v in params.items()}
        items = [Param(k, v) for k, v in fresh.items()]
        per_batch = _limits()[1]
        for i in range(0, len(items), per_batch):
            self.client.log_batch(target, params=items[i:i + per_batch])

    def set_tags(self, tags: dict[str, Any], run_id: str | None = None) -> None:
        from fluvial.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        per_batch = _limits()[1]
        for i in range(0, len(items), per_batch):
            self.client.log_batch(run_id or self.run_id, tags=items[i:i + per_batch])

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Buffer metrics (sent in batches: every 1,000 points, every 10 s, and when the session ends)."""
        from fluvial._internal.clock import now_ms
        from fluvial.entities import Metric

        timestamp = now_ms()
        for key, value in metrics.items():
            self._metrics.append(Metric(key, float(value), timestamp, step or 0))
        if len(self._metrics) >= _FLUSH_EVERY_POINTS or time.monotonic() - self._last_flush > _FLUSH_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        points, self._metrics = self._metrics, []
        self._last_flush = time.monotonic()
        per_batch = _limits()[2]
        for i in range(0, len(points), per_batch):
            self.client.log_batch(self.run_id, metrics=points[i:i + per_batch])

    def log_input(self, dataset: Any, context: str, run_id: str | None = None) -> None:
        """Link a ``fluvial.data`` dataset to the run with input tag ``mlflow.data.context=<context>``."""
        from fluvial.entities import DatasetInput, InputTag

        entity = dataset._to_mlflow_entity()
        self.client.log_inputs(run_id or self.run_id,
                               [DatasetInput(entity, (InputTag("mlflow.data.context", context),))])

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        self.client.log_dict(self.run_id, dictionary, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def create_child_run(self, tags: dict[str, Any], start_time: int | None = None) -> str:
        """A run under this session's run (tag ``mlflow.parentRunId``), in the same experiment."""
        parent = self.client.get_run(self.run_id)
        all_tags = {PARENT_RUN_ID_TAG: self.run_id, AUTOLOGGING_TAG: self.integration,
                    **(self.option("extra_tags") or {}), **tags}
        from fluvial.tracking import context

        all_tags = {**context.default_run_tags(), **all_tags}
        return self.client.create_run(parent.info.experiment_id, start_time=start_time, tags=all_tags).info.run_id

    # ---- end -----------------------------------------------------------------------------------
    def close(self, status: str) -> None:
        """Send buffered metrics and, for a run this session started, end it with ``status``."""
        self.attempt("log metrics", self.flush)
        if self.created_run:
            self.attempt("end the run", _end_run, self.run_id, status, self.client)


def _end_run(run_id: str, status: str, client: Any) -> None:
    from fluvial.tracking import fluent

    active = fluent.active_run()
    if active is not None and active.info.run_id == run_id:
        fluent.end_run(status)
    else:
        client.set_terminated(run_id, status)


def open_session(integration: str) -> AutologSession | None:
    """A session on the active run, or on a new run when none is active; None when the integration is
    ``exclusive`` and a user's run is active (nothing is logged then)."""
    from fluvial.tracking import fluent
    from fluvial.tracking.client import MlflowClient

    active = fluent.active_run()
    if active is not None:
        if _config.get_config(integration, "exclusive", False):
            return None
        return AutologSession(integration, active.info.run_id, False, MlflowClient())
    tags = {AUTOLOGGING_TAG: integration, **(_config.get_config(integration, "extra_tags") or {})}
    run = fluent.start_run(tags=tags)
    _config.info(integration, "Created fluvial autologging run with ID '%s' for this %s call; it logs params, "
                 "metrics, the model and the datasets.", run.info.run_id, integration)
    return AutologSession(integration, run.info.run_id, True, MlflowClient())
