"""``fluvial artifacts``: list, download, log-artifact, log-artifacts, and bad input."""

from __future__ import annotations

import json
import os
import pathlib

from fluvial import MlflowClient


def test_list_root_and_subdirectory(uri, cli, make_run):
    run_id = make_run().info.run_id
    assert json.loads(cli.ok("artifacts", "list", "-r", run_id).stdout) == [{"path": "notes", "is_dir": True}]
    listed = json.loads(cli.ok("artifacts", "list", "--run-id", run_id, "--artifact-path", "notes").stdout)
    assert listed == [{"path": "notes/r1.txt", "is_dir": False, "file_size": len("artifact body")}]
    assert json.loads(cli.ok("artifacts", "list", "-r", run_id, "-a", "missing").stdout) == []


def test_download_by_run_id_and_by_uri(uri, cli, make_run, tmp_path):
    run_id = make_run().info.run_id
    out = cli.ok("artifacts", "download", "-r", run_id, "-a", "notes/r1.txt", "-d", str(tmp_path / "dl")).stdout
    path = pathlib.Path(out.strip())
    assert path == tmp_path / "dl" / "notes" / "r1.txt"
    assert path.read_text() == "artifact body"

    whole = pathlib.Path(cli.ok("artifacts", "download", "--run-id", run_id, "--dst-path", "all").stdout.strip())
    assert whole == tmp_path / "all"
    assert (whole / "notes" / "r1.txt").read_text() == "artifact body"

    by_runs_uri = pathlib.Path(cli.ok("artifacts", "download", "-u", f"runs:/{run_id}/notes", "-d", "u").stdout.strip())
    assert (by_runs_uri / "r1.txt").read_text() == "artifact body"

    artifact_uri = MlflowClient().get_run(run_id).info.artifact_uri
    by_uri = pathlib.Path(cli.ok("artifacts", "download", "--artifact-uri", f"{artifact_uri}/notes/r1.txt").stdout.strip())
    assert by_uri.read_text() == "artifact body"
    assert not str(by_uri).startswith(artifact_uri)  # a copy in a new temporary directory


def test_log_artifact_and_log_artifacts(uri, cli, make_run, tmp_path):
    run_id = make_run().info.run_id
    (tmp_path / "model.bin").write_bytes(b"\x00\x01")
    result = cli.ok("artifacts", "log-artifact", "-l", str(tmp_path / "model.bin"), "-r", run_id, "-a", "models/v1")
    assert "Logged artifact from local file" in result.stderr
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    cli.ok("artifacts", "log-artifacts", "--local-dir", str(tree), "--run-id", run_id)
    cli.ok("artifacts", "log-artifact", "--local-file", str(tree / "a.txt"), "--run-id", run_id)

    root = pathlib.Path(MlflowClient().get_run(run_id).info.artifact_uri)
    assert (root / "models" / "v1" / "model.bin").read_bytes() == b"\x00\x01"
    assert (root / "a.txt").read_text() == "a"
    assert (root / "sub" / "b.txt").read_text() == "b"
    paths = [e["path"] for e in json.loads(cli.ok("artifacts", "list", "-r", run_id).stdout)]
    assert paths == ["a.txt", "models", "notes", "sub"]


def test_bad_input_changes_nothing(uri, cli, make_run, tmp_path):
    run_id = make_run().info.run_id
    root = pathlib.Path(MlflowClient().get_run(run_id).info.artifact_uri)
    files_before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    db_before = cli.dump_db(uri)
    missing = "0" * 32
    cli.error("artifacts", "list", "-r", missing, contains="not found")
    cli.error("artifacts", "list", contains="Missing option '-r' / '--run-id'")
    cli.error("artifacts", "list", "-r", run_id, "-a", "../escape", contains="Invalid path")
    cli.error("artifacts", "download", contains="Either --run-id or --artifact-uri must be given")
    cli.error("artifacts", "download", "-r", missing, contains="not found")
    cli.error("artifacts", "download", "-r", run_id, "-a", "nope.txt", "-d", str(tmp_path / "x"), contains="No artifact")
    cli.error("artifacts", "download", "-u", "runs:/", contains="runs:/")
    cli.error("artifacts", "log-artifact", "-l", str(tmp_path / "absent.txt"), "-r", run_id, contains="No such file")
    cli.error("artifacts", "log-artifact", "-l", str(tmp_path), "-r", run_id, contains="No such file")
    cli.error("artifacts", "log-artifacts", "-l", str(tmp_path / "absent"), "-r", run_id, contains="No such directory")
    (tmp_path / "f.txt").write_text("f")
    cli.error("artifacts", "log-artifact", "-l", str(tmp_path / "f.txt"), "-r", missing, contains="not found")
    cli.error("artifacts", "log-artifact", "-l", str(tmp_path / "f.txt"), "-r", run_id, "-a", "../../out",
              contains="Invalid path")
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == files_before
    assert not os.path.exists(root.parent.parent / "out")
    assert cli.dump_db(uri) == db_before
