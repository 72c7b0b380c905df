"""Fixtures for project tests: a tracking store, a project cache of its own, projects and git
repositories written by the tests, and a fake ``docker`` command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

GIT_TIMEOUT = 60

# A training script that logs into the run the runner created (MLFLOW_RUN_ID) and records what it got.
TRAIN_PY = """
import argparse, json, os, sys
import fluvial as mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--l1-ratio", "--l1_ratio", dest="l1_ratio", type=float, default=0.1)
parser.add_argument("--max-iter", dest="max_iter", type=int, default=100)
args, rest = parser.parse_known_args()
given_env = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}  # start_run() consumes MLFLOW_RUN_ID

from sklearn.datasets import make_regression
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error

X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
with mlflow.start_run() as run:
    model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, max_iter=args.max_iter).fit(X, y)
    mlflow.log_param("alpha", args.alpha)
    mlflow.log_metric("rmse", float(mean_squared_error(y, model.predict(X)) ** 0.5))
    mlflow.log_metric("n_coef", float((model.coef_ != 0).sum()))
    with open(os.environ["PROBE_FILE"], "w") as fh:
        json.dump({"run_id": run.info.run_id, "argv": sys.argv[1:], "rest": rest, "env": given_env,
                   "cwd": os.getcwd(), "python": sys.executable}, fh)
"""

# A script that records its arguments and environment (no tracking calls).
ECHO_PY = """
import json, os, sys
with open(os.environ["PROBE_FILE"], "w") as fh:
    json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")},
               "cwd": os.getcwd(), "python": sys.executable}, fh)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


@pytest.fixture(autouse=True)
def _project_isolation(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FLUVIAL_PROJECT_CACHE", str(tmp_path / "project-cache"))
    monkeypatch.setenv("MLFLOW_ENV_ROOT", str(tmp_path / "envs"))
    monkeypatch.setenv("PROBE_FILE", str(tmp_path / "probe.json"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "MLFLOW_TMP_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    (tmp_path / "gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.com\n"
                                         "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n")


@pytest.fixture
def tracking(tmp_path) -> str:
    """The fluent API (and the runner) pointed at a fresh SQLite file, by absolute URI."""
    import fluvial

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fluvial.set_tracking_uri(uri)
    return uri


@pytest.fixture
def probe(tmp_path) -> Callable[[], dict]:
    """What the last script run wrote to PROBE_FILE."""
    import json

    def read() -> dict:
        return json.loads((tmp_path / "probe.json").read_text())

    return read


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative name -> text, dedented) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if name.endswith(".sh"):
            path.chmod(0o755)
    return root


def git(*args: str, cwd: Path | str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def init_repo(root: Path, files: dict[str, str]) -> Path:
    write_project(root, files)
    git("init", "-q", "-b", "main", cwd=root)
    commit_all(root, "first")
    return root


def runs_of(experiment_name: str | None = None) -> list:
    """Every run of the experiment (default: all experiments)."""
    from fluvial import MlflowClient
    from fluvial.entities import ViewType

    client = MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)
           if experiment_name is None or e.name == experiment_name]
    return list(client.search_runs(ids, run_view_type=ViewType.ALL)) if ids else []


FAKE_DOCKER = """#!{python}
# A stand-in for the docker CLI: `version` answers as configured, everything else is recorded.
import json, os, sys
log = os.environ["FAKE_DOCKER_LOG"]
name = os.path.basename(sys.argv[0])  # docker, or podman (a copy of this script)
with open(log, "a") as fh:
    fh.write(json.dumps({{"engine": name, "argv": sys.argv[1:], "env": {{k: os.environ.get(k) for k in
              ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "PROJECT_TOKEN", "GREETING")}}}}) + "\\n")
cmd = sys.argv[1:2]
if cmd == ["version"]:
    if os.environ.get("FAKE_" + name.upper() + "_ENGINE") != "up":
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
              file=sys.stderr)
        sys.exit(1)
    print("24.0.7")
if sys.argv[1:3] == ["image", "inspect"]:
    print("sha256:" + "ab" * 32)
sys.exit(int(os.environ.get("FAKE_DOCKER_RUN_EXIT", "0")) if cmd == ["run"] else 0)
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch) -> Path:
    """A ``docker`` first on PATH that records its calls (one JSON line each) in the returned file;
    ``docker version`` fails unless FAKE_DOCKER_ENGINE=up. PATH has nothing else (the stand-in runs
    with this Python), so a real podman is not found after a failing docker."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("FLUVIAL_CONTAINER_ENGINE", raising=False)
    return log
