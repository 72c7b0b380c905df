"""The journaling tracking store: writes go to the local journal and return; reads go to the server.

Runs created through this store get a client-generated id (32 hex digits, like a server's); the
sender maps it to the server's id. Their ``artifact_uri`` is a directory inside the journal, so
artifacts are copied there by the ordinary local artifact repository and uploaded by the sender.
``get_run`` of such a run is answered from the journal (it works offline); every other read goes to
the server with local ids translated, and fails normally when the server is unreachable.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fluvial._internal import validation as v
from fluvial._internal.names import generate_run_name
from fluvial.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from fluvial.exceptions import InvalidParameterValue
from fluvial.store.tracking.base import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from fluvial.store.tracking.journal.db import Journal

RUN_NAME_TAG = "mlflow.runName"


def _metric(m: Metric) -> list[Any]:
    v.validate_key(m.key, "metric")
    value = v.metric_value(m.key, m.value)
    return [m.key, value, v.metric_timestamp(m.key, m.timestamp), v.metric_step(m.key, m.step)]


class JournalTrackingStore(TrackingStore):
    """``inner`` is the REST store of the tracking server; ``journal`` the local journal."""

    def __init__(self, inner: TrackingStore, journal: Journal, sender_store: TrackingStore | None = None,
                 start_sender: bool = True) -> None:
        self.inner = inner
        self.sender_store = sender_store or inner
        self.journal = journal
        self.store_uri = getattr(inner, "store_uri", "")
        journal.set_meta_default("tracking_uri", self.store_uri)
        self._sender: Any = None
        self._start_sender = start_sender

    def _wake(self) -> None:
        if not self._start_sender:
            return
        if self._sender is None:
            from fluvial.store.tracking.journal.sender import BackgroundSender

            self._sender = BackgroundSender(self.journal, self.sender_store)
        self._sender.wake()

    def _sid(self, run_id: str) -> str:
        """The server's id for a run id the caller holds (local ids of runs not yet created stay)."""
        return self.journal.server_id(run_id) or run_id

    # ---- experiments (server) ------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Sequence[ExperimentTag] | None = None) -> str:
        return self.inner.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.inner.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.inner.get_experiment_by_name(name)

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                           filter_string: str | None = None, order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList[Experiment]:
        return self.inner.search_experiments(view_type, max_results, filter_string, order_by, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        self.inner.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self.inner.restore_experiment(experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.inner.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        self.inner.set_experiment_tag(experiment_id, tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.inner.delete_experiment_tag(experiment_id, key)

    # ---- runs ----------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, user_id: str, start_time: int | None, tags: Sequence[RunTag],
                   run_name: str | None) -> Run:
        v.experiment_id(experiment_id)
        tag_map = {t.key: v.tag_value(t.key, t.value) for t in tags}
        run_name = run_name or tag_map.get(RUN_NAME_TAG) or generate_run_name()
        tag_map[RUN_NAME_TAG] = run_name
        start_time = start_time if start_time is not None else int(time.time() * 1000)
        local_id = uuid.uuid4().hex
        with self.journal.transaction() as conn:
            conn.execute("INSERT INTO runs (local_id, experiment_id, user_id, start_time, run_name) "
                         "VALUES (?, ?, ?, ?, ?)", (local_id, str(experiment_id), user_id, start_time, run_name))
            self.journal.append(conn, local_id, "create_run", {
                "experiment_id": str(experiment_id), "user_id": user_id, "start_time": start_time,
                "tags": sorted(tag_map.items()), "run_name": run_name})
        self._wake()
        return self.get_run(local_id)

    def get_run(self, run_id: str) -> Run:
        rows = self.journal.query("SELECT experiment_id, user_id, start_time, run_name FROM runs WHERE local_id = ?",
                                  (run_id,))
        if not rows:
            return self.inner.get_run(run_id)
        experiment_id, user_id, start_time, run_name = rows[0]
        info = RunInfo(run_id, experiment_id, run_name, user_id, RunStatus.RUNNING.name, start_time, None,
                       self.journal.artifact_dir(run_id), LifecycleStage.ACTIVE)
        latest: dict[str, Metric] = {}
        params: dict[str, str] = {}
        tags: dict[str, str] = {}
        for kind, payload in self.journal.query(
                "SELECT kind, payload FROM entries WHERE run_id = ? ORDER BY seq", (run_id,)):
            import json

            body = json.loads(payload)
            if kind == "create_run":
                tags.update(dict(body["tags"]))
            elif kind == "log_batch":
                for key, value, ts, step in body["metrics"]:
                    old = latest.get(key)
                    if old is None or (step, ts, value) >= (old.step, old.timestamp, old.value):
                        latest[key] = Metric(key, value, ts, step)
                params.update(dict(body["params"]))
                tags.update(dict(body["tags"]))
            elif kind == "delete_tag":
                tags.pop(body["key"], None)
            elif kind == "update_run_info":
                info.status = body["status"] or info.status
                info.end_time = body["end_time"] if body["end_time"] is not None else info.end_time
                if body["run_name"]:
                    info.run_name = tags[RUN_NAME_TAG] = body["run_name"]
        data = RunData([latest[k] for k in sorted(latest)], [Param(k, params[k]) for k in sorted(params)],
                       [RunTag(k, tags[k]) for k in sorted(tags)])
        return Run(info, data)

    def update_run_info(self, run_id: str, run_status: str | None, end_time: int | None,
                        run_name: str | None) -> RunInfo:
        if not self.journal.is_local_run(run_id):
            return self.inner.update_run_info(run_id, run_status, end_time, run_name)
        if run_status is not None and not isinstance(run_status, str):
            run_status = RunStatus(run_status).name
        with self.journal.transaction() as conn:
            self.journal.append(conn, run_id, "update_run_info",
                                {"status": run_status, "end_time": end_time, "run_name": run_name})
        self._wake()
        if run_status in ("FINISHED", "FAILED", "KILLED") and self._sender is not None:
            from fluvial.store.tracking.journal.sender import flush_timeout

            self._sender.flush(flush_timeout())  # while threads can still start (artifact uploads)
        return self.get_run(run_id).info

    def delete_run(self, run_id: str) -> None:
        self.inner.delete_run(self._sid(run_id))

    def restore_run(self, run_id: str) -> None:
        self.inner.restore_run(self._sid(run_id))

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                    order_by: Sequence[str] | None = None, page_token: str | None = None) -> PagedList[Run]:
        return self.inner.search_runs(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)

    # ---- logging -------------------------------------------------------------------------------
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, [], [], [tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        if not self.journal.is_local_run(run_id):
            self.inner.delete_tag(run_id, key)
            return
        with self.journal.transaction() as conn:
            self.journal.append(conn, run_id, "delete_tag", {"key": key})
        self._wake()

    def log_batch(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param],
                  tags: Sequence[RunTag]) -> None:
        if not self.journal.is_local_run(run_id):
            self.inner.log_batch(run_id, metrics, params, tags)
            return
        v.batch_limits(metrics, params, tags)
        self.log_batch_unbounded(run_id, metrics, params, tags)

    def log_batch_unbounded(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param],
                            tags: Sequence[RunTag]) -> None:
        """Any number of items, checked, then journaled in one transaction as entries within the
        server's batch limits (all or nothing)."""
        if not self.journal.is_local_run(run_id):
            unbounded = getattr(self.inner, "log_batch_unbounded", self.inner.log_batch)
            unbounded(run_id, metrics, params, tags)
            return
        v.unique_param_keys(p.key for p in params)
        for p in params:
            v.validate_key(p.key, "param")
        for t in tags:
            v.validate_key(t.key, "tag")
        metric_rows = [_metric(m) for m in metrics]
        param_rows = [[p.key, v.param_value(p.key, p.value)] for p in params]
        tag_rows = [[t.key, v.tag_value(t.key, t.value)] for t in tags]
        with self.journal.transaction() as conn:
            if param_rows:
                known = dict(conn.execute(
                    f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({','.join('?' * len(param_rows))})",
                    (run_id, *[k for k, _ in param_rows])).fetchall())
                changed = [{"key": k, "old_value": known[k], "new_value": val}
                           for k, val in param_rows if k in known and known[k] != val]
                if changed:
                    raise InvalidParameterValue(f"Changing param values is not allowed. Params were already "
                                                f"logged='{changed}' for run ID='{run_id}'.")
                conn.executemany("INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                                 [(run_id, k, val) for k, val in param_rows])
            step = v.MAX_PARAMS_TAGS_PER_BATCH
            chunks: list[tuple[list, list, list]] = [(metric_rows, param_rows, tag_rows)]  # small: one entry
            if len(metric_rows) + len(param_rows) + len(tag_rows) > step:
                chunks = [([], param_rows[i:i + step], []) for i in range(0, len(param_rows), step)]
                chunks += [([], [], tag_rows[i:i + step]) for i in range(0, len(tag_rows), step)]
                chunks += [(metric_rows[i:i + v.MAX_METRICS_PER_BATCH], [], [])
                           for i in range(0, len(metric_rows), v.MAX_METRICS_PER_BATCH)]
            for m, p_rows, t_rows in chunks:
                self.journal.append(conn, run_id, "log_batch", {"metrics": m, "params": p_rows, "tags": t_rows})
        self._wake()

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        if not self.journal.is_local_run(run_id):
            self.inner.log_inputs(run_id, datasets)
            return
        with self.journal.transaction() as conn:
            self.journal.append(conn, run_id, "log_inputs", {"datasets": [dataclasses.asdict(d) for d in datasets]})
        self._wake()

    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList[Metric]:
        return self.inner.get_metric_history(self._sid(run_id), metric_key, max_results, page_token)

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        if not self.journal.is_local_run(run_id):
            self.inner.record_logged_model(run_id, model_dict)
            return
        with self.journal.transaction() as conn:
            self.journal.append(conn, run_id, "record_logged_model", {"model": model_dict})
        self._wake()

    def deleted_run_ids(self, older_than_ms: int | None = None) -> list[str]:
        return self.inner.deleted_run_ids(older_than_ms)

    def hard_delete_run(self, run_id: str) -> None:
        self.inner.hard_delete_run(self._sid(run_id))

    def hard_delete_experiment(self, experiment_id: str) -> None:
        self.inner.hard_delete_experiment(experiment_id)

    def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for the background sender to drain the journal."""
        return self._sender.flush(timeout) if self._sender is not None else True
