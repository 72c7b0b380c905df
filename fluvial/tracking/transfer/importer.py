"""Load an export directory into a tracking URI. Runs keep their ids on a SQL store target (when free)
and get new ids elsewhere (the MLflow API cannot choose one); ``import-mapping.json`` in the directory records old -> new ids per target URI, and each imported
run carries the tag ``fluvial.import.source_run_id``, so importing again skips what is done."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fluvial.entities import LifecycleStage, Metric, Param
from fluvial.exceptions import MlflowException
from fluvial.tracking.client import MlflowClient
from fluvial.tracking.transfer import format as f
from fluvial.tracking.transfer import sql_target

Progress = Callable[[str], None]
METRIC_CHUNK = 1000
PARAM_CHUNK = 100
PARENT_TAG = "mlflow.parentRunId"


class Importer:
    def __init__(self, client: MlflowClient, directory: str, prefix: str = "",
                 progress: Progress = lambda line: None) -> None:
        self.client = client
        self.directory = directory
        self.prefix = prefix
        self.progress = progress
        self.manifest = f.read_manifest(directory)
        self.mapping_path = os.path.join(directory, f.MAPPING)
        all_maps = f.read_json(self.mapping_path) if os.path.exists(self.mapping_path) else {}
        self.all_maps: dict[str, Any] = all_maps
        self.map: dict[str, dict[str, Any]] = all_maps.setdefault(client.tracking_uri, {})
        for section in ("experiments", "runs", "model_versions"):
            self.map.setdefault(section, {})

    def _save(self) -> None:
        f.write_json(self.mapping_path, self.all_maps)

    def run(self) -> dict[str, int]:
        counts = {"experiments": 0, "runs": 0, "skipped": 0, "model_versions": 0}
        deleted_experiments = []
        for exp in f.read_jsonl(os.path.join(self.directory, f.EXPERIMENTS)):
            name = self.prefix + exp["name"]
            target = self.client.get_experiment_by_name(name)
            if target is None:
                new_id = self.client.create_experiment(name, tags=exp["tags"] or None)
            else:
                new_id = target.experiment_id
                if target.lifecycle_stage == LifecycleStage.DELETED:  # runs can only be created in an active one
                    self.client.restore_experiment(new_id)
            if exp["lifecycle_stage"] == LifecycleStage.DELETED:
                deleted_experiments.append(new_id)
            self.map["experiments"][exp["experiment_id"]] = str(new_id)
            counts["experiments"] += 1
        self._save()
        for run_dir in self._runs_parents_first():
            if self._import_run(run_dir):
                counts["runs"] += 1
            else:
                counts["skipped"] += 1
        counts["model_versions"] = self._import_models()
        for exp_id in deleted_experiments:
            self.client.delete_experiment(exp_id)
        return counts

    def _runs_parents_first(self) -> list[str]:
        root = os.path.join(self.directory, f.RUNS)
        done = {}
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            if os.path.exists(os.path.join(root, name, f.DONE)):
                done[name] = f.read_json(os.path.join(root, name, f.RUN_JSON)).get("parent_run_id")

        def depth(run_id: str) -> int:
            seen = 0
            while done.get(run_id) in done and seen <= len(done):
                run_id, seen = done[run_id], seen + 1
            return seen
        return [os.path.join(root, r) for r in sorted(done, key=depth)]

    def _import_run(self, run_dir: str) -> bool:
        data = f.read_json(os.path.join(run_dir, f.RUN_JSON))
        info = data["info"]
        old_id = info["run_id"]
        if old_id in self.map["runs"]:
            return False
        exp_id = self.map["experiments"].get(info["experiment_id"])
        if exp_id is None:
            return False
        client = self.client
        # a run left half-imported by an interrupted import (tag set, mapping not written): remove it
        escaped = old_id.replace("'", "")
        for stale in client.search_runs([exp_id], f"tags.`{f.SOURCE_RUN_TAG}` = '{escaped}'"):
            sql_target.remove_run(client, stale.info.run_id)
        tags = dict(data["tags"])
        if data.get("parent_run_id") in self.map["runs"]:
            tags[PARENT_TAG] = self.map["runs"][data["parent_run_id"]]
        tags[f.SOURCE_RUN_TAG] = old_id
        new_id = sql_target.create_run_keeping_id(client, exp_id, info, tags) or client.create_run(
            exp_id, start_time=info["start_time"], tags=tags, run_name=info["run_name"]).info.run_id
        params = [Param(k, v) for k, v in data["params"].items()]
        for i in range(0, len(params), PARAM_CHUNK):
            client.log_batch(new_id, params=params[i:i + PARAM_CHUNK])
        chunk: list[Metric] = []
        for m in f.read_jsonl(os.path.join(run_dir, f.METRICS)):
            chunk.append(Metric(m["key"], m["value"], m["timestamp"], m["step"]))
            if len(chunk) >= METRIC_CHUNK:
                client.log_batch(new_id, metrics=chunk)
                chunk = []
        if chunk:
            client.log_batch(new_id, metrics=chunk)
        if data["inputs"]:
            client.log_inputs(new_id, [f.dataset_from_dict(d) for d in data["inputs"]])
        artifacts = os.path.join(run_dir, f.ARTIFACTS)
        if os.path.isdir(artifacts) and os.listdir(artifacts):
            client.log_artifacts(new_id, artifacts)
        if info["status"] != "RUNNING":
            client.set_terminated(new_id, info["status"], info["end_time"])
        if info["lifecycle_stage"] == LifecycleStage.DELETED:
            client.delete_run(new_id)
        self.map["runs"][old_id] = new_id
        self._save()
        self.progress(f"  run {old_id} -> {new_id}")
        return True

    def _rewrite_source(self, source: str | None, old_run: str | None) -> str | None:
        new_run = self.map["runs"].get(old_run or "")
        if not source or not new_run:
            return source
        if source.startswith(f"runs:/{old_run}/"):
            return f"runs:/{new_run}/" + source[len(f"runs:/{old_run}/"):]
        old_uri = f.read_json(os.path.join(self.directory, f.RUNS, str(old_run), f.RUN_JSON))["info"]["artifact_uri"]
        if source == old_uri or source.startswith(old_uri.rstrip("/") + "/"):
            return self.client.get_run(new_run).info.artifact_uri.rstrip("/") + source[len(old_uri.rstrip("/")):]
        return source

    def _import_models(self) -> int:
        client = self.client
        created = 0
        for model in f.read_jsonl(os.path.join(self.directory, f.MODELS)):
            name = model["name"]
            done = self.map["model_versions"].setdefault(name, {})
            try:
                client.get_registered_model(name)
            except MlflowException:  # not found (SQL store or REST): create it
                client.create_registered_model(name, tags=model["tags"] or None, description=model["description"])
            for mv in model["versions"]:
                old_version = str(mv["version"])
                if old_version in done:
                    continue
                new_run = self.map["runs"].get(mv["run_id"] or "")
                new = client.create_model_version(
                    name, self._rewrite_source(mv["source"], mv["run_id"]) or "", run_id=new_run or None,
                    tags=mv["tags"] or None, run_link=mv["run_link"], description=mv["description"])
                if mv["current_stage"] and mv["current_stage"] != "None":
                    client.transition_model_version_stage(name, str(new.version), mv["current_stage"])
                for alias in mv["aliases"]:
                    client.set_registered_model_alias(name, alias, str(new.version))
                done[old_version] = str(new.version)
                self._save()
                created += 1
            self.progress(f"registered model {name}: {len(model['versions'])} versions")
        return created
