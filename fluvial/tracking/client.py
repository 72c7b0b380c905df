"""``MlflowClient``: the explicit, run-id based tracking API over any tracking store."""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from collections.abc import Sequence
from typing import Any

from fluvial._internal import progress
from fluvial._internal.clock import now_ms
from fluvial._internal.paths import validate_relative_path
from fluvial._internal.progress import artifact_progress
from fluvial._internal.uri import append_to_uri_path
from fluvial.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    FileInfo,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from fluvial.exceptions import InvalidParameterValue
from fluvial.store.artifact.base import ArtifactRepository
from fluvial.store.tracking.base import HISTORY_PAGE_DEFAULT, SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from fluvial.tracking import _stores, async_logging, context
from fluvial.tracking.async_logging import RunOperations
from fluvial.tracking.registry_client import RegistryClient

__all__ = ["MlflowClient", "RunOperations"]


class MlflowClient(RegistryClient):
    """Client for the tracking store behind ``tracking_uri`` (default: the current tracking URI) and
    the model registry behind ``registry_uri`` (default: the registry URI, else the tracking URI)."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._tracking_uri = tracking_uri or _stores.get_tracking_uri()
        self._registry_uri = registry_uri or (tracking_uri if tracking_uri else _stores.get_registry_uri())
        self._store: TrackingStore = _stores.get_store(self._tracking_uri)

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    # ---- experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        tag_list = [ExperimentTag(k, str(v)) for k, v in (tags or {}).items()]
        return self._store.create_experiment(name, artifact_location, tag_list)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self._store.search_experiments(view_type, max_results, filter_string, order_by, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(str(experiment_id), ExperimentTag(key, str(value)))

    # ---- runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tag_map = {k: str(v) for k, v in (tags or {}).items()}
        user = tag_map.get(context.USER) or context.current_user()
        return self._store.create_run(
            str(experiment_id),
            user,
            start_time if start_time is not None else now_ms(),
            [RunTag(k, v) for k, v in tag_map.items()],
            run_name,
        )

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.get_run(run_id).data.tags.get(context.PARENT_RUN_ID)
        return self.get_run(parent) if parent else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        end_time = now_ms() if status and RunStatus.is_terminated(status) else None
        self._store.update_run_info(run_id, status, end_time, name)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run; asynchronous logging still pending for this store is stored first, and a
        failure of it is raised after the run is ended."""
        status = status or RunStatus.FINISHED.name
        RunStatus.from_string(status)
        try:
            async_logging.flush(self._store)
        finally:
            self._store.update_run_info(run_id, status, end_time or now_ms(), None)

    def delete_run(self, run_id: str) -> None:
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: str | list[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        return self._store.search_runs(
            [str(x) for x in experiment_ids], filter_string, run_view_type, max_results, order_by, page_token
        )

    # ---- logging -------------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        metric = Metric(key, value, timestamp if timestamp is not None else now_ms(), step or 0)
        if not async_logging.resolve(synchronous):
            return self._async_queue().submit(run_id, metrics=[metric])
        self._store.log_metric(run_id, metric)
        return None

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """The value, or (``synchronous=False``) the pending operation."""
        if not async_logging.resolve(synchronous):
            return self._async_queue().submit(run_id, params=[Param(key, str(value))])
        self._store.log_param(run_id, Param(key, str(value)))
        return value

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
        if not async_logging.resolve(synchronous):
            return self._async_queue().submit(run_id, tags=[RunTag(key, str(value))])
        self._store.set_tag(run_id, RunTag(key, str(value)))
        return None

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Log any number of items; all of them are stored or, if one is invalid, none."""
        params = [Param(p.key, str(p.value)) for p in params]
        tags = [RunTag(t.key, str(t.value)) for t in tags]
        if not async_logging.resolve(synchronous):
            return self._async_queue().submit(run_id, list(metrics), params, tags)
        self._write_batch(run_id, list(metrics), params, tags)
        return None

    def _write_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        unbounded = getattr(self._store, "log_batch_unbounded", None)
        if unbounded is not None:
            unbounded(run_id, metrics, params, tags)
        else:
            self._store.log_batch(run_id, metrics, params, tags)

    def _async_queue(self) -> async_logging.AsyncLoggingQueue:
        return async_logging.queue_for(self._store, self._write_batch)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        self._store.log_inputs(run_id, list(datasets or []))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points: list[Metric] = []
        token = None
        for _ in range(10_000_000):
            page = self._store.get_metric_history(run_id, key, HISTORY_PAGE_DEFAULT, token)
            points.extend(page)
            token = page.token
            if not token:
                break
        return points

    # ---- fluvial-only extensions (not in MLflow) ---------------------------------------------------
    def count_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
    ) -> int:
        """fluvial-only: the number of runs ``search_runs`` would find for these arguments (all pages),
        answered without loading them (e.g. for "1-100 of 812,405")."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else [str(x) for x in experiment_ids]
        return self._store.count_runs(ids, filter_string or "", run_view_type)

    def get_metric_history_reduced(
        self,
        run_id: str,
        key: str,
        x_axis: str = "step",
        start: float | None = None,
        end: float | None = None,
        max_points: int = 1000,
    ) -> list[Metric]:
        """fluvial-only: a chart-sized view of one metric's history. Points whose ``x_axis`` value
        ("step" or "timestamp") lies in ``[start, end]`` (open when None): all of them when there are
        at most ``max_points``, else the lowest and highest point of each of ``max_points // 2``
        equal-width buckets, in x order, so spikes survive. Zoom by narrowing ``start``/``end``."""
        points, _reduced, _total = self._store.get_metric_history_reduced(
            run_id, key, x_axis=x_axis, start=start, end=end, max_points=max_points
        )
        return points

    # ---- artifacts -----------------------------------------------------------------------------
    def _artifact_repo(self, run_id: str) -> ArtifactRepository:
        return _stores.get_artifact_repository(self._store.get_run(run_id).info.artifact_uri, self._tracking_uri)

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        root = self._store.get_run(run_id).info.artifact_uri
        return append_to_uri_path(root, validate_relative_path(artifact_path)) if artifact_path else root

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        local_path = os.fspath(local_path)
        if not os.path.isfile(local_path):
            if os.path.isdir(local_path):
                return self.log_artifacts(run_id, local_path, artifact_path)
            raise InvalidParameterValue(f"No such file to log as an artifact: {local_path!r}")
        repo = self._artifact_repo(run_id)
        with artifact_progress(repo, "Uploading artifacts", 1, os.path.getsize(local_path)):
            repo.log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        local_dir = os.fspath(local_dir)
        if not os.path.isdir(local_dir):
            raise InvalidParameterValue(f"No such directory to log as artifacts: {local_dir!r}")
        repo = self._artifact_repo(run_id)
        totals = progress.tree_size(local_dir) if progress.artifacts_enabled() else (None, None)
        with artifact_progress(repo, "Uploading artifacts", *totals):
            repo.log_artifacts(local_dir, artifact_path)

    def _log_file(self, run_id: str, artifact_file: str, write: Any, mode: str = "w") -> None:
        rel = validate_relative_path(artifact_file)
        if not rel:
            raise InvalidParameterValue("artifact_file must name a file, e.g. 'dir/file.txt'")
        directory, name = posixpath.split(rel)
        with tempfile.TemporaryDirectory(prefix="fluvial-") as tmp:
            path = os.path.join(tmp, name)
            with open(path, mode, encoding=None if "b" in mode else "utf-8") as fh:
                write(fh)
            self._artifact_repo(run_id).log_artifact(path, directory or None)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._log_file(run_id, artifact_file, lambda fh: fh.write(text))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        ext = os.path.splitext(artifact_file)[1].lower()
        if ext in (".yaml", ".yml"):
            import yaml

            self._log_file(run_id, artifact_file, lambda fh: yaml.safe_dump(dictionary, fh, default_flow_style=False))
        else:
            self._log_file(run_id, artifact_file, lambda fh: json.dump(dictionary, fh, indent=2))

    def log_figure(self, run_id: str, figure: Any, artifact_file: str, *, save_kwargs: dict | None = None) -> None:
        kwargs = save_kwargs or {}
        module = type(figure).__module__
        if module.startswith("matplotlib"):
            self._log_file(run_id, artifact_file, lambda fh: figure.savefig(fh, **kwargs), mode="wb")
        elif module.startswith("plotly"):
            if artifact_file.endswith(".html"):
                self._log_file(run_id, artifact_file, lambda fh: fh.write(figure.to_html(**kwargs)))
            else:
                self._log_file(run_id, artifact_file, lambda fh: fh.write(figure.to_image(**kwargs)), mode="wb")
        else:
            raise TypeError(f"Unsupported figure object type: {type(figure)}; expected matplotlib or plotly")

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Log an image file, or (``key``) one step of an image series. Either way the image is stored
        when this returns: ``synchronous=False`` (MLflow uploads in the background) changes nothing
        but the timing, so fluvial does not defer it."""
        from fluvial.tracking.images import to_pil

        pil = to_pil(image)
        if artifact_file is not None:
            if key is not None:
                raise InvalidParameterValue("Pass either artifact_file or key to log_image, not both.")
            fmt = os.path.splitext(artifact_file)[1].lstrip(".").upper() or "PNG"
            self._log_file(run_id, artifact_file, lambda fh: pil.save(fh, format="JPEG" if fmt == "JPG" else fmt), "wb")
            return
        if key is None:
            raise InvalidParameterValue("log_image needs artifact_file or key.")
        import uuid

        stamp = timestamp if timestamp is not None else now_ms()
        safe_key = key.replace("/", "#")
        name = f"images/{safe_key}%step%{step or 0}%timestamp%{stamp}%{uuid.uuid4()}"
        self._log_file(run_id, name + ".png", lambda fh: pil.save(fh, format="PNG"), "wb")
        self.set_tag(run_id, "mlflow.loggedImages", "true")

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        return self._artifact_repo(run_id).download_artifacts(path, dst_path)

