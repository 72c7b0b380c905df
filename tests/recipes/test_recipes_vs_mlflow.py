"""A recipe directory written for MLflow 2.22.5, run by MLflow in its virtualenv and by fluvial:
same split sizes, metric keys and values, validation status, and a registered version on both sides;
and a binary classification recipe over 5,000 training rows, which both rebalance the same way."""

from __future__ import annotations

import math
import shutil
import sys

import pytest

from tests.compat._mlflow import REPO, require_mlflow, run_script
from tests.recipes._make import write_recipe

pytestmark = [pytest.mark.slow, pytest.mark.compat, pytest.mark.timeout(1500)]

# MLflow 2.22.5's split step forks process pools from inside a thread pool (one per class of a
# classification target); a fork taken while another thread holds a lock can hang the child for good
# (seen here: the split step waiting forever on its pool). Its processes start their pools through a
# fork server instead, which forks from a single-threaded process; the split itself is unchanged.
NO_FORK_FROM_THREADS = """\
import multiprocessing
multiprocessing.set_start_method("forkserver", force=True)
"""


def _site(tmp_path, source: str) -> str:
    """A directory holding a ``sitecustomize`` module with ``source``, for a side's PYTHONPATH."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(source)
    return str(site)

SCRIPT = '''
import json, os, sys, warnings
warnings.filterwarnings("ignore")
from {module}.recipes import Recipe
r = Recipe(profile="local")
r.run()
run = r.get_artifact("run")
version = r.get_artifact("registered_model_version")
with open(os.path.join(os.environ["MLFLOW_RECIPES_EXECUTION_DIRECTORY"], "steps", "evaluate", "outputs",
                       "model_validation_status")) as f:
    status = f.read()
emit({{
    "sizes": {{k: len(r.get_artifact(k)) for k in ("training_data", "validation_data", "test_data")}},
    "metrics": run.data.metrics, "params": run.data.params, "status": status,
    "best_parameters": r.get_artifact("best_parameters") if "{module}" == "fluvial" else None,
    "version": [version.name, int(version.version), version.tags],
    "tags": {{k: v for k, v in run.data.tags.items() if k.startswith("mlflow.pipeline") or k == "mlflow.source.type"}},
}})
'''


def test_same_recipe_same_results(tmp_path):
    python = require_mlflow()
    theirs_dir = write_recipe(tmp_path / "theirs" / "recipe")
    ours_dir = tmp_path / "ours" / "recipe"
    shutil.copytree(theirs_dir, ours_dir)
    theirs = run_script(python, SCRIPT.format(module="mlflow"), cwd=theirs_dir, timeout=1400,
                        env={"MLFLOW_RECIPES_EXECUTION_DIRECTORY": str(tmp_path / "theirs" / "exec"),
                             "PYTHONPATH": f"{_site(tmp_path, NO_FORK_FROM_THREADS)}:{REPO}"})
    ours = run_script(sys.executable, SCRIPT.format(module="fluvial"), cwd=ours_dir, timeout=600,
                      env={"MLFLOW_RECIPES_EXECUTION_DIRECTORY": str(tmp_path / "ours" / "exec")})
    assert ours["sizes"] == theirs["sizes"]
    assert ours["status"] == theirs["status"] == "VALIDATED"
    assert ours["version"] == theirs["version"]
    assert ours["tags"] == theirs["tags"]
    assert ours["params"] == theirs["params"]
    assert set(ours["metrics"]) == set(theirs["metrics"])
    for key, value in theirs["metrics"].items():
        assert math.isclose(ours["metrics"][key], value, rel_tol=1e-9, abs_tol=1e-9), (key, ours["metrics"][key], value)


SEED = """\
import numpy
numpy.random.seed(11)  # the rebalancing draws from numpy's global random state, unseeded, on both sides
"""


def test_rebalanced_binary_classification_same_results(tmp_path):
    """8,000 rows with about 16% positives: 5,690 training rows, rebalanced to 909 positives and
    int(909 * 0.7 / 0.3) = 2,121 negatives, with the original class weights given to the estimator.
    Both processes seed numpy at start-up (a sitecustomize module), so both draw the same rows."""
    python = require_mlflow()
    seed = _site(tmp_path, SEED + NO_FORK_FROM_THREADS)
    theirs_dir = write_recipe(tmp_path / "theirs" / "recipe", kind="imbalanced", rows=8000)
    ours_dir = tmp_path / "ours" / "recipe"
    shutil.copytree(theirs_dir, ours_dir)
    results = {}
    for side, exe, root in (("mlflow", python, theirs_dir), ("fluvial", sys.executable, ours_dir)):
        results[side] = run_script(exe, SCRIPT.format(module=side), cwd=root, timeout=1400, env={
            "MLFLOW_RECIPES_EXECUTION_DIRECTORY": str(root.parent / "exec"), "PYTHONPATH": f"{seed}:{REPO}"})
    theirs, ours = results["mlflow"], results["fluvial"]
    assert ours["sizes"] == theirs["sizes"] == {"training_data": 5690, "validation_data": 1139, "test_data": 1171}
    assert ours["metrics"]["training_example_count"] == theirs["metrics"]["training_example_count"] == 909 + 2121
    assert ours["params"] == theirs["params"] and ours["params"]["class_weight"].startswith("{np.int64(0): ")
    assert "# hardcoded parameters \nC: '0.5'\nclass_weight: " in ours["best_parameters"]
    assert ours["status"] == theirs["status"] and ours["version"] == theirs["version"]
    assert set(ours["metrics"]) == set(theirs["metrics"])
    for key, value in theirs["metrics"].items():
        assert math.isclose(ours["metrics"][key], value, rel_tol=1e-9, abs_tol=1e-9), (key, ours["metrics"][key], value)
