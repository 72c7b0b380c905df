"""fluvial export / fluvial import: a SQLite store with nested runs, metric histories, params, tags, a
dataset, artifacts and a registered model, exported (resumably), imported into a fresh SQLite store and
into a real ``fluvial server``, compared field by field (run ids kept on the SQL target, mapped on the
server); importing again changes nothing; an interrupted import is finished by the next one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fluvial.tracking.client import MlflowClient
from fluvial.tracking.transfer.format import DONE, MAPPING, SOURCE_RUN_TAG
from tests.server._serve import fluvial_server, free_port
from tests.transfer._content import cli, populate, snapshot


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("source")
    uri = f"sqlite:///{root / 'src.db'}"
    (root / "art").mkdir()
    client = MlflowClient(uri)
    ids = populate(client)
    export_dir = root / "export"
    result = cli("export", str(export_dir), "--tracking-uri", uri)
    return {"uri": uri, "ids": ids, "dir": export_dir, "snapshot": snapshot(client), "stderr": result.stderr}


def test_export_format(source: dict[str, Any]) -> None:
    d = source["dir"]
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["format"] == "fluvial-export" and manifest["format_version"] == 1
    assert manifest["source_uri"] == source["uri"] and manifest["fluvial_version"]
    run_dir = d / "runs" / source["ids"]["parent"]
    assert (run_dir / DONE).exists() and (run_dir / "artifacts" / "notes" / "readme.txt").read_text() == "hello\n"
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3 * 2000
    run = json.loads((d / "runs" / source["ids"]["child-a"] / "run.json").read_text())
    assert run["parent_run_id"] == source["ids"]["parent"] and run["params"] == {"seed": "7"}
    models = [json.loads(line) for line in (d / "registered_models.jsonl").read_text().splitlines()]
    assert [m["name"] for m in models] == ["river-model"] and len(models[0]["versions"]) == 2
    assert "3 runs exported" in source["stderr"]


def _check_mapping(export_dir: Path, target: MlflowClient, ids: dict[str, str], same_ids: bool) -> None:
    mapping = json.loads((export_dir / MAPPING).read_text())[target.tracking_uri]
    assert set(mapping["runs"]) == set(ids.values())
    for old, new in mapping["runs"].items():
        assert (new == old) is same_ids and target.get_run(new).data.tags[SOURCE_RUN_TAG] == old
    assert mapping["model_versions"] == {"river-model": {"1": "1", "2": "2"}}


def test_import_into_sqlite_then_again(source: dict[str, Any], tmp_path: Path) -> None:
    export_dir = tmp_path / "export"
    shutil.copytree(source["dir"], export_dir)
    uri = f"sqlite:///{tmp_path / 'dst.db'}"
    cli("import", str(export_dir), "--tracking-uri", uri)
    target = MlflowClient(uri)
    first = snapshot(target)
    assert first == source["snapshot"]
    _check_mapping(export_dir, target, source["ids"], same_ids=True)
    again = cli("import", str(export_dir), "--tracking-uri", uri)
    assert "0 runs imported, 3 already imported, 0 model versions" in again.stderr
    assert snapshot(target) == first
    all_runs = target.search_runs([e.experiment_id for e in target.search_experiments()], run_view_type=3)
    assert len(all_runs) == 3


def test_import_with_prefix_into_fluvial_server(source: dict[str, Any], tmp_path: Path) -> None:
    export_dir = tmp_path / "export"
    shutil.copytree(source["dir"], export_dir)
    with fluvial_server(tmp_path / "server") as server:
        cli("import", str(export_dir), "--tracking-uri", server.url, "--experiment-name-prefix", "moved/")
        target = MlflowClient(server.url)
        assert snapshot(target, prefix="moved/") == source["snapshot"]
        _check_mapping(export_dir, target, source["ids"], same_ids=False)


def test_export_resumes_after_a_partial_run(source: dict[str, Any], tmp_path: Path) -> None:
    export_dir = tmp_path / "export"
    shutil.copytree(source["dir"], export_dir)
    child = export_dir / "runs" / source["ids"]["child-a"]
    (child / DONE).unlink()
    (child / "metrics.jsonl").write_text("half written")
    result = cli("export", str(export_dir), "--tracking-uri", source["uri"])
    assert "1 runs exported, 2 already exported" in result.stderr
    for run_id in source["ids"].values():
        for name in ("run.json", "metrics.jsonl", "done"):
            original = source["dir"] / "runs" / run_id / name
            assert (export_dir / "runs" / run_id / name).read_bytes() == original.read_bytes()


def _one_line_error(result: Any, *words: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0]


def test_errors(source: dict[str, Any], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'dst.db'}"
    _one_line_error(cli("import", str(tmp_path / "missing"), "--tracking-uri", uri, check=False),
                    "does not exist", "fluvial export")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("{not json")
    _one_line_error(cli("import", str(bad), "--tracking-uri", uri, check=False), "not valid JSON")
    (bad / "manifest.json").write_text('{"format": "fluvial-export", "format_version": 99}')
    _one_line_error(cli("import", str(bad), "--tracking-uri", uri, check=False), "format version 99")
    down = f"http://127.0.0.1:{free_port()}"
    env_free = cli("import", str(source["dir"]), "--tracking-uri", down, check=False)
    _one_line_error(env_free, "cannot reach the tracking server", "start the server")
    _one_line_error(cli("export", str(tmp_path / "out"), "--tracking-uri", down, check=False),
                    "cannot reach the tracking server")
    assert not (tmp_path / "dst.db").exists() or MlflowClient(uri).search_experiments(max_results=5)


def test_interrupted_import_is_finished_by_the_next(source: dict[str, Any], tmp_path: Path) -> None:
    """A run left half-loaded (created with its source tag, not in the mapping) is removed and loaded again."""
    export_dir = tmp_path / "export"
    shutil.copytree(source["dir"], export_dir)
    uri = f"sqlite:///{tmp_path / 'dst.db'}"
    cli("import", str(export_dir), "--tracking-uri", uri)
    target = MlflowClient(uri)
    mapping_file = export_dir / MAPPING
    mapping = json.loads(mapping_file.read_text())
    del mapping[uri]["runs"][source["ids"]["parent"]]
    mapping_file.write_text(json.dumps(mapping))
    target.delete_tag(source["ids"]["parent"], "kind")  # what the first attempt had not written yet
    result = cli("import", str(export_dir), "--tracking-uri", uri)
    assert "1 runs imported, 2 already imported" in result.stderr
    assert snapshot(target) == source["snapshot"]


def test_export_only_given_experiments(source: dict[str, Any], tmp_path: Path) -> None:
    client = MlflowClient(source["uri"])
    main = client.get_experiment_by_name("transfer-main")
    empty = client.get_experiment_by_name("transfer-empty")
    assert main is not None and empty is not None
    out = tmp_path / "only-empty"
    result = cli("export", str(out), "--tracking-uri", source["uri"], "--experiment-id", empty.experiment_id)
    assert "1 experiments, 0 runs exported" in result.stderr
    assert [json.loads(line)["name"] for line in (out / "experiments.jsonl").read_text().splitlines()] == [
        "transfer-empty"]
    assert not any((out / "runs").iterdir())
