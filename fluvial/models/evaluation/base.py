"""The objects ``evaluate`` hands out: ``EvaluationResult``, ``EvaluationArtifact`` (and its kinds),
``EvaluationMetric`` / ``make_metric`` / ``MetricValue`` for user-defined metrics."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException


@dataclass
class MetricValue:
    """What a metric function may return: per-row ``scores`` and ``justifications`` and/or
    ``aggregate_results`` (``{name: value}``)."""

    scores: list[Any] | None = None
    justifications: list[str] | None = None
    aggregate_results: dict[str, float] | None = None


class EvaluationMetric:
    """A user metric: ``eval_fn`` called either as ``(eval_df, builtin_metrics)`` or with arguments named
    after columns (``predictions``, ``targets``, ``metrics``, input columns, ``evaluator_config`` keys)."""

    def __init__(
        self,
        eval_fn: Callable[..., Any],
        name: str,
        greater_is_better: bool,
        long_name: str | None = None,
        version: str | None = None,
        metric_details: str | None = None,
        metric_metadata: dict[str, Any] | None = None,
        genai_metric_args: dict[str, Any] | None = None,
    ) -> None:
        self.eval_fn = eval_fn
        self.name = name
        self.greater_is_better = greater_is_better
        self.long_name = long_name or name
        self.version = version
        self.metric_details = metric_details
        self.metric_metadata = metric_metadata
        self.genai_metric_args = genai_metric_args

    def __str__(self) -> str:
        parts = [f"name={self.name}", f"greater_is_better={self.greater_is_better}"]
        if self.long_name != self.name:
            parts.append(f"long_name={self.long_name}")
        if self.version:
            parts.append(f"version={self.version}")
        return f"EvaluationMetric({', '.join(parts)})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.eval_fn(*args, **kwargs)


def make_metric(
    *,
    eval_fn: Callable[..., Any],
    greater_is_better: bool,
    name: str | None = None,
    long_name: str | None = None,
    version: str | None = None,
    metric_details: str | None = None,
    metric_metadata: dict[str, Any] | None = None,
    genai_metric_args: dict[str, Any] | None = None,
) -> EvaluationMetric:
    """An :class:`EvaluationMetric` from a function; ``name`` defaults to the function's name (a lambda
    needs an explicit name)."""
    if name is None:
        if getattr(eval_fn, "__name__", "<lambda>") == "<lambda>":
            raise InvalidParameterValue(
                "`name` must be specified if `eval_fn` is a lambda function or does not have a __name__ attribute."
            )
        name = eval_fn.__name__
    if not isinstance(greater_is_better, bool):
        raise InvalidParameterValue("`greater_is_better` must be a boolean.")
    return EvaluationMetric(eval_fn, name, greater_is_better, long_name, version, metric_details,
                            metric_metadata, genai_metric_args)


class EvaluationArtifact:
    """An artifact produced by ``evaluate``: its ``uri`` in the run, and ``content`` loaded on demand."""

    def __init__(self, uri: str, content: Any = None) -> None:
        self._uri = uri
        self._content = content

    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        return pathlib.Path(local_artifact_path).read_bytes()

    def _load(self, local_artifact_path: str | None = None) -> Any:
        if local_artifact_path is None:
            from fluvial.artifacts import download_artifacts

            local_artifact_path = download_artifacts(artifact_uri=self._uri)
        self._content = self._load_content_from_file(local_artifact_path)
        return self._content

    def _save(self, output_artifact_path: str) -> None:
        pathlib.Path(output_artifact_path).write_bytes(self.content)

    @property
    def content(self) -> Any:
        if self._content is None:
            self._load()
        return self._content

    @property
    def uri(self) -> str:
        return self._uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri='{self.uri}')"


class ImageEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        from PIL import Image

        with Image.open(local_artifact_path) as image:
            image.load()
            return image

    def _save(self, output_artifact_path: str) -> None:
        self.content.save(output_artifact_path)


class CsvEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        import pandas as pd

        return pd.read_csv(local_artifact_path)

    def _save(self, output_artifact_path: str) -> None:
        self.content.to_csv(output_artifact_path, index=False)


class JsonEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        with open(local_artifact_path) as f:
            return json.load(f)

    def _save(self, output_artifact_path: str) -> None:
        with open(output_artifact_path, "w") as f:
            json.dump(self.content, f)


class NumpyEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        import numpy as np

        return np.load(local_artifact_path, allow_pickle=False)

    def _save(self, output_artifact_path: str) -> None:
        import numpy as np

        np.save(output_artifact_path, self.content, allow_pickle=False)


class TextEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        return pathlib.Path(local_artifact_path).read_text()

    def _save(self, output_artifact_path: str) -> None:
        pathlib.Path(output_artifact_path).write_text(self.content)


class PickleEvaluationArtifact(EvaluationArtifact):
    def _load_content_from_file(self, local_artifact_path: str) -> Any:
        with open(local_artifact_path, "rb") as f:
            return pickle.load(f)

    def _save(self, output_artifact_path: str) -> None:
        with open(output_artifact_path, "wb") as f:
            pickle.dump(self.content, f)


_BY_EXTENSION: dict[str, type[EvaluationArtifact]] = {
    ".png": ImageEvaluationArtifact, ".jpg": ImageEvaluationArtifact, ".jpeg": ImageEvaluationArtifact,
    ".json": JsonEvaluationArtifact, ".csv": CsvEvaluationArtifact, ".npy": NumpyEvaluationArtifact,
    ".txt": TextEvaluationArtifact,
}


def artifact_type_for(path: str) -> type[EvaluationArtifact]:
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lower(), EvaluationArtifact)


class EvaluationResult:
    """``metrics`` (name -> number), ``artifacts`` (name -> EvaluationArtifact) and the ``run_id`` they
    were logged to. ``save(path)`` / ``EvaluationResult.load(path)`` round-trip them through a directory."""

    def __init__(self, metrics: dict[str, Any], artifacts: dict[str, EvaluationArtifact], run_id: str | None = None):
        self._metrics = metrics
        self._artifacts = artifacts
        self._run_id = run_id

    @property
    def metrics(self) -> dict[str, Any]:
        return self._metrics

    @property
    def artifacts(self) -> dict[str, EvaluationArtifact]:
        return self._artifacts

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def tables(self) -> dict[str, Any]:
        """The JSON table artifacts (e.g. ``eval_results_table``) as DataFrames."""
        import pandas as pd

        out = {}
        for name, artifact in self._artifacts.items():
            if isinstance(artifact, JsonEvaluationArtifact) and isinstance(artifact.content, dict) \
                    and {"columns", "data"} <= set(artifact.content):
                out[name] = pd.DataFrame(artifact.content["data"], columns=artifact.content["columns"])
        return out

    def save(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "metrics.json"), "w") as f:
            json.dump({k: float(v) if not isinstance(v, (str, list)) else v for k, v in self._metrics.items()}, f)
        meta = {name: {"uri": a.uri, "class_name": type(a).__name__} for name, a in self._artifacts.items()}
        with open(os.path.join(path, "artifacts_metadata.json"), "w") as f:
            json.dump(meta, f)
        art_dir = os.path.join(path, "artifacts")
        shutil.rmtree(art_dir, ignore_errors=True)
        os.makedirs(art_dir)
        for name, artifact in self._artifacts.items():
            artifact._save(os.path.join(art_dir, name + os.path.splitext(artifact.uri)[1]))

    @classmethod
    def load(cls, path: str) -> EvaluationResult:
        with open(os.path.join(path, "metrics.json")) as f:
            metrics = json.load(f)
        with open(os.path.join(path, "artifacts_metadata.json")) as f:
            meta = json.load(f)
        kinds = {k.__name__: k for k in (*_BY_EXTENSION.values(), EvaluationArtifact, PickleEvaluationArtifact)}
        artifacts = {}
        for name, info in meta.items():
            kind = kinds.get(info["class_name"])
            if kind is None:
                raise MlflowException(f"Unknown evaluation artifact class {info['class_name']!r} in {path}")
            artifact = kind(uri=info["uri"])
            artifact._load(os.path.join(path, "artifacts", name + os.path.splitext(info["uri"])[1]))
            artifacts[name] = artifact
        return cls(metrics, artifacts)
