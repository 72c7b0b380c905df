"""The fluent API: an active experiment, a per-thread stack of active runs, and logging functions
that act on the run at the top of the stack (starting one when none is active)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from fluvial import system_metrics
from fluvial._internal import validation
from fluvial._internal.clock import now_ms
from fluvial.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceAlreadyExists
from fluvial.store.tracking.base import SEARCH_MAX_RESULTS_DEFAULT
from fluvial.tracking import _stores, async_logging, context
from fluvial.tracking.client import MlflowClient, RunOperations

_logger = logging.getLogger(__name__)

_active_experiment_id: str | None = None
_last_active_run_id: str | None = None
_local = threading.local()


class ActiveRun(Run):
    """The run returned by ``start_run``; as a context manager it ends the run on exit
    (FINISHED, or FAILED when an exception escapes)."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.info, run.data, run.inputs)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        end_run(status.name)


def _stack() -> list[ActiveRun]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _client() -> MlflowClient:
    return MlflowClient()


# ---- experiments ---------------------------------------------------------------------------------
def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, by name (created when missing) or by id."""
    global _active_experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue("Must specify exactly one of: `experiment_id` or `experiment_name`.")
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        found_by_name = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        if found_by_name is not None:
            experiment = found_by_name
        else:
            _logger.info("Experiment with name '%s' does not exist. Creating a new experiment.", experiment_name)
            try:
                new_id = client.create_experiment(experiment_name)  # type: ignore[arg-type]
            except ResourceAlreadyExists:  # created concurrently by another process
                found = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
                assert found is not None
                new_id = found.experiment_id
            experiment = client.get_experiment(new_id)
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameterValue(
            f"Cannot set a deleted experiment '{experiment.name}' as the active experiment. You can restore "
            "the experiment, or permanently delete the experiment to create a new one."
        )
    _active_experiment_id = experiment.experiment_id
    os.environ["MLFLOW_EXPERIMENT_ID"] = experiment.experiment_id
    return experiment


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """Every matching experiment (pages of 1000), or at most ``max_results``."""
    client = _client()
    found: list[Experiment] = []
    token = None
    for _ in range(1_000_000):
        want = SEARCH_MAX_RESULTS_DEFAULT if max_results is None else min(1000, max_results - len(found))
        if want <= 0:
            break
        page = client.search_experiments(view_type, want, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


def set_experiment_tag(key: str, value: Any) -> None:
    _client().set_experiment_tag(_resolve_experiment_id(), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def _resolve_experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    env_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if name:
        experiment = set_experiment(experiment_name=name)
        if env_id and env_id != experiment.experiment_id:
            raise InvalidParameterValue(
                f"The provided MLFLOW_EXPERIMENT_ID ('{env_id}') does not match the experiment named "
                f"MLFLOW_EXPERIMENT_NAME ('{name}', id {experiment.experiment_id})."
            )
        return experiment.experiment_id
    if env_id:
        return _client().get_experiment(env_id).experiment_id
    return "0"


# ---- runs ----------------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume ``run_id`` (or ``MLFLOW_RUN_ID``), and make it the active run."""
    global _last_active_run_id
    stack = _stack()
    if stack and not nested:
        raise MlflowException(
            f"Run with UUID {stack[-1].info.run_id} is already active. To start a new run, first end the "
            "current run with mlflow.end_run(). To start a nested run, call start_run with nested=True"
        )
    if parent_run_id is not None and stack and stack[-1].info.run_id != parent_run_id:
        raise MlflowException(
            f"Current run with UUID {stack[-1].info.run_id} does not match the specified parent_run_id "
            f"{parent_run_id}. To start a new nested run under the parent run with UUID {parent_run_id}, "
            f"first end the current run with mlflow.end_run()."
        )
    client = _client()
    existing = run_id or os.environ.pop("MLFLOW_RUN_ID", None)
    user_tags = {k: str(v) for k, v in (tags or {}).items()}
    if description:
        if user_tags.get(context.NOTE, description) != description:
            raise InvalidParameterValue(
                f"Description is already set via the tag {context.NOTE} in tags. Remove the key "
                f"{context.NOTE} from the tags or omit the description."
            )
        user_tags[context.NOTE] = description
    if existing:
        validation.run_id(existing)
        run = client.get_run(existing)
        if run.info.lifecycle_stage == LifecycleStage.DELETED:
            raise MlflowException(f"Cannot start run with ID {existing} because it is in the deleted state.")
        if _active_experiment_id is not None and _active_experiment_id != run.info.experiment_id:
            raise MlflowException(
                f"Cannot start run with ID {existing} because active experiment ID does not match the "
                f"experiment ID of the run ({_active_experiment_id} != {run.info.experiment_id}). "
                "Call mlflow.set_experiment() with the run's experiment, or start a new run."
            )
        client._store.update_run_info(existing, RunStatus.RUNNING.name, None, None)
        if user_tags:
            client.log_batch(existing, tags=[RunTag(k, v) for k, v in user_tags.items()])
        run = client.get_run(existing)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        all_tags = context.default_run_tags()
        all_tags.update(user_tags)
        if parent:
            all_tags[context.PARENT_RUN_ID] = parent
        if run_name:
            all_tags[context.RUN_NAME] = run_name
        exp_id = str(experiment_id) if experiment_id is not None else _resolve_experiment_id()
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    active = ActiveRun(run)
    stack.append(active)
    _last_active_run_id = run.info.run_id
    try:
        system_metrics.start_for_run(run.info.run_id, client.tracking_uri, log_system_metrics, bool(existing))
    except Exception:
        end_run(RunStatus.FAILED.name)
        raise
    return active


