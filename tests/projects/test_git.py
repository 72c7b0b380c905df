"""Projects from git: versions (tag, branch, commit), #subdirectory, dirty trees, the clone cache, and
a real git:// server."""

from __future__ import annotations

import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.projects import ExecutionException
from fluvial.projects.git import cache_root, split_uri
from tests.projects.conftest import ECHO_PY, commit_all, git, init_repo, runs_of

MLPROJECT = """
name: versioned
entry_points:
  main:
    parameters: {who: {type: string, default: world}}
    command: python echo.py {who}
"""


def versioned_repo(root: Path) -> dict[str, str]:
    """A repository with a tag v1.0, a later commit on main and a branch 'feature'; their commits."""
    init_repo(root, {"MLproject": MLPROJECT, "echo.py": ECHO_PY.replace('"argv"', '"version": "one", "argv"'),
                     "sub/MLproject": "entry_points:\n  main:\n    command: python job.py\n",
                     "sub/job.py": ECHO_PY.replace('"argv"', '"version": "sub-one", "argv"')})
    git("tag", "v1.0", cwd=root)
    v1 = git("rev-parse", "HEAD", cwd=root)
    (root / "echo.py").write_text(ECHO_PY.replace('"argv"', '"version": "two", "argv"'))
    two = commit_all(root, "second")
    git("checkout", "-q", "-b", "feature", cwd=root)
    (root / "echo.py").write_text(ECHO_PY.replace('"argv"', '"version": "feature", "argv"'))
    feature = commit_all(root, "feature work")
    git("checkout", "-q", "main", cwd=root)
    return {"v1.0": v1, "main": two, "feature": feature}


def test_a_tagged_version_records_the_tagged_commit(tracking, tmp_path, probe):
    repo = tmp_path / "repo"
    commits = versioned_repo(repo)
    submitted = mlflow.projects.run(str(repo), version="v1.0", env_manager="local")
    assert probe()["version"] == "one"
    tags = mlflow.get_run(submitted.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commits["v1.0"]
    assert tags["mlflow.source.name"] == f"file://{repo}"
    assert tags["mlflow.source.git.repoURL"] == tags["mlflow.gitRepoURL"] == str(repo)
    assert "mlflow.source.git.branch" not in tags and "fluvial.source.git.dirty" not in tags
    assert probe()["cwd"] != str(repo) and not Path(probe()["cwd"]).exists()  # a checkout, removed afterwards
    # the user's work tree is untouched
    assert git("rev-parse", "HEAD", cwd=repo) == commits["main"]
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo) == "main"
    assert git("status", "--porcelain", cwd=repo) == ""


