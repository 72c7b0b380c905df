"""The tracking store contract. Every backend (SQL, REST) implements this ABC; the client and the
server's handlers only talk to it."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence

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
