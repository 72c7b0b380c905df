"""The tracking store contract. Every backend (SQL, REST) implements this ABC; the client and the
server's handlers only talk to it."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fluvial.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)

SEARCH_MAX_RESULTS_DEFAULT = 1000
UI_KEYS_LIMIT = 10_000
UI_SCAN_PAGES = 1_000  # generic scans stop after this many pages of runs
DATASET_SUMMARIES_LIMIT = 1000
DATASET_CONTEXT_TAG = "mlflow.data.context"
BULK_INTERVAL_PER_RUN = 25_000
HISTORY_PAGE_DEFAULT = 25_000


class TrackingStore(abc.ABC):
    """Experiments, runs and their metrics, params, tags and inputs."""

    # ---- experiments ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[ExperimentTag] | None = None
    ) -> str:
        """Create an experiment and return its id; the name must be new (active or deleted)."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None: ...

    @abc.abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # ---- runs ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
    ) -> Run: ...

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo: ...

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    # ---- logging ------------------------------------------------------------------------------
    @abc.abstractmethod
    def log_metric(self, run_id: str, metric: Metric) -> None: ...

    @abc.abstractmethod
    def log_param(self, run_id: str, param: Param) -> None: ...

    @abc.abstractmethod
    def set_tag(self, run_id: str, tag: RunTag) -> None: ...

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abc.abstractmethod
    def log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """All or nothing: when any item fails validation, nothing of the batch is stored."""

    @abc.abstractmethod
    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None: ...

    @abc.abstractmethod
    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]: ...

    # ---- fluvial-only extensions (default implementations on top of the methods above) ----------
    def count_runs(
        self, experiment_ids: Sequence[str], filter_string: str = "", run_view_type: int = ViewType.ACTIVE_ONLY
    ) -> int:
        """How many runs ``search_runs`` would return for these arguments, without loading them."""
        total, token = 0, None
        while True:
            page = self.search_runs(experiment_ids, filter_string, run_view_type, SEARCH_MAX_RESULTS_DEFAULT,
                                    None, token)
            total += len(page)
            token = page.token
            if not token:
                return total

    def get_metric_history_reduced(
        self,
        run_id: str,
        metric_key: str,
        *,
        x_axis: str = "step",
        start: float | None = None,
        end: float | None = None,
        max_points: int = 1000,
    ) -> tuple[list[Metric], bool, int]:
        """(points, reduced, total points in range): the whole range when it holds at most
        ``max_points`` points, else the min and max point of ``max_points // 2`` equal-width buckets
        (the rule is in :mod:`fluvial.search.downsample`)."""
        from fluvial.search.downsample import check_arguments, reduce_points

        check_arguments(x_axis, start, end, max_points)

        def pages() -> Iterator[Metric]:
            token = None
            while True:
                page = self.get_metric_history(run_id, metric_key, HISTORY_PAGE_DEFAULT, token)
                yield from page
                token = page.token
                if not token:
                    return

        return reduce_points(pages(), x_axis, start, end, max_points)

    @abc.abstractmethod
    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append a model's metadata to the run's ``mlflow.log-model.history`` tag."""

    # ---- garbage collection -------------------------------------------------------------------
    @abc.abstractmethod
    def deleted_run_ids(self, older_than_ms: int | None = None) -> list[str]: ...

    @abc.abstractmethod
    def hard_delete_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def hard_delete_experiment(self, experiment_id: str) -> None: ...

    # ---- reads for the web UI (fluvial extensions; generic versions, the SQL store has fast ones) -------
    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """The runs with these ids, in the order asked, each once; ids of runs that do not exist are skipped."""
        from fluvial.exceptions import ResourceDoesNotExist

        out = []
        for run_id in dict.fromkeys(run_ids):
            try:
                out.append(self.get_run(run_id))
            except ResourceDoesNotExist:
                continue
        return out

    def run_column_keys(self, experiment_ids: Sequence[str], limit: int = UI_KEYS_LIMIT) -> dict[str, list[str]]:
        """The distinct param, metric and tag keys of the experiments' runs (deleted runs included), sorted,
        at most ``limit`` of each: ``{"params": [...], "metrics": [...], "tags": [...]}``."""
        keys: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
        token = None
        for _ in range(UI_SCAN_PAGES):
            page = self.search_runs(experiment_ids, None, ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, None, token)
            for run in page:
                keys["params"].update(run.data.params)
                keys["metrics"].update(run.data.metrics)
                keys["tags"].update(run.data.tags)
            token = page.token
            if not token:
                break
        return {kind: sorted(found)[:limit] for kind, found in keys.items()}

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        """The distinct (experiment, dataset name, digest, context tag) of the experiments' runs' inputs,
        at most ``DATASET_SUMMARIES_LIMIT`` (MLflow's ``experiments/search-datasets``)."""
        found: dict[DatasetSummary, None] = {}
        token = None
        for _ in range(UI_SCAN_PAGES):
            page = self.search_runs(experiment_ids, None, ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, None, token)
            for run in page:
                for di in run.inputs.dataset_inputs:
                    context = next((t.value for t in di.tags if t.key == DATASET_CONTEXT_TAG), None)
                    found[DatasetSummary(run.info.experiment_id, di.dataset.name, di.dataset.digest, context)] = None
            token = page.token
            if not token or len(found) >= DATASET_SUMMARIES_LIMIT:
                break
        return list(found)[:DATASET_SUMMARIES_LIMIT]

    def get_metric_history_bulk_interval(
        self, run_ids: Sequence[str], metric_key: str, start_step: int | None, end_step: int | None,
        max_results: int,
    ) -> list[tuple[str, Metric]]:
        """(run id, point) of ``metric_key`` for each run, in the order asked, at the steps MLflow's
        ``metrics/get-history-bulk-interval`` picks: with no range, steps 0 to the largest step; when the
        runs have more than ``max_results`` distinct steps in the range, ``max_results`` evenly spaced ones
        plus the last, and always each run's first and last step in the range. At most
        ``BULK_INTERVAL_PER_RUN`` points a run."""
        histories = {run_id: list(self.get_metric_history(run_id, metric_key)) for run_id in dict.fromkeys(run_ids)}
        if start_step is None or end_step is None:
            start_step = 0
            end_step = max((m.step for h in histories.values() for m in h), default=0)
        lo, hi = start_step, end_step
        in_range = {run_id: [m for m in h if lo <= m.step <= hi] for run_id, h in histories.items()}
        chosen = sampled_steps(sorted({m.step for h in in_range.values() for m in h}), max_results)
        for h in in_range.values():
            if h:
                chosen |= {min(m.step for m in h), max(m.step for m in h)}
        out = []
        for run_id in run_ids:
            points = sorted((m for m in in_range[run_id] if m.step in chosen), key=lambda m: (m.step, m.timestamp, m.value))
            out += [(run_id, m) for m in points[:BULK_INTERVAL_PER_RUN]]
        return out



@dataclass(frozen=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    context: str | None


def sampled_steps(steps: list[int], max_results: int) -> set[int]:
    """Of sorted distinct ``steps``, all when there are at most ``max_results``, else the ones at positions
    ``floor(i * n / max_results)`` for ``i < max_results``, and the last."""
    n = len(steps)
    if n <= max_results:
        return set(steps)
    return {steps[i * n // max_results] for i in range(max_results)} | {steps[-1]}
