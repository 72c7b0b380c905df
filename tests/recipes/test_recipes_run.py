"""Recipes end to end on data made here: regression/v1 and classification/v1 through every training
step, the single training run, outputs and artifact names, the CLI, and cards in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fluvial.recipes import Recipe
from tests.recipes._make import write_recipe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _recipe(root, exec_dir, profile="local") -> Recipe:
    old = os.environ.get("MLFLOW_RECIPES_EXECUTION_DIRECTORY")
    os.environ["MLFLOW_RECIPES_EXECUTION_DIRECTORY"] = str(exec_dir)
    try:
        return Recipe(profile=profile, recipe_root=str(root))
    finally:
        if old is None:
            del os.environ["MLFLOW_RECIPES_EXECUTION_DIRECTORY"]
        else:
            os.environ["MLFLOW_RECIPES_EXECUTION_DIRECTORY"] = old


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    base = tmp_path_factory.mktemp("reg")
    recipe = _recipe(write_recipe(base / "reg_recipe"), base / "exec")
    recipe.run()
    return recipe


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    base = tmp_path_factory.mktemp("cls")
    recipe = _recipe(write_recipe(base / "cls_recipe", "classification", "cls_model"), base / "exec")
    recipe.run()
    return recipe


def test_regression_runs_every_step_into_one_run(regression):
    assert regression.last_run["executed"] == ["ingest", "split", "transform", "train", "evaluate", "register"]
    sizes = {k: len(regression.get_artifact(k)) for k in ("training_data", "validation_data", "test_data")}
    assert sizes == {"training_data": 146, "validation_data": 23, "test_data": 31}  # MLflow 2.22.5's hash buckets
    run = regression.get_artifact("run")
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "RECIPE" and tags["mlflow.pipeline.template.name"] == "regression/v1"
    assert tags["mlflow.pipeline.profile.name"] == "local" and tags["mlflow.pipeline.step.name"] == "register"
    assert tags["estimator_name"] == "LinearRegression"
    for prefix in ("training_", "val_", "test_"):
        assert {f"{prefix}root_mean_squared_error", f"{prefix}weighted_mean_squared_error"} <= set(run.data.metrics)
    from fluvial.tracking.client import MlflowClient

    top = {f.path for f in MlflowClient().list_artifacts(run.info.run_id)}
    assert {"ingest", "split", "transform", "train", "evaluate", "register", "recipe_snapshot"} <= top
    version = regression.get_artifact("registered_model_version")
    assert (version.name, version.version) == ("recipe_model", 1)
    assert version.tags == {"mlflow.source.type": "RECIPE", "mlflow.pipeline.template.name": "regression/v1"}
    assert version.source.endswith(f"{run.info.run_id}/artifacts/train/model")


def test_outputs_and_artifacts(regression):
    out = regression.ctx.outputs
    with open(os.path.join(out("evaluate"), "model_validation_status")) as f:
        assert f.read() == "VALIDATED"
    with open(os.path.join(out("register"), "registered_model_version.json")) as f:
        assert json.load(f) == {"registered_model_name": "recipe_model", "registered_model_version": 1}
    with open(os.path.join(out("train"), "best_parameters.yaml")) as f:
        assert f.read().startswith("# default parameters")
    with open(os.path.join(out("train"), "execution_state.json")) as f:
        state = json.load(f)
    assert state["recipe_step_execution_status"] == "SUCCEEDED" and state["recipe_step_stack_trace"] is None
    model = regression.get_artifact("model")
    test = regression.get_artifact("test_data")
    assert len(model.predict(test.drop(columns=["y"]))) == len(test)
    assert regression.get_artifact("transformer") is not None
    assert regression.get_artifact("ingested_scoring_data") is None
    with pytest.raises(Exception, match="not supported"):
        regression.get_artifact("nope")


def test_binary_classification(classification):
    run = classification.get_artifact("run")
    for key in ("test_f1_score", "test_roc_auc", "val_precision_recall_auc", "training_log_loss"):
        assert key in run.data.metrics
    with open(os.path.join(classification.ctx.outputs("evaluate"), "model_validation_status")) as f:
        assert f.read() == "VALIDATED"
    assert run.data.params["C"] == "0.5"
    assert classification.get_artifact("registered_model_version").version == 1
    train = classification.get_artifact("training_data")
    assert set(train.label) == {0, 1}


def test_cli_run_inspect_get_artifact_clean(regression, tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO, "MLFLOW_RECIPES_EXECUTION_DIRECTORY": regression.exec_dir}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fluvial", "recipes", *args], cwd=regression.root, env=env,
                              capture_output=True, text=True, timeout=120)

    out = cli("run", "--profile", "local")
    assert out.returncode == 0, out.stderr
    assert "ingest, split, transform, train, evaluate, register: No changes. Skipping." in out.stdout
    path = cli("get-artifact", "--artifact", "test_data", "--profile", "local").stdout.strip()
    assert path.endswith("steps/split/outputs/test.parquet") and os.path.exists(path)
    card = cli("inspect", "--step", "evaluate", "--profile", "local").stdout.strip()
    with open(card) as f:
        assert "VALIDATED" in f.read()
    bad = cli("run", "--step", "nope", "--profile", "local")
    assert bad.returncode == 1 and "Unknown step 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli("run")
    assert missing.returncode != 0 and "--profile" in missing.stderr


def test_card_escapes_user_strings_and_opens_in_chromium(tmp_path, browser):
    import numpy as np
    import pandas as pd

    from fluvial.recipes import cards

    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
    df = pd.DataFrame({evil: np.arange(5.0), "s": [evil] * 5})
    html = cards.render(evil, "ingest", {"tables": {evil: df}, "rows": 5}, "SUCCEEDED")
    assert "<script>" not in html and "<img" not in html
    path = tmp_path / "card.html"
    path.write_text(html)
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        assert errors == []
        assert page.evaluate("window.__pwned") is None
        assert evil in page.inner_text("h1")
        assert page.locator("svg").count() >= 1  # the numeric column's histogram
        assert [u for u in requests if not u.startswith("file://")] == []  # opens offline
    finally:
        context.close()
