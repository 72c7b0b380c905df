"""``fluvial.data``: datasets, their digests, sources and JSON, and ``log_input`` into a real store.

Expected digests and JSON strings were produced by MLflow 2.22.5 for the same data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fluvial
import fluvial.data as data
from fluvial.data import sources
from fluvial.data.dataset_source import DatasetSource
from fluvial.entities import Dataset as DatasetEntity
from fluvial.entities import DatasetInput
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceDoesNotExist

pytestmark = pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column")

DF = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1, 2, 3], "s": ["x", "y", "z"], "t": [0, 1, 0]})


def test_from_pandas_matches_mlflow() -> None:
    ds = data.from_pandas(DF, source="/tmp/x.csv", name="n", targets="t")
    assert ds.to_dict() == {
        "name": "n",
        "digest": "16277095",
        "source": '{"uri": "/tmp/x.csv"}',
        "source_type": "local",
        "schema": '{"mlflow_colspec": [{"type": "double", "name": "a", "required": false}, {"type": "long", "name": "b", '
                  '"required": true}, {"type": "string", "name": "s", "required": true}, {"type": "long", "name": "t", '
                  '"required": true}]}',
        "profile": '{"num_rows": 3, "num_elements": 12}',
    }
    assert ds.df is DF and ds.targets == "t" and ds.predictions is None
    assert ds.profile == {"num_rows": 3, "num_elements": 12}
    entity = ds._to_mlflow_entity()
    assert isinstance(entity, DatasetEntity)
    assert (entity.name, entity.digest, entity.source_type) == ("n", "16277095", "local")
    assert json.loads(ds.to_json())["profile"] == ds.to_dict()["profile"]
    inputs, outputs = ds.to_pyfunc()
    assert list(inputs.columns) == ["a", "b", "s"] and outputs.tolist() == [0, 1, 0]


@pytest.mark.parametrize("df, digest", [
    (pd.DataFrame({"a": [1, 2, 3]}), "c247459b"),
    (pd.DataFrame({"a": [1.0, 2, 3]}), "483494ca"),
    (pd.DataFrame({"a": ["x", "y"]}), "27d62c2e"),
    (pd.DataFrame({"a": [1, 2, 3]}, index=[5, 6, 7]), "8bee364a"),
    (pd.DataFrame({"a": pd.to_datetime(["2020-01-01"])}), "a17ca048"),
    (pd.DataFrame({"a": [1, 2], "d": [{"x": 1}, {"x": 2}], "l": [[1], [2]]}), "8561069a"),
])
def test_pandas_digests_match_mlflow(df: pd.DataFrame, digest: str) -> None:
    assert data.from_pandas(df, source="/x").digest == digest
    assert data.from_pandas(df, source="/x", digest="mine").digest == "mine"


def test_digest_is_stable_and_sensitive() -> None:
    a = data.from_pandas(DF, source="/x").digest
    assert a == data.from_pandas(DF.copy(), source="/y").digest and len(a) == 8
    assert a != data.from_pandas(DF.assign(b=[1, 2, 4]), source="/x").digest
    assert a != data.from_pandas(DF.rename(columns={"b": "c"}), source="/x").digest


def test_pandas_dataset_errors() -> None:
    with pytest.raises(InvalidParameterValue, match="does not contain the specified targets column 'nope'"):
        data.from_pandas(DF, source="/x", targets="nope")
    with pytest.raises(InvalidParameterValue, match="does not contain the specified predictions column 'p'"):
        data.from_pandas(DF, source="/x", predictions="p")
    with pytest.raises(ResourceDoesNotExist, match=re.escape("Could not find a source information resolver for the specified dataset source: runs:/abc/x.")):
        data.from_pandas(DF, source="runs:/abc/x")


def test_from_numpy_matches_mlflow() -> None:
    ds = data.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4), source="/tmp/n.npy", targets=np.array([0, 1, 0]))
    assert ds.to_dict() == {
        "name": "dataset",
        "digest": "c32ae2ae",
        "source": '{"uri": "/tmp/n.npy"}',
        "source_type": "local",
        "schema": '{"mlflow_tensorspec": {"features": "[{\\"type\\": \\"tensor\\", \\"tensor-spec\\": {\\"dtype\\": '
                  '\\"float32\\", \\"shape\\": [-1, 4]}}]", "targets": "[{\\"type\\": \\"tensor\\", \\"tensor-spec\\": '
                  '{\\"dtype\\": \\"int64\\", \\"shape\\": [-1]}}]"}}',
        "profile": '{"features_shape": [3, 4], "features_size": 12, "features_nbytes": 48, "targets_shape": [3], '
                   '"targets_size": 3, "targets_nbytes": 24}',
    }
    named = data.from_numpy({"a": np.arange(3), "b": np.array(["x", "y", "z"])}, source="/tmp/n.npy")
    assert named.digest == "ed04063c"
    assert json.loads(named.to_dict()["profile"]) == {
        "features_shape": {"a": [3], "b": [3]}, "features_size": {"a": 3, "b": 3}, "features_nbytes": {"a": 24, "b": 12}}
    assert named.schema.targets is None
    assert data.from_numpy(np.arange(3), source="/x").digest == "4b8fa1ac"
    assert data.from_numpy(np.array([object(), object()], dtype=object), source="/x").digest  # unhashable: size


@pytest.mark.parametrize("raw, cls, source_type, source_json", [
    ("/tmp/x.csv", "LocalArtifactDatasetSource", "local", {"uri": "/tmp/x.csv"}),
    ("relative/path.csv", "LocalArtifactDatasetSource", "local", {"uri": "relative/path.csv"}),
    ("file:///tmp/y.csv", "LocalArtifactDatasetSource", "local", {"uri": "file:///tmp/y.csv"}),
    (Path("/tmp/p.csv"), "LocalArtifactDatasetSource", "local", {"uri": "/tmp/p.csv"}),
    ("s3://b/k.csv", "S3ArtifactDatasetSource", "s3", {"uri": "s3://b/k.csv"}),
    ("gs://b/x", "GCSArtifactDatasetSource", "gs", {"uri": "gs://b/x"}),
    ("wasbs://c@a.blob.core.windows.net/x", "AzureBlobArtifactDatasetSource", "wasbs", {"uri": "wasbs://c@a.blob.core.windows.net/x"}),
    ("hdfs://h/p", "HdfsArtifactDatasetSource", "hdfs", {"uri": "hdfs://h/p"}),
    ("viewfs://h/p", "HdfsArtifactDatasetSource", "viewfs", {"uri": "viewfs://h/p"}),
    ("https://h/x.csv", "HTTPDatasetSource", "http", {"url": "https://h/x.csv"}),
    ("http://h/x.csv", "HTTPDatasetSource", "http", {"url": "http://h/x.csv"}),
])
def test_source_resolution(raw: object, cls: str, source_type: str, source_json: dict) -> None:
    source = data.from_pandas(DF, source=raw).source
    assert type(source).__name__ == cls
    assert source._get_source_type() == source_type
    assert json.loads(source.to_json()) == source_json
    again = sources.get_dataset_source_from_json(source.to_json(), source_type)
    assert again == source and type(again) is type(source)


def test_code_source_when_no_source_is_given() -> None:
    ds = data.from_pandas(DF)
    assert ds.source._get_source_type() == "code"
    tags = json.loads(ds.to_dict()["source"])["tags"]
    assert tags["mlflow.source.type"] == "LOCAL" and "mlflow.user" in tags and "mlflow.source.name" in tags
    with pytest.raises(NotImplementedError):
        ds.source.load()


def test_source_json_errors() -> None:
    with pytest.raises(ResourceDoesNotExist, match="unrecognized source type: delta_table"):
        sources.get_dataset_source_from_json('{"path": "x"}', "delta_table")
    with pytest.raises(InvalidParameterValue, match=re.escape('Failed to parse S3ArtifactDatasetSource. Missing expected key: "uri"')):
        sources.S3ArtifactDatasetSource.from_json("{}")
    with pytest.raises(InvalidParameterValue, match='Missing expected key: "url"'):
        sources.HTTPDatasetSource.from_json("{}")


def test_local_source_load(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    source = data.from_pandas(DF, source=str(tmp_path / "d.csv")).source
    out = tmp_path / "out"
    out.mkdir()
    path = source.load(dst_path=str(out))
    assert Path(path).read_text() == "a\n1\n"


def test_http_file_names() -> None:
    source = sources.HTTPDatasetSource("https://example.com/dir/data.csv?x=1")
    assert source._file_name(None) == "data.csv"
    assert source._file_name('attachment; filename="iris.csv"') == "iris.csv"
    assert sources.HTTPDatasetSource("https://example.com/")._file_name(None) == "dataset_source"
    with pytest.raises(InvalidParameterValue, match="It must be a file name, not a path"):
        source._file_name("attachment; filename=../../etc/passwd")


class BucketSource(DatasetSource):
    """A third-party source, as a plugin would register it."""

    def __init__(self, bucket: str):
        self.bucket = bucket

    @staticmethod
    def _get_source_type() -> str:
        return "bucket"

    def load(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.bucket

    @staticmethod
    def _can_resolve(raw_source: object) -> bool:
        return isinstance(raw_source, str) and raw_source.startswith("bucket:")

    @classmethod
    def _resolve(cls, raw_source: object) -> BucketSource:
        return cls(str(raw_source)[len("bucket:"):])

    def to_dict(self) -> dict:
        return {"bucket": self.bucket}

    @classmethod
    def from_dict(cls, source_dict: dict) -> BucketSource:
        return cls(source_dict["bucket"])


def test_registering_a_source() -> None:
    sources.register_dataset_source(BucketSource)
    try:
        ds = data.from_pandas(DF, source="bucket:b1")
        assert isinstance(ds.source, BucketSource) and ds.to_dict()["source"] == '{"bucket": "b1"}'
        assert data.get_source(ds._to_mlflow_entity()).bucket == "b1"
        assert sources.resolve_dataset_source("/x", candidate_sources=[sources.FileSystemDatasetSource]).uri == "/x"
    finally:
        sources._REGISTERED.remove(BucketSource)


def test_get_source() -> None:
    ds = data.from_pandas(DF, source="s3://b/k")
    assert data.get_source(ds) is ds.source
    assert data.get_source(ds._to_mlflow_entity()) == ds.source
    assert data.get_source(DatasetInput(ds._to_mlflow_entity())) == ds.source
    with pytest.raises(MlflowException, match="Unrecognized dataset type"):
        data.get_source("nope")


def test_log_input_stores_what_mlflow_stores(sqlite_uri: str) -> None:
    fluvial.set_tracking_uri(sqlite_uri)
    ds = data.from_pandas(DF, source="/tmp/x.csv", name="n", targets="t")
    with fluvial.start_run() as run:
        fluvial.log_input(ds, context="train", tags={"k": "v"})
    inputs = fluvial.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    stored = inputs[0].dataset
    assert (stored.name, stored.digest, stored.source_type, stored.source) == ("n", "16277095", "local", '{"uri": "/tmp/x.csv"}')
    assert stored.schema == ds.to_dict()["schema"] and stored.profile == '{"num_rows": 3, "num_elements": 12}'
    assert {t.key: t.value for t in inputs[0].tags} == {"k": "v", "mlflow.data.context": "train"}


def test_schema_failure_gives_none(caplog: pytest.LogCaptureFixture) -> None:
    ds = data.from_pandas(pd.DataFrame({"a": [1 + 2j]}), source="/x")
    with caplog.at_level("WARNING"):
        assert ds.to_dict()["schema"] is None
    assert "Failed to infer schema for Pandas dataset" in caplog.text



def test_import_is_light() -> None:
    code = "import sys, fluvial.data, fluvial.data.sources; print(sorted(m for m in ('pandas', 'numpy', 'yaml') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