def end_run(status: str = "FINISHED") -> None:
    """End the active run (if any) with ``status``."""
    global _last_active_run_id
    stack = _stack()
    if not stack:
        return
    run = stack.pop()
    _last_active_run_id = run.info.run_id
    os.environ.pop("MLFLOW_RUN_ID", None)
    system_metrics.stop_for_run(run.info.run_id)
    _client().set_terminated(run.info.run_id, status)


def _end_runs_at_exit() -> None:
    try:
        while _stack():
            end_run()
    except MlflowException as exc:  # e.g. asynchronous logging that failed: say so, never silently
        _logger.error("While ending the active run at exit: %s", exc)
    except Exception:  # the interpreter is going away; nothing useful to raise to
        _logger.debug("Could not end the active run at exit", exc_info=True)


atexit.register(_end_runs_at_exit)


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    current = active_run()
    if current is not None:
        return _client().get_run(current.info.run_id)
    return _client().get_run(_last_active_run_id) if _last_active_run_id else None


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    return _client().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def _run_id() -> str:
    stack = _stack()
    if stack:
        return stack[-1].info.run_id
    return start_run().info.run_id


# ---- logging -------------------------------------------------------------------------------------
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    return _client().log_param(_run_id(), key, value, synchronous)


def flush_async_logging() -> None:
    """Wait until every asynchronous logging call so far is stored; raises ``MlflowException`` for
    those that failed (and were not already reported by ``RunOperations.wait()``)."""
    async_logging.flush()


def log_params(params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> RunOperations | None:
    return _client().log_batch(run_id or _run_id(), params=[Param(k, str(v)) for k, v in params.items()],
                               synchronous=synchronous)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> RunOperations | None:
    return _client().log_metric(run_id or _run_id(), key, value, timestamp, step, synchronous)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
) -> RunOperations | None:
    ts = timestamp if timestamp is not None else now_ms()
    return _client().log_batch(
        run_id or _run_id(), metrics=[Metric(k, v, ts, step or 0) for k, v in metrics.items()], synchronous=synchronous
    )


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    return _client().set_tag(_run_id(), key, value, synchronous)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    return _client().log_batch(_run_id(), tags=[RunTag(k, str(v)) for k, v in tags.items()], synchronous=synchronous)


def delete_tag(key: str) -> None:
    _client().delete_tag(_run_id(), key)


def log_input(dataset: Any, context: str | None = None, tags: dict[str, str] | None = None) -> None:
    """Link a dataset to the active run; ``context`` (e.g. "train") becomes the input tag
    ``mlflow.data.context``. Accepts a ``fluvial.entities.Dataset`` or any object with ``_to_mlflow_entity``."""
    entity = dataset._to_mlflow_entity() if hasattr(dataset, "_to_mlflow_entity") else dataset
    if not isinstance(entity, Dataset):
        raise InvalidParameterValue(f"log_input expects a Dataset, got {type(dataset).__name__}")
    input_tags = [InputTag(k, str(v)) for k, v in (tags or {}).items()]
    if context:
        input_tags.append(InputTag("mlflow.data.context", context))
    _client().log_inputs(_run_id(), [DatasetInput(entity, tuple(input_tags))])


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifact(run_id or _run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifacts(run_id or _run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_text(run_id or _run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_dict(run_id or _run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict | None = None) -> None:
    _client().log_figure(_run_id(), figure, artifact_file, save_kwargs=save_kwargs)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    _client().log_image(_run_id(), image, artifact_file, key, step, timestamp, synchronous)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    return _client().get_artifact_uri(_run_id(), artifact_path)


# ---- search --------------------------------------------------------------------------------------
NUM_RUNS_PER_PAGE_PANDAS = 10_000
SEARCH_MAX_RESULTS_PANDAS = 100_000


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
) -> Any:
    """Runs matching the filter, as a pandas DataFrame (MLflow's columns) or, with
    ``output_format="list"``, as ``Run`` objects."""
    if output_format not in ("pandas", "list"):
        raise ValueError(f"Unsupported output format: {output_format}. Supported string values are 'pandas' or 'list'")
    client = _client()
    ids = [str(x) for x in experiment_ids] if experiment_ids else []
    for name in experiment_names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            _logger.warning("Cannot retrieve experiment by name %s", name)
        else:
            ids.append(experiment.experiment_id)
    if not ids and not experiment_names:
        if search_all_experiments:
            ids = [e.experiment_id for e in search_experiments(view_type=ViewType.ALL)]
        else:
            ids = [_resolve_experiment_id()]
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page = client.search_runs(
            ids, filter_string, run_view_type, min(NUM_RUNS_PER_PAGE_PANDAS, max_results - len(runs)), order_by, token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    from fluvial.tracking.dataframe import runs_to_dataframe

    return runs_to_dataframe(runs)


# ---- tracking URIs -------------------------------------------------------------------------------
set_tracking_uri = _stores.set_tracking_uri
get_tracking_uri = _stores.get_tracking_uri
is_tracking_uri_set = _stores.is_tracking_uri_set
set_registry_uri = _stores.set_registry_uri
get_registry_uri = _stores.get_registry_uri


def _reset_for_tests() -> None:
    """Forget the active experiment, runs and tracking URI of this process."""
    global _active_experiment_id, _last_active_run_id
    _active_experiment_id = None
    _last_active_run_id = None
    _local.stack = []
    _stores._tracking_uri = None
    _stores._registry_uri = None
