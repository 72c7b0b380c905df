"""What re-runs after each kind of change: nothing after no change or a touch, exactly the changed step
and what depends on it otherwise; a failed step keeps its previous outputs and says where it failed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fluvial.exceptions import MlflowException
from fluvial.recipes import Recipe
from tests.recipes._make import write_data, write_recipe


@pytest.fixture
def make(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_RECIPES_EXECUTION_DIRECTORY", str(tmp_path / "exec"))
    root = write_recipe(tmp_path / "recipe")
    return lambda: Recipe(profile="local", recipe_root=str(root))


def _ran(recipe: Recipe, step: str | None = None) -> list[str]:
    recipe.run(step)
    return recipe.last_run["executed"]


def test_what_reruns_after_each_kind_of_change(make):
    r = make()
    root = r.root
    assert _ran(r, "transform") == ["ingest", "split", "transform"]
    assert _ran(r, "transform") == []
    later = time.time() + 60
    for base, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(base, name), (later, later))  # touched, not changed
    assert _ran(make(), "transform") == []
    with open(os.path.join(root, "steps", "transform.py"), "a") as f:
        f.write("\n# a comment changes the code's content\n")
    assert _ran(make(), "transform") == ["transform"]
    recipe_yaml = os.path.join(root, "recipe.yaml")
    with open(recipe_yaml) as f:
        text = f.read()
    with open(recipe_yaml, "w") as f:
        f.write(text.replace("default([0.7, 0.15, 0.15])", "default([0.6, 0.2, 0.2])"))
    assert _ran(make(), "transform") == ["split", "transform"]
    write_data(Path(root, "data", "data.parquet"), "regression", rows=220)
    assert _ran(make(), "transform") == ["ingest", "split", "transform"]


def test_changed_criteria_rerun_evaluate_only_and_train_code_reruns_train_onwards(make):
    r = make()
    assert _ran(r) == ["ingest", "split", "transform", "train", "evaluate", "register"]
    with open(os.path.join(r.root, "profiles", "local.yaml"), "a") as f:
        f.write("RMSE_THRESHOLD: 20\n")
    # same validation status and metrics: register's inputs did not change
    assert _ran(make()) == ["evaluate"]
    with open(os.path.join(r.root, "steps", "train.py"), "a") as f:
        f.write("\n# retrain\n")
    assert _ran(make(), "evaluate") == ["train", "evaluate"]
    assert make().get_artifact("registered_model_version").version == 1
    assert _ran(make()) == ["register"]  # a new run_id: a new version
    assert make().get_artifact("registered_model_version").version == 2


def test_failed_step_keeps_previous_outputs_and_says_where(make):
    r = make()
    _ran(r, "transform")
    before = r.get_artifact("transformed_training_data")
    path = os.path.join(r.root, "steps", "transform.py")
    with open(path) as f:
        good = f.read()
    with open(path, "w") as f:
        f.write("def transformer_fn():\n    return 1 / 0\n")
    with pytest.raises(MlflowException) as info:
        make().run("transform")
    message = str(info.value)
    assert "Failed to run step 'transform' of recipe 'recipe'" in message
    assert "steps/transform.py:2: ZeroDivisionError" in message
    after = make()
    assert after.get_artifact("transformed_training_data").equals(before)
    with open(os.path.join(after.ctx.outputs("transform"), "execution_state.json")) as f:
        state = json.load(f)
    assert state["recipe_step_execution_status"] == "FAILED" and "ZeroDivisionError" in state["recipe_step_stack_trace"]
    with open(path, "w") as f:
        f.write(good)
    assert _ran(make(), "transform") == ["transform"]


def test_clean_removes_outputs(make):
    r = make()
    _ran(r, "split")
    r.clean("split")
    assert r.get_artifact("training_data") is None and r.get_artifact("ingested_data") is not None
    assert _ran(make(), "split") == ["split"]
    r.clean()
    assert r.get_artifact("ingested_data") is None
