"""Write experiments, runs (params, tags, datasets, metric histories, artifacts) and registered models of
a tracking URI into an export directory (format: docs/journal.md). Resumable: a run directory gets its
``done`` marker last, and a rerun skips those and redoes the others."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

from fluvial.entities import Experiment, Run, ViewType
from fluvial.tracking.client import MlflowClient
from fluvial.tracking.transfer import format as f
from fluvial.version import VERSION

Progress = Callable[[str], None]
_PAGES = 1_000_000  # bound on pages per listing


def _experiments(client: MlflowClient, ids: list[str] | None) -> list[Experiment]:
    if ids:
        return [client.get_experiment(i) for i in ids]
    found: list[Experiment] = []
    token = None
    for _ in range(_PAGES):
        page = client.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


def _runs(client: MlflowClient, experiment_id: str) -> Iterator[Run]:
    token = None
    for _ in range(_PAGES):
        page = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            break


def export_run(client: MlflowClient, run: Run, run_dir: str) -> None:
    """Write one run into ``run_dir`` (replacing a partial earlier attempt); the ``done`` marker last."""
    if os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir)
    info = run.info
    f.write_json(os.path.join(run_dir, f.RUN_JSON), {
        "info": {"run_id": info.run_id, "experiment_id": info.experiment_id, "run_name": info.run_name,
                 "user_id": info.user_id, "status": info.status, "start_time": info.start_time,
                 "end_time": info.end_time, "artifact_uri": info.artifact_uri,
                 "lifecycle_stage": info.lifecycle_stage},
        "params": run.data.params,
        "tags": run.data.tags,
        "inputs": [f.dataset_to_dict(d) for d in run.inputs.dataset_inputs],
        "parent_run_id": run.data.tags.get("mlflow.parentRunId"),
    })
    with open(os.path.join(run_dir, f.METRICS), "w", encoding="utf-8") as fh:
        for key in sorted(run.data.metrics):
            for m in client.get_metric_history(info.run_id, key):
                fh.write(json.dumps({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}))
                fh.write("\n")
    artifacts = os.path.join(run_dir, f.ARTIFACTS)
    os.makedirs(artifacts)
    if client.list_artifacts(info.run_id):
        client.download_artifacts(info.run_id, "", artifacts)
    with open(os.path.join(run_dir, f.DONE), "w", encoding="utf-8"):
        pass


def _registered_models(client: MlflowClient) -> Iterator[dict[str, Any]]:
    token = None
    for _ in range(_PAGES):
        page = client.search_registered_models(max_results=1000, page_token=token)
        for rm in page:
            versions: list[Any] = []
            vtoken = None
            for _ in range(_PAGES):
                escaped = rm.name.replace("'", "\\'")
                vpage = client.search_model_versions(f"name = '{escaped}'", max_results=1000, page_token=vtoken)
                versions.extend(vpage)
                vtoken = vpage.token
                if not vtoken:
                    break
            versions.sort(key=lambda mv: int(mv.version))
            yield {
                "name": rm.name, "description": rm.description, "tags": dict(rm.tags or {}),
                "versions": [{"version": int(mv.version), "source": mv.source, "run_id": mv.run_id,
                              "description": mv.description, "current_stage": mv.current_stage,
                              "tags": dict(mv.tags or {}), "aliases": list(mv.aliases or []),
                              "run_link": mv.run_link} for mv in versions],
            }
        token = page.token
        if not token:
            break


def export(client: MlflowClient, directory: str, experiment_ids: list[str] | None = None,
           progress: Progress = lambda line: None) -> dict[str, int]:
    """Export into ``directory``; returns counts (experiments, runs exported, runs skipped, models)."""
    os.makedirs(os.path.join(directory, f.RUNS), exist_ok=True)
    f.write_json(os.path.join(directory, f.MANIFEST), {
        "format": f.FORMAT, "format_version": f.FORMAT_VERSION, "source_uri": client.tracking_uri,
        "fluvial_version": VERSION, "experiment_ids": experiment_ids or None})
    counts = {"experiments": 0, "runs": 0, "skipped": 0, "registered_models": 0}
    experiments = _experiments(client, experiment_ids)
    tmp = os.path.join(directory, f.EXPERIMENTS + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for exp in experiments:
            fh.write(json.dumps({"experiment_id": exp.experiment_id, "name": exp.name,
                                 "lifecycle_stage": exp.lifecycle_stage, "tags": dict(exp.tags or {})}) + "\n")
    os.replace(tmp, os.path.join(directory, f.EXPERIMENTS))
    for exp in experiments:
        counts["experiments"] += 1
        progress(f"experiment {exp.experiment_id} ({exp.name})")
        for run in _runs(client, exp.experiment_id):
            run_dir = os.path.join(directory, f.RUNS, run.info.run_id)
            if os.path.exists(os.path.join(run_dir, f.DONE)):
                counts["skipped"] += 1
                continue
            export_run(client, run, run_dir)
            counts["runs"] += 1
            progress(f"  run {run.info.run_id} exported")
    tmp = os.path.join(directory, f.MODELS + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for model in _registered_models(client):
            fh.write(json.dumps(model) + "\n")
            counts["registered_models"] += 1
    os.replace(tmp, os.path.join(directory, f.MODELS))
    progress(f"registered models: {counts['registered_models']}")
    return counts