def test_branch_and_commit_versions(tracking, tmp_path, probe):
    repo = tmp_path / "repo"
    commits = versioned_repo(repo)
    branch_run = mlflow.projects.run(str(repo), version="feature", env_manager="local")
    assert probe()["version"] == "feature"
    tags = mlflow.get_run(branch_run.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commits["feature"]
    assert tags["mlflow.source.git.branch"] == tags["mlflow.gitBranchName"] == "feature"
    for version in (commits["v1.0"], commits["v1.0"][:8]):
        run = mlflow.projects.run(str(repo), version=version, env_manager="local")
        assert probe()["version"] == "one"
        tags = mlflow.get_run(run.run_id).data.tags
        assert tags["mlflow.source.git.commit"] == commits["v1.0"] and "mlflow.source.git.branch" not in tags
    with pytest.raises(ExecutionException, match="Unable to checkout version 'nope'"):
        mlflow.projects.run(str(repo), version="nope", env_manager="local")
    with pytest.raises(ExecutionException, match="Unable to checkout version '--help'"):
        mlflow.projects.run(str(repo), version="--help", env_manager="local")
    assert len(runs_of()) == 3


def test_the_working_tree_as_it_is_and_a_dirty_tree(tracking, tmp_path, probe):
    repo = tmp_path / "repo"
    commits = versioned_repo(repo)
    clean = mlflow.projects.run(str(repo), env_manager="local")
    assert probe()["cwd"] == str(repo) and probe()["version"] == "two"
    tags = mlflow.get_run(clean.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commits["main"] and "fluvial.source.git.dirty" not in tags
    assert "mlflow.source.git.repoURL" not in tags  # no remote, as MLflow
    (repo / "untracked.txt").write_text("outputs do not count")
    assert "fluvial.source.git.dirty" not in mlflow.get_run(
        mlflow.projects.run(str(repo), env_manager="local").run_id).data.tags
    (repo / "echo.py").write_text(ECHO_PY.replace('"argv"', '"version": "edited", "argv"'))
    dirty = mlflow.projects.run(str(repo), env_manager="local")
    assert probe()["version"] == "edited"
    tags = mlflow.get_run(dirty.run_id).data.tags
    assert tags["fluvial.source.git.dirty"] == "true" and tags["mlflow.source.git.commit"] == commits["main"]
    git("remote", "add", "origin", "https://example.com/org/repo.git", cwd=repo)
    tags = mlflow.get_run(mlflow.projects.run(str(repo), env_manager="local").run_id).data.tags
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/org/repo.git"


def test_subdirectories(tracking, tmp_path, probe):
    repo = tmp_path / "repo"
    commits = versioned_repo(repo)
    (repo / "sub" / "job.py").write_text(ECHO_PY.replace('"argv"', '"version": "sub-two", "argv"'))
    commit_all(repo, "sub two")
    run = mlflow.projects.run(f"{repo}#sub", env_manager="local")
    assert probe()["version"] == "sub-two" and probe()["cwd"] == str(repo / "sub")
    tags = mlflow.get_run(run.run_id).data.tags
    assert tags["mlflow.source.name"] == f"file://{repo}#sub"
    run = mlflow.projects.run(f"{repo}#sub", version="v1.0", env_manager="local")
    assert probe()["version"] == "sub-one" and probe()["cwd"].endswith("/sub")
    assert mlflow.get_run(run.run_id).data.tags["mlflow.source.git.commit"] == commits["v1.0"]
    run = mlflow.projects.run(str(repo / "sub"), version="v1.0", env_manager="local")  # a path inside the repo
    assert probe()["version"] == "sub-one"
    assert mlflow.get_run(run.run_id).data.tags["mlflow.source.name"] == f"file://{repo}#sub"
    with pytest.raises(ExecutionException, match="Could not find subdirectory nope"):
        mlflow.projects.run(f"{repo}#nope", env_manager="local")
    with pytest.raises(ExecutionException, match="must be a relative path inside the project"):
        mlflow.projects.run(f"{repo}#../up", env_manager="local")


def test_split_uri():
    assert split_uri("https://host/org/repo.git#a/b") == ("https://host/org/repo.git", "a/b")
    assert split_uri("'./dir'") == ("./dir", "")
    assert split_uri("repo#sub.dir/x/") == ("repo", "sub.dir/x")


def test_version_needs_a_git_project(tracking, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "echo.py").write_text(ECHO_PY)
    with pytest.raises(ExecutionException, match="Setting a version is only supported for Git project URIs"):
        mlflow.projects.run(str(plain), entry_point="echo.py", version="v1", env_manager="local")
    with pytest.raises(ExecutionException, match="does not exist"):
        mlflow.projects.run(str(tmp_path / "missing"), env_manager="local")
    with pytest.raises(ExecutionException, match="Unsupported project URI"):
        mlflow.projects.run("s3://bucket/project", env_manager="local")
    assert runs_of() == []


def bare_clone(repo: Path, target: Path) -> Path:
    git("clone", "-q", "--bare", str(repo), str(target), cwd=repo.parent)
    return target


def test_the_clone_cache_is_reused(tracking, tmp_path, probe):
    repo = tmp_path / "repo"
    commits = versioned_repo(repo)
    remote = bare_clone(repo, tmp_path / "remote.git")
    first = mlflow.projects.run(f"file://{remote}", version="v1.0", env_manager="local")
    assert probe()["version"] == "one"
    tags = mlflow.get_run(first.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commits["v1.0"] and tags["mlflow.source.name"] == f"file://{remote}"
    assert tags["mlflow.source.git.repoURL"] == str(remote)
    (cached,) = (cache_root() / "git").glob("*.git")
    # a new commit on the remote is fetched into the same cached clone
    work = tmp_path / "work"
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    (work / "echo.py").write_text(ECHO_PY.replace('"argv"', '"version": "three", "argv"'))
    three = commit_all(work, "third")
    git("push", "-q", "origin", "main", cwd=work)
    second = mlflow.projects.run(str(remote), env_manager="local")
    assert probe()["version"] == "three"
    assert mlflow.get_run(second.run_id).data.tags["mlflow.source.git.commit"] == three
    assert list((cache_root() / "git").glob("*.git")) == [cached]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def git_daemon(tmp_path):
    """``git daemon`` serving tmp_path/served over git:// on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    port = free_port()
    log = open(tmp_path / "git-daemon.log", "wb")  # noqa: SIM115
    try:
        proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                                 f"--port={port}", f"--base-path={served}", str(served)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        log.close()
        pytest.skip("git is not installed")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"git daemon did not start: {(tmp_path / 'git-daemon.log').read_text()[-500:]}")
                time.sleep(0.05)
        def stop() -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)

        yield served, f"git://127.0.0.1:{port}", stop
    finally:
        stop()
        log.close()


def test_a_remote_repository_over_git_protocol(tracking, tmp_path, probe, git_daemon):
    served, base, stop = git_daemon
    commits = versioned_repo(tmp_path / "repo")
    bare_clone(tmp_path / "repo", served / "proj.git")
    url = f"{base}/proj.git"
    run = mlflow.projects.run(f"{url}#sub", version="v1.0", env_manager="local", parameters={"x": "1"})
    assert probe()["version"] == "sub-one" and probe()["argv"] == ["--x", "1"]
    tags = mlflow.get_run(run.run_id).data.tags
    assert tags["mlflow.source.name"] == f"{url}#sub"
    assert tags["mlflow.source.git.repoURL"] == url and tags["mlflow.source.git.commit"] == commits["v1.0"]
    run = mlflow.projects.run(url, version="feature", env_manager="local")
    assert probe()["version"] == "feature"
    assert mlflow.get_run(run.run_id).data.tags["mlflow.source.git.branch"] == "feature"
    with pytest.raises(ExecutionException, match="Unable to checkout version 'nope'"):
        mlflow.projects.run(url, version="nope", env_manager="local")
    with pytest.raises(ExecutionException, match=r"cloning git://127\.0\.0\.1"):
        mlflow.projects.run(f"{base}/missing.git", env_manager="local")
    # with the server gone: a commit already in the cache runs without fetching, a branch from the cache
    stop()
    mlflow.projects.run(url, version=commits["v1.0"], env_manager="local")
    assert probe()["version"] == "one"
    run = mlflow.projects.run(url, version="feature", env_manager="local")
    assert probe()["version"] == "feature"
    assert mlflow.get_run(run.run_id).data.tags["mlflow.source.git.commit"] == commits["feature"]
    with pytest.raises(ExecutionException, match="Could not update the cached clone"):
        mlflow.projects.run(url, version="never-existed", env_manager="local")


def test_a_zip_archive(tracking, tmp_path, probe):
    archive = tmp_path / "project.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("MLproject", MLPROJECT)
        zf.writestr("echo.py", ECHO_PY)
    run = mlflow.projects.run(str(archive), parameters={"who": "zip"}, env_manager="local")
    assert probe()["argv"] == ["zip"]
    assert mlflow.get_run(run.run_id).data.tags["mlflow.source.name"] == str(archive)
    with pytest.raises(ExecutionException, match="only supported for Git project URIs"):
        mlflow.projects.run(str(archive), version="v1", env_manager="local")
