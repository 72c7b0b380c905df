"""The artifact repository contract, run against every backend: the local filesystem, HTTP through a
real ``fluvial server`` process (the proxied artifact service), and S3 (moto's S3 server as a process)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from _serve import S3_ENV, fluvial_server, make_bucket, moto_server

from fluvial.entities import FileInfo
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceDoesNotExist

BUCKET = "contract-bucket"
ODD_NAMES = ["a b.txt", "ünïcødé ☃.txt", "what?.txt", "hash#tag.txt", "100%.txt", "p%20q.txt", "semi;colon.txt",
             "plus+and&eq=.txt", "'quote\".txt"]


@pytest.fixture(scope="module")
def http_server(tmp_path_factory) -> Iterator[str]:
    with fluvial_server(tmp_path_factory.mktemp("contract-http")) as server:
        yield server.url


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("contract-moto")) as process:
        make_bucket(process.url, BUCKET)
        yield process.url


@pytest.fixture(params=["local", "http", "s3"])
def repo(request, tmp_path, monkeypatch):
    """A fresh, empty repository root on each backend."""
    root = uuid.uuid4().hex[:12]
    if request.param == "local":
        from fluvial.store.artifact.local import LocalArtifactRepository

        return LocalArtifactRepository(str(tmp_path / "artifact-root" / root))
    if request.param == "http":
        from fluvial.store.artifact.http import HttpArtifactRepository

        url = request.getfixturevalue("http_server")
        return HttpArtifactRepository(f"mlflow-artifacts:/contract/{root}", tracking_uri=url)
    from fluvial.store.artifact.s3 import S3ArtifactRepository

    endpoint = request.getfixturevalue("moto_endpoint")
    for key, value in {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    return S3ArtifactRepository(f"s3://{BUCKET}/contract/{root}")


@pytest.fixture
def src(tmp_path) -> Path:
    """A local tree: files at the top, nested directories, an empty file, odd names."""
    base = tmp_path / "src"
    files = {"top.txt": b"top", "data/a.csv": b"x,y\n1,2\n", "data/deep/er/b.bin": os.urandom(5000),
             "data/deep/empty.txt": b""}
    files.update({f"odd/{name}": name.encode() for name in ODD_NAMES})
    for rel, data in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return base


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / "one" / uuid.uuid4().hex / name
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return str(path)


# ---- logging and listing -------------------------------------------------------------------------
def test_log_artifact_at_the_root_and_under_a_directory(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "model.pkl", b"12345"))
    repo.log_artifact(_file(tmp_path, "notes.txt", b"hi"), "docs/v1")
    assert repo.list_artifacts() == [FileInfo("docs", True, None), FileInfo("model.pkl", False, 5)]
    assert repo.list_artifacts("docs") == [FileInfo("docs/v1", True, None)]
    assert repo.list_artifacts("docs/v1") == [FileInfo("docs/v1/notes.txt", False, 2)]
    assert repo.list_artifacts("docs/v1/") == [FileInfo("docs/v1/notes.txt", False, 2)]


def test_log_artifacts_keeps_nested_directories(repo, src):
    repo.log_artifacts(str(src), "run")
    assert repo.list_artifacts() == [FileInfo("run", True, None)]
    assert repo.list_artifacts("run") == [FileInfo("run/data", True, None), FileInfo("run/odd", True, None),
                                          FileInfo("run/top.txt", False, 3)]
    assert repo.list_artifacts("run/data") == [FileInfo("run/data/a.csv", False, 8),
                                               FileInfo("run/data/deep", True, None)]
    assert repo.list_artifacts("run/data/deep") == [FileInfo("run/data/deep/empty.txt", False, 0),
                                                    FileInfo("run/data/deep/er", True, None)]
    assert repo.list_artifacts("run/data/deep/er") == [FileInfo("run/data/deep/er/b.bin", False, 5000)]


def test_log_artifacts_at_the_root(repo, src):
    repo.log_artifacts(str(src))
    assert [f.path for f in repo.list_artifacts()] == ["data", "odd", "top.txt"]


def test_listing_is_sorted_and_relative(repo, tmp_path):
    for name in ("b.txt", "a.txt", "C.txt", "_x.txt"):
        repo.log_artifact(_file(tmp_path, name, b"."), "dir")
    paths = [f.path for f in repo.list_artifacts("dir")]
    assert paths == sorted(paths) == ["dir/C.txt", "dir/_x.txt", "dir/a.txt", "dir/b.txt"]


def test_listing_a_file_or_a_missing_directory_is_empty(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"), "d")
    assert repo.list_artifacts("d/f.txt") == []
    assert repo.list_artifacts("missing") == []
    assert repo.list_artifacts("d/missing/deeper") == []


def test_logging_again_replaces_the_file(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "f.txt", b"first"))
    repo.log_artifact(_file(tmp_path, "f.txt", b"second!"))
    assert repo.list_artifacts() == [FileInfo("f.txt", False, 7)]
    assert Path(repo.download_artifacts("f.txt", str(tmp_path / "dl"))).read_bytes() == b"second!"


def test_odd_names_round_trip(repo, src, tmp_path):
    repo.log_artifacts(str(src / "odd"), "odd dir?#%;")
    listed = repo.list_artifacts("odd dir?#%;")
    assert [f.path for f in listed] == sorted(f"odd dir?#%;/{n}" for n in ODD_NAMES)
    assert [f.file_size for f in listed] == [len(n.encode()) for n in sorted(ODD_NAMES)]
    out = Path(repo.download_artifacts("odd dir?#%;", str(tmp_path / "dl")))
    assert out == tmp_path / "dl" / "odd dir?#%;"
    assert _tree(out) == _tree(src / "odd")
    for name in ODD_NAMES:
        one = Path(repo.download_artifacts(f"odd dir?#%;/{name}", str(tmp_path / "one")))
        assert one.read_bytes() == name.encode()


# ---- downloading ---------------------------------------------------------------------------------
def test_download_a_file(repo, src, tmp_path):
    repo.log_artifacts(str(src))
    local = repo.download_artifacts("data/deep/er/b.bin", str(tmp_path / "dl"))
    assert local == str(tmp_path / "dl" / "data" / "deep" / "er" / "b.bin")
    assert Path(local).read_bytes() == (src / "data/deep/er/b.bin").read_bytes()
    empty = repo.download_artifacts("data/deep/empty.txt", str(tmp_path / "dl"))
    assert Path(empty).read_bytes() == b""


def test_download_a_directory_tree(repo, src, tmp_path):
    repo.log_artifacts(str(src), "run")
    local = Path(repo.download_artifacts("run/data", str(tmp_path / "dl")))
    assert local == tmp_path / "dl" / "run" / "data"
    assert _tree(local) == _tree(src / "data")


def test_download_everything(repo, src, tmp_path):
    repo.log_artifacts(str(src))
    assert _tree(Path(repo.download_artifacts("", str(tmp_path / "dl")))) == _tree(src)


def test_download_to_a_new_temporary_directory(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "f.txt", b"tmp"))
    local = Path(repo.download_artifacts("f.txt"))
    try:
        assert local.read_bytes() == b"tmp"
    finally:
        import shutil

        shutil.rmtree(local.parent, ignore_errors=True)


def test_download_of_a_missing_file_is_resource_does_not_exist(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"), "d")
    for missing in ("nope.txt", "d/nope.txt", "no/such/dir/file.bin"):
        with pytest.raises(ResourceDoesNotExist):
            repo.download_artifacts(missing, str(tmp_path / "dl"))
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.is_file()]


# ---- deleting ------------------------------------------------------------------------------------
def test_delete_a_file_a_directory_and_everything(repo, src):
    repo.log_artifacts(str(src))
    repo.delete_artifacts("top.txt")
    assert [f.path for f in repo.list_artifacts()] == ["data", "odd"]
    repo.delete_artifacts("data/deep")
    assert repo.list_artifacts("data") == [FileInfo("data/a.csv", False, 8)]
    assert repo.list_artifacts("data/deep") == []
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_deleting_something_missing_is_not_an_error(repo):
    repo.delete_artifacts("never/was/here.txt")
    assert repo.list_artifacts() == []


def test_delete_of_a_directory_does_not_touch_a_sibling_with_the_same_prefix(repo, tmp_path):
    repo.log_artifact(_file(tmp_path, "f.txt", b"1"), "model")
    repo.log_artifact(_file(tmp_path, "g.txt", b"2"), "model-v2")
    repo.log_artifact(_file(tmp_path, "model.txt", b"3"))
    repo.delete_artifacts("model")
    assert [f.path for f in repo.list_artifacts()] == ["model-v2", "model.txt"]


# ---- bad paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../escape", "a/../../escape", "/abs/path", "%2e%2e/x", "a\\b", "x\x00y", "C:/x"])
def test_unsafe_paths_are_invalid_parameter_values(repo, tmp_path, bad):
    source = _file(tmp_path, "f.txt", b"x")
    for call in (lambda: repo.log_artifact(source, bad), lambda: repo.list_artifacts(bad),
                 lambda: repo.download_artifacts(bad, str(tmp_path / "dl")), lambda: repo.delete_artifacts(bad)):
        with pytest.raises(InvalidParameterValue):
            call()


def test_errors_are_mlflow_exceptions(repo, tmp_path):
    with pytest.raises(MlflowException):
        repo.download_artifacts("missing.bin", str(tmp_path / "dl"))
