"""The train step's options as MLflow 2.22.5 has them: binary rebalancing over 5,000 rows
(``rebalance_training_data``, ``resampling_minority_percentage``), the recipe model's
``predict_prefix`` / ``predict_scores_for_all_classes``, ``calibrate_proba`` and ``using: automl/flaml``.
(Tuning's child runs: test_recipes_steps.py; the same rows as MLflow: test_recipes_vs_mlflow.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fluvial.exceptions import InvalidParameterValue
from fluvial.recipes import Recipe
from fluvial.recipes.context import StepContext
from fluvial.recipes.steps_train import rebalance
from tests.recipes._make import write_recipe


def _ctx(positive_class=1):
    return StepContext("/nowhere", {"recipe": "classification/v1", "target_col": "label",
                                    "positive_class": positive_class, "steps": {}}, "local", "/nowhere")


def _frame(rows, positives):
    return pd.DataFrame({"x": np.arange(rows, dtype=float), "label": [1] * positives + [0] * (rows - positives)})


def test_rebalance_rule():
    df = _frame(6000, 600)
    np.random.seed(3)
    out, weights = rebalance(_ctx(), {}, df)
    assert (out.label == 1).sum() == 600 and (out.label == 0).sum() == int(600 * 0.7 / 0.3)
    assert weights == {0: pytest.approx(6000 / (2 * 5400)), 1: pytest.approx(6000 / (2 * 600))}
    np.random.seed(3)  # pandas' sample on numpy's global random state, like MLflow: seeded, the same rows
    again, _ = rebalance(_ctx(), {}, df)
    assert out.index.tolist() == again.index.tolist() and out.index.tolist() != sorted(out.index)
    out, _ = rebalance(_ctx(), {"resampling_minority_percentage": 0.4}, df)
    assert len(out) == 600 + int(600 * 0.6 / 0.4)
    # off, at or under 5,000 rows, multiclass or regression: untouched, no class weights
    for conf, frame, ctx in (({"rebalance_training_data": False}, df, _ctx()), ({}, _frame(5000, 500), _ctx()),
                             ({}, df, _ctx(positive_class=None))):
        assert rebalance(ctx, conf, frame) == (frame, None)
    # already balanced enough: the rows stay, the estimator still gets the class weights (as in MLflow)
    balanced = _frame(6000, 2000)
    out, weights = rebalance(_ctx(), {}, balanced)
    assert out is balanced and weights is not None
    with pytest.raises(InvalidParameterValue, match="resampling_minority_percentage"):
        rebalance(_ctx(), {"resampling_minority_percentage": 1.5}, df)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    base = tmp_path_factory.mktemp("train")
    root = write_recipe(base / "recipe", kind="imbalanced", rows=8000)
    return root, str(base / "exec")


def _edit(root, old, new):
    path = root / "recipe.yaml"
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.slow
def test_rebalanced_training_prefix_then_calibrated(big, monkeypatch):
    root, exec_dir = big
    monkeypatch.setenv("MLFLOW_RECIPES_EXECUTION_DIRECTORY", exec_dir)
    _edit(root, "    estimator_method: estimator_fn\n", "    estimator_method: estimator_fn\n    predict_prefix: p_\n")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("train")
    split_train = r.get_artifact("training_data")
    positives = int((split_train.label == 1).sum())
    assert len(split_train) > 5000 and positives / len(split_train) < 0.3
    run = r.get_artifact("run")
    assert run.data.metrics["training_example_count"] == positives + int(positives * 0.7 / 0.3)
    assert run.data.metrics["val_example_count"] == len(r.get_artifact("validation_data"))
    assert run.data.params["class_weight"].startswith("{np.int64(0): np.float64(")
    raw = split_train.drop(columns=["label"]).head(5)
    scored = r.get_artifact("model").predict(raw)
    assert list(scored.columns) == ["p_score_0", "p_score_1", "p_score", "p_label"]
    assert scored.p_score.tolist() == pytest.approx(scored[["p_score_0", "p_score_1"]].max(axis=1).tolist())
    predicted = r.get_artifact("predicted_training_data")
    assert len(predicted) == len(split_train) and {"predicted_data", "predicted_score"} <= set(predicted.columns)
    assert "# hardcoded parameters \nC: '0.5'\nclass_weight: " in r.get_artifact("best_parameters")

    _edit(root, "    predict_prefix: p_\n", "    calibrate_proba: sigmoid\n    rebalance_training_data: false\n"
          "    predict_scores_for_all_classes: false\n")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("train")
    run = r.get_artifact("run")
    assert run.data.tags["estimator_class"] == "sklearn.calibration.CalibratedClassifierCV"
    assert run.data.params["method"] == "sigmoid"
    assert run.data.metrics["training_example_count"] == len(split_train)  # not rebalanced
    labels = r.get_artifact("model").predict(raw)
    assert not isinstance(labels, pd.DataFrame) and set(labels) <= {0, 1}


@pytest.mark.slow
def test_automl_flaml(tmp_path, monkeypatch):
    pytest.importorskip("flaml")
    monkeypatch.setenv("MLFLOW_RECIPES_EXECUTION_DIRECTORY", str(tmp_path / "exec"))
    root = write_recipe(tmp_path / "recipe")
    _edit(root, "    using: custom\n    estimator_method: estimator_fn\n",
          "    using: automl/flaml\n    time_budget_secs: 2\n    flaml_params: {estimator_list: [rf], verbose: 0}\n")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("train")
    run = r.get_artifact("run")
    assert run.data.tags["estimator_name"] == "RandomForestRegressor"
    assert r.get_artifact("best_parameters").startswith("# automl parameters \n")
    assert run.data.metrics["val_root_mean_squared_error"] > 0
