"""The export directory format: file names, the manifest, JSON-lines helpers and entity <-> dict."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from fluvial.entities import Dataset, DatasetInput, InputTag
from fluvial.exceptions import MlflowException

FORMAT = "fluvial-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EXPERIMENTS = "experiments.jsonl"
RUNS = "runs"
RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
ARTIFACTS = "artifacts"
DONE = "done"
MODELS = "registered_models.jsonl"
MAPPING = "import-mapping.json"
SOURCE_RUN_TAG = "fluvial.import.source_run_id"


def write_json(path: str, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed into place)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_jsonl(path: str) -> Iterator[Any]:
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def read_manifest(directory: str) -> dict[str, Any]:
    """The manifest of an export directory, or an ``MlflowException`` saying what is wrong."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
        raise MlflowException(f"{directory} does not exist; pass the directory fluvial export wrote")
    if not os.path.isfile(path):
        raise MlflowException(f"{directory} has no {MANIFEST}; pass the directory fluvial export wrote")
    try:
        manifest = read_json(path)
    except (OSError, ValueError) as exc:
        raise MlflowException(f"{path} is not valid JSON ({exc}); run fluvial export again") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MlflowException(f"{path} is not a fluvial export manifest; run fluvial export again")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise MlflowException(f"{path} has format version {manifest.get('format_version')!r}; this fluvial "
                              f"reads version {FORMAT_VERSION}: import with the fluvial that exported it")
    return manifest


def dataset_to_dict(di: DatasetInput) -> dict[str, Any]:
    d = di.dataset
    return {"dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
                        "schema": d.schema, "profile": d.profile},
            "tags": {t.key: t.value for t in di.tags}}


def dataset_from_dict(data: dict[str, Any]) -> DatasetInput:
    return DatasetInput(Dataset(**data["dataset"]), tuple(InputTag(k, v) for k, v in data["tags"].items()))
